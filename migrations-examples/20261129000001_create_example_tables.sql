-- The tables of the bundled example datasets (datasets/*.yaml). Kept apart from migrations/,
-- which holds only the tool's own tables: a user's database gets these only when asked
-- (`make migrate-examples`, wired with issue 11). `customers` may already exist in a database
-- migrated by the previous version (migrations/ created it, with lineage columns): IF NOT
-- EXISTS keeps that table as it is.

-- migrate:up
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
    -- Lineage in the row, the fastest path (README, "Lineage"): which job and line of its
    -- file loaded the row. Optional: without them the tool keeps lineage in ingest_keys.
    job_id      text,
    line_no     integer
);

CREATE TABLE IF NOT EXISTS user_purchase (
    cpf                      varchar(11) PRIMARY KEY,
    private                  boolean NOT NULL,
    incompleto               boolean NOT NULL,
    data_da_ultima_compra    date,
    ticket_medio             numeric(14, 2),
    ticket_da_ultima_compra  numeric(14, 2),
    loja_mais_frequente      varchar(14),
    loja_da_ultima_compra    varchar(14)
);

CREATE TABLE IF NOT EXISTS suppliers (
    id         uuid PRIMARY KEY,
    code       varchar(8) NOT NULL,
    name       varchar(100) NOT NULL,
    active     boolean NOT NULL,
    preferred  boolean NOT NULL,
    blocked    boolean NOT NULL,
    op         char(1) NOT NULL CHECK (op IN ('I', 'U', 'D'))
);

-- migrate:down
DROP TABLE IF EXISTS suppliers;
DROP TABLE IF EXISTS user_purchase;
-- customers is left alone: migrations/ of the previous version may own it.
