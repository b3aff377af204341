-- Job lifecycle (issue 13): what the status of a job (libs/jobstatus.py) is derived from, with
-- PostgreSQL as the one source of truth. A job's state is not stored: it follows from its row
-- (sealed_at, error, applied_at), its batch-done records (ingest_batches) and its
-- dead-lettered batches (ingest_dead_letters), so no extra write is on a batch's path.
--
-- ingest_jobs gains its source file: source_path (the absolute path the producer read, on its
-- host; the rejects export reads it back for a record it has no bytes of), source_bytes and
-- source_digest (the file's sha256, which the job id derives from), and failed_at, set by a
-- trigger when `error` is first set (a threshold, a table change, an abort, a failed apply).
--
-- ingest_dead_letters: a batch a consumer dead-lettered (poison, permanent error, delivery
-- limit), with why. A consumer on a batch's last allowed delivery records it first, so a
-- batch the broker dead-letters after that consumer died is recorded too; a batch-done record
-- of the same lines (the batch loaded after all, or was replayed from the dead-letter queue)
-- wins over it.
--
-- ingest_rejects.raw_bytes: the record's bytes as they are in the file, when `raw` (text)
-- does not give them back exactly (an undecodable byte, a NUL). NULL otherwise: the bytes are
-- `raw` encoded in the job's encoding; and NULL for a displaced duplicate, whose bytes were
-- in another batch (the export reads them from the source file when it can).
--
-- ingest_idempotency: the HTTP API's Idempotency-Key -> job, so a retried POST returns the
-- same job. `request` is a digest of what was asked (file, dataset, options).

-- migrate:up
ALTER TABLE ingest_jobs
    ADD COLUMN source_path   text,
    ADD COLUMN source_bytes  bigint,
    ADD COLUMN source_digest text,
    ADD COLUMN failed_at     timestamptz;

UPDATE ingest_jobs SET failed_at = first_seen WHERE error IS NOT NULL;

CREATE FUNCTION ingest_jobs_failed_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.error IS NOT NULL AND OLD.error IS NULL THEN
        NEW.failed_at := now();
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER ingest_jobs_failed_at BEFORE UPDATE OF error ON ingest_jobs
    FOR EACH ROW EXECUTE FUNCTION ingest_jobs_failed_at();

CREATE INDEX ingest_jobs_dataset ON ingest_jobs (dataset, job_seq);

CREATE TABLE ingest_dead_letters (
    job_id      text NOT NULL,
    first_line  integer NOT NULL,
    last_line   integer NOT NULL,
    seq         integer NOT NULL,
    records     integer NOT NULL,
    reason      text NOT NULL,
    consumer    text NOT NULL DEFAULT '',
    dead_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, first_line, last_line)
);

ALTER TABLE ingest_rejects ADD COLUMN raw_bytes bytea;

CREATE TABLE ingest_idempotency (
    key         text PRIMARY KEY,
    job_id      text NOT NULL,
    request     text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- migrate:down
DROP TABLE ingest_idempotency;
ALTER TABLE ingest_rejects DROP COLUMN raw_bytes;
DROP TABLE ingest_dead_letters;
DROP INDEX ingest_jobs_dataset;
DROP TRIGGER ingest_jobs_failed_at ON ingest_jobs;
DROP FUNCTION ingest_jobs_failed_at();
ALTER TABLE ingest_jobs
    DROP COLUMN failed_at,
    DROP COLUMN source_digest,
    DROP COLUMN source_bytes,
    DROP COLUMN source_path;
