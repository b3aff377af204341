-- The `customers` table as migrations/ created it before issue 11 (with the lineage columns
-- job_id, line_no, loaded_at). The test databases are made like a database migrated by that
-- version: the suite then also proves such a database keeps working (in-row lineage). The
-- side-table lineage of a table without those columns is tested with tables of its own
-- (tests/test_load_datasets.py, tests/test_own_tables.py).
CREATE TABLE IF NOT EXISTS customers (
    email       text PRIMARY KEY,
    first_name  text,
    last_name   text,
    phone       text,
    birth_date  date,
    city        text,
    country     text,
    signup_at   timestamptz,
    balance     numeric(14, 2),
    -- lineage: which job and which line of its file the row came from
    job_id      text,
    line_no     integer,
    loaded_at   timestamptz NOT NULL DEFAULT now()
);
