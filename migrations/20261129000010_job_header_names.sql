-- The file's header as it spells its names (issue 13 follow-up). `columns` holds the header as
-- the batches carry it: a delimited file's names trimmed and lowercased, so the rejects export
-- (`ingest rejects`, GET /v1/jobs/{id}/rejects) headed its CSV with `country,birth_date,...`
-- for a file whose header read `COUNTRY,Birth_Date, first_name ,...`. A user fixing the rows,
-- dropping the three leading columns and submitting the file again had another header.
--
-- header_names: a delimited file's header names in the file's order as the file spells them
-- (its UTF-8 byte order mark left out, the surrounding spaces too: the producer trims them, so
-- a resubmission loads the same way without them), written when the producer registers the
-- job; a job registered again by a producer that knows them fills them in. NULL for the other
-- layouts (an aligned file's `columns` are its header as spelled already; JSON Lines and
-- Parquet have none of their own) and for jobs registered before: the export then heads the
-- CSV with `columns`, as before.

-- migrate:up
ALTER TABLE ingest_jobs ADD COLUMN header_names text[];

-- migrate:down
ALTER TABLE ingest_jobs DROP COLUMN header_names;
