-- Why a job's producer stopped before sealing it (issue 13 follow-up). A producer that
-- registered a job and then gave up (the broker or PostgreSQL unavailable past the retry
-- budget), was refused (a broker login, a file changed while it was read) or was stopped by a
-- signal leaves the job `publishing`; without this the reason was only in the producer's
-- output (for an API upload, in the API's job logs). The state stays `publishing`: the job
-- can be resumed (rerun the file, or POST it again: the same job id).
--
-- publish_error: the run's one-line reason, written by the producer at the end of such a run
-- (best effort: PostgreSQL may be what is down) and by the HTTP API when the producer it
-- started exits non-zero after registering the job (the child's last error line).
-- publish_error_at: when it was written. Both are cleared when a later run of the job
-- registers it again (it starts publishing) or seals it.
--
-- The failed_at trigger of 000008 fired only on UPDATE: a job row inserted with its error
-- already set (a consumer that finds no row for its job and stops it) kept failed_at NULL.
-- It now fires on INSERT too.

-- migrate:up
ALTER TABLE ingest_jobs
    ADD COLUMN publish_error    text,
    ADD COLUMN publish_error_at timestamptz;

CREATE OR REPLACE FUNCTION ingest_jobs_failed_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.error IS NOT NULL AND (TG_OP = 'INSERT' OR OLD.error IS NULL) THEN
        NEW.failed_at := now();
    END IF;
    RETURN NEW;
END $$;

DROP TRIGGER ingest_jobs_failed_at ON ingest_jobs;
CREATE TRIGGER ingest_jobs_failed_at BEFORE INSERT OR UPDATE OF error ON ingest_jobs
    FOR EACH ROW EXECUTE FUNCTION ingest_jobs_failed_at();

-- migrate:down
DROP TRIGGER ingest_jobs_failed_at ON ingest_jobs;
CREATE TRIGGER ingest_jobs_failed_at BEFORE UPDATE OF error ON ingest_jobs
    FOR EACH ROW EXECUTE FUNCTION ingest_jobs_failed_at();
ALTER TABLE ingest_jobs
    DROP COLUMN publish_error_at,
    DROP COLUMN publish_error;
