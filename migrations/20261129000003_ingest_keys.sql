-- Lineage of keyed tables that have no job_id/line_no columns of their own: which job and line
-- loaded each key, so that the earliest line of the earliest job wins whatever the commit
-- order (libs/load/insert.py). Written in the batch's transaction. `target` is the table as
-- schema.table (catalog spelling); `key` the key's canonical text (a JSON array for a
-- composite key). Tables with both columns `job_id text` and `line_no integer` keep lineage
-- in the row instead (one COPY, the fastest path): README, "Lineage". Collation "C": byte
-- order, the cheapest index; equality is the same in every deterministic collation.

-- migrate:up
CREATE TABLE ingest_keys (
    target   text COLLATE "C" NOT NULL,
    key      text COLLATE "C" NOT NULL,
    job_id   text NOT NULL,
    line_no  integer NOT NULL,
    PRIMARY KEY (target, key)
);

-- migrate:down
DROP TABLE ingest_keys;
