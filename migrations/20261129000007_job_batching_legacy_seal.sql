-- A job keeps the batching it was first published with (--batch-size, --batch-bytes): a rerun
-- with the offset lost and other options cuts the same batches, so the batch-done records
-- (job_id, first_line, last_line) recognise every one of them. Without this a keyless table
-- took the records of a republish with other boundaries a second time. Recorded when the job's
-- first batch is confirmed (until then a batch the broker refuses may be cut smaller); NULL
-- before that, and for a job of an earlier version (its next run records its batching).

--
-- Jobs of the versions before the seal (ingest_jobs.records NULL) that loaded batches are
-- sealed with what they loaded: a job of another load-mode family may only start on a table
-- once the jobs there are complete (libs/registry.check_mode_order), and these never will be
-- sealed by a producer. A job with no batch at all stays unsealed (`ingest abort` stops it).

-- migrate:up
ALTER TABLE ingest_jobs
    ADD COLUMN batch_size  integer,
    ADD COLUMN batch_bytes bigint;

UPDATE ingest_jobs j SET records = b.records, batches = b.batches, sealed_at = now()
FROM (SELECT job_id, sum(records) AS records, count(*) AS batches
      FROM ingest_batches GROUP BY job_id) b
WHERE j.records IS NULL AND b.job_id = j.job_id AND NOT j.dry_run;

-- migrate:down
ALTER TABLE ingest_jobs DROP COLUMN batch_bytes, DROP COLUMN batch_size;
