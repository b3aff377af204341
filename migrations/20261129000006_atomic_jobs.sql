-- Atomic jobs, replace and error thresholds (issue 12, second round).
--
-- ingest_jobs gains the job's options, recorded by the producer when it registers the job (they
-- are part of the job id, so they never change): `atomic` (nothing of the job is visible in the
-- target until one transaction applies every batch; `replace` jobs are always atomic),
-- `max_errors` and `max_error_ratio` (the job fails once its rejects exceed them), `columns`
-- (the file's header as the batches carry it: the apply builds the batches' plan from it) and
-- `applied_at` (when an atomic job was applied; NULL until then, and for a job that failed).
--
-- The stage of an atomic job is a regular (logged: an unlogged table empties in crash recovery)
-- table of schema ingest_stage, created by the producer with the job row and dropped by the
-- apply (libs/load/stage.py).
--
-- ingest_batches.pending: the records of a batch of an atomic job that are staged and wait for
-- the apply (not a counter of the summary: the apply moves each to inserted, updated, deleted,
-- unchanged, superseded, rejected or skipped, so it is 0 once the job is applied or failed).
-- inserted + updated + deleted + unchanged + superseded + rejected + skipped + pending = records.

-- migrate:up
CREATE SCHEMA IF NOT EXISTS ingest_stage;

ALTER TABLE ingest_jobs
    ADD COLUMN atomic          boolean NOT NULL DEFAULT false,
    ADD COLUMN max_errors      bigint,
    ADD COLUMN max_error_ratio double precision,
    ADD COLUMN columns         text[],
    ADD COLUMN applied_at      timestamptz,
    ADD CONSTRAINT ingest_jobs_max_errors_check CHECK (max_errors >= 0),
    ADD CONSTRAINT ingest_jobs_max_error_ratio_check CHECK (max_error_ratio BETWEEN 0 AND 1);

-- The consumers' scan for complete atomic jobs not applied yet.
CREATE INDEX ingest_jobs_unapplied ON ingest_jobs (job_seq)
    WHERE atomic AND applied_at IS NULL AND error IS NULL;

ALTER TABLE ingest_batches ADD COLUMN pending integer NOT NULL DEFAULT 0;

-- migrate:down
ALTER TABLE ingest_batches DROP COLUMN pending;
DROP INDEX ingest_jobs_unapplied;
ALTER TABLE ingest_jobs
    DROP CONSTRAINT ingest_jobs_max_error_ratio_check,
    DROP CONSTRAINT ingest_jobs_max_errors_check,
    DROP COLUMN applied_at,
    DROP COLUMN columns,
    DROP COLUMN max_error_ratio,
    DROP COLUMN max_errors,
    DROP COLUMN atomic;
DROP SCHEMA ingest_stage CASCADE;
