-- A job knows its size. When the producer has every batch of the file confirmed it seals the
-- job (libs/registry.seal): records, batches and bytes of the whole file, sealed_at when it was
-- first sealed. The totals are the file's, not one run's: a run resumed after a crash counts
-- from its saved offset, which carries the counts of the confirmed prefix (libs/offsets.py).
-- Sealing again (a rerun of a complete job) writes nothing. NULL while the job is not sealed.
-- dry_run: a job of `producer --dry-run` (its own job id): its rejects are a report, it loads
-- nothing and no consumer ever sees it.

-- migrate:up
ALTER TABLE ingest_jobs
    ADD COLUMN records    bigint,
    ADD COLUMN batches    integer,
    ADD COLUMN bytes      bigint,
    ADD COLUMN sealed_at  timestamptz,
    ADD COLUMN dry_run    boolean NOT NULL DEFAULT false;

-- migrate:down
ALTER TABLE ingest_jobs
    DROP COLUMN dry_run,
    DROP COLUMN sealed_at,
    DROP COLUMN bytes,
    DROP COLUMN batches,
    DROP COLUMN records;
