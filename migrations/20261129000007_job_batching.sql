-- A job keeps the batching it was first published with (--batch-size, --batch-bytes): a rerun
-- with the offset lost and other options cuts the same batches, so the batch-done records
-- (job_id, first_line, last_line) recognise every one of them. Without this a keyless table
-- took the records of a republish with other boundaries a second time. Recorded when the job's
-- first batch is confirmed (until then a batch the broker refuses may be cut smaller); NULL
-- before that, and for a job of an earlier version (its next run records its batching).

-- migrate:up
ALTER TABLE ingest_jobs
    ADD COLUMN batch_size  integer,
    ADD COLUMN batch_bytes bigint;

-- migrate:down
ALTER TABLE ingest_jobs DROP COLUMN batch_bytes, DROP COLUMN batch_size;
