-- The tool's own tables. Until issue 11 this migration also created the example table
-- `customers` (with lineage columns job_id, line_no, loaded_at); it now lives in
-- migrations-examples/ (`make migrate-examples`), so a user's database gets no example table.
-- A database migrated by the earlier version keeps its `customers` table as it is: dbmate does
-- not rerun an applied migration, and the loader keeps lineage in those columns (README,
-- "Lineage").

-- migrate:up
CREATE TABLE ingest_jobs (
    job_id      text PRIMARY KEY,
    dataset     text NOT NULL,
    source      text NOT NULL DEFAULT '',
    first_seen  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ingest_rejects (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id      text NOT NULL,
    line_no     integer NOT NULL,
    reason      text NOT NULL,
    raw         text,
    detail      text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ingest_rejects_one_per_record UNIQUE (job_id, line_no)
);

-- A finished batch: written in the same transaction as its rows and rejects.
CREATE TABLE ingest_batches (
    job_id         text NOT NULL,
    first_line     integer NOT NULL,
    last_line      integer NOT NULL,
    seq            integer NOT NULL,
    records        integer NOT NULL,
    rows_inserted  integer NOT NULL DEFAULT 0,
    rows_replaced  integer NOT NULL DEFAULT 0,
    rows_rejected  integer NOT NULL DEFAULT 0,
    consumer       text NOT NULL DEFAULT '',
    finished_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, first_line, last_line)
);

-- migrate:down
DROP TABLE ingest_batches;
DROP TABLE ingest_rejects;
DROP TABLE ingest_jobs;
