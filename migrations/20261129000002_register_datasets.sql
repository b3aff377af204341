-- Datasets travel with their jobs: the producer registers the dataset's descriptor (a
-- Frictionless Tabular Data Resource, libs/schema/descriptor.py) under its fingerprint, and the
-- job under that fingerprint, in one transaction before its first publish. A consumer on any
-- machine rebuilds the dataset from here (libs/registry.py), without local files.

-- migrate:up
CREATE TABLE ingest_datasets (
    fingerprint  text PRIMARY KEY,  -- sha256 hex of the canonical descriptor
    name         text NOT NULL,
    descriptor   jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- fingerprint: NULL for jobs of version 1 messages (resolved by name). error: why the job
-- stopped (e.g. its table changed under it); NULL while it may load. first_seen orders jobs.
ALTER TABLE ingest_jobs
    ADD COLUMN fingerprint text,
    ADD COLUMN error       text;

CREATE INDEX ingest_jobs_first_seen ON ingest_jobs (first_seen);

-- migrate:down
DROP INDEX ingest_jobs_first_seen;
ALTER TABLE ingest_jobs DROP COLUMN error, DROP COLUMN fingerprint;
DROP TABLE ingest_datasets;
