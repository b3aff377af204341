-- Datasets travel with their jobs (registered by the producer under the descriptor's
-- fingerprint); a job that stops (e.g. its table changed under it) says why in `error`.
-- The same DDL as the producer branch's registry migration: the merge keeps one of the two.

-- migrate:up
CREATE TABLE IF NOT EXISTS ingest_datasets (
    fingerprint  text PRIMARY KEY,
    name         text NOT NULL,
    descriptor   jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE ingest_jobs ADD COLUMN IF NOT EXISTS fingerprint text,
                        ADD COLUMN IF NOT EXISTS error text;

-- migrate:down
ALTER TABLE ingest_jobs DROP COLUMN IF EXISTS error, DROP COLUMN IF EXISTS fingerprint;
DROP TABLE IF EXISTS ingest_datasets;
