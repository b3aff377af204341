"""``ingest``: thin click commands for operators over ``ingest.app``."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click

from ingest import app, render
from libs import constants as c
from libs.cli import Group, common_options, fail, print_result, run_main, setup_logging
from libs.errors import PermanentError, TransientError, UserError
from libs.jobstatus import DEFAULT_LIMIT, STATES
from libs.schema import from_file
from libs.settings import (
    DATASETS_DIR_ENV,
    DEFAULT_API_HOST,
    DEFAULT_API_JOB_LOGS_DIR,
    DEFAULT_API_PORT,
    DEFAULT_DATASETS_DIR,
    DEFAULT_MAX_UPLOAD_BYTES,
    DEFAULT_UPLOADS_DIR,
    AmqpSettings,
    ApiSettings,
    IngestSettings,
    PostgresSettings,
    RedisSettings,
    parse_allow,
)

HELP = """Operators' tools: describe a table, list dataset files, lineage SQL, follow and stop
jobs, export a job's rejects.

A dataset file is a Frictionless Tabular Data Resource (https://specs.frictionlessdata.io/)
with the target table and load options under x-ingest; `producer --dataset NAME` reads
datasets/NAME.yaml (or INGEST_DATASETS_DIR). A job goes publishing -> loading -> (applying,
atomic jobs) -> succeeded | succeeded_with_rejects | failed | aborted: `ingest jobs`,
`ingest status JOB`, `ingest wait JOB`. Exit codes: 0 done; 1 the database could not be
reached, `ingest datasets` found a broken file, or the job `ingest wait` followed failed;
2 user error (bad option, unknown table or job, file exists): one line on stderr, no
traceback; 124 `ingest wait` timed out."""

T = TypeVar("T")
CONTEXT = {"show_default": True, "max_content_width": 100}


def _run(work: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, with the project's errors as one line and an exit code."""
    try:
        return asyncio.run(work)
    except (UserError, PermanentError) as exc:
        fail(str(exc), c.EXIT_USAGE)
    except TransientError as exc:
        fail(f"PostgreSQL unavailable: {exc}", c.EXIT_FAILED)
    raise AssertionError("unreachable")


def _settings(database_url: str) -> IngestSettings:
    try:
        return IngestSettings(postgres=PostgresSettings.from_url(database_url))
    except UserError as exc:
        fail(str(exc), c.EXIT_USAGE)
    raise AssertionError("unreachable")


def _key(text: str | None) -> tuple[str, ...]:
    try:
        return app.parse_key(text)
    except UserError as exc:
        fail(str(exc), c.EXIT_USAGE)
    raise AssertionError("unreachable")


database_url_option = click.option(
    "--database-url", envvar="DATABASE_URL", default=c.DEFAULT_DATABASE_URL,
    help="PostgreSQL URL (postgresql://).")
table_option = click.option("--table", required=True,
                            help="Table name as stored in the catalog (capitals, accents and "
                                 "spaces as they are).")
schema_option = click.option("--db-schema", default=None,
                             help="PostgreSQL schema of the table [default: the search_path].")


@click.group(cls=Group, help=HELP, context_settings=CONTEXT)
def main() -> None:
    pass


@main.group(help="Dataset files from tables, and the lineage columns of a table.",
            context_settings=CONTEXT)
def schema() -> None:
    pass


@schema.command("init", context_settings=CONTEXT, help="""Describe a live table as a dataset file.

Reflects TABLE (columns, types, NOT NULL, the primary key or the only unique key) and writes
its Tabular Data Resource: to --out (YAML, or JSON for a .json name; an existing file is kept
unless --force), else to stdout. The file is loaded back before it is kept, so it always
loads; a table whose names a file may not use (capitals, accents, spaces) is refused with a
hint: such a table loads without a file (producer --table). With --out the result is one JSON
line on stdout.""")
@table_option
@schema_option
@click.option("--key", default=None,
              help="Key columns, comma-separated, when the table has several unique keys.")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="File to write, e.g. datasets/orders.yaml [default: stdout].")
@click.option("--force", is_flag=True, help="Overwrite --out if it exists.")
@database_url_option
def schema_init(table: str, db_schema: str | None, key: str | None, out: Path | None,
                force: bool, database_url: str) -> None:
    settings = _settings(database_url)
    dataset, text = _run(app.schema_init(settings, table, db_schema, _key(key), out, force))
    if out is None:
        sys.stdout.write(text)
        return
    print_result({"status": "written", "file": str(out), "dataset": dataset.name,
                  "table": dataset.table.name, "key": list(dataset.primary_key),
                  "fields": len(dataset.fields)})


@schema.command("lineage", context_settings=CONTEXT, help="""Print the SQL for lineage in the row.

Prints (never runs) the ALTER TABLE that adds job_id text and line_no integer to TABLE, with
what it costs and saves: with both columns the tool writes each row's job and line in the row
(one COPY); without them, in its side table ingest_keys (a second index write per row).""")
@table_option
@schema_option
@database_url_option
def schema_lineage(table: str, db_schema: str | None, database_url: str) -> None:
    sys.stdout.write(_run(app.schema_lineage(_settings(database_url), table, db_schema)))


@main.command("datasets", context_settings=CONTEXT, help="""List the dataset files.

Each file of the datasets directory, loaded and checked: NAME (for producer --dataset), file,
table, key, mode, layout; a file that does not load is listed with its error and the exit code
is 1. --json prints one JSON line: a list of objects.""")
@click.option("--datasets-dir", envvar=DATASETS_DIR_ENV,
              type=click.Path(path_type=Path, file_okay=False),
              default=DEFAULT_DATASETS_DIR, help="Where dataset files are.")
@click.option("--json", "as_json", is_flag=True, help="One JSON line instead of a table.")
def datasets(datasets_dir: Path, as_json: bool) -> None:
    settings = IngestSettings(datasets_dir=datasets_dir)
    try:
        entries = app.datasets(settings)
    except UserError as exc:
        fail(str(exc), c.EXIT_USAGE)
    rows = [entry.as_dict() for entry in entries]
    if as_json:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False) + "\n")
    else:
        _print_table(rows, from_file.datasets_dir(settings.datasets_dir))
    if any("error" in row for row in rows):
        sys.exit(c.EXIT_FAILED)


def _print_table(rows: list[dict[str, Any]], folder: Path) -> None:
    if not rows:
        click.echo(f"no dataset files in {folder}/")
        return
    header = ("NAME", "TABLE", "KEY", "MODE", "LAYOUT", "FILE")
    lines = [header] + [
        (row["name"], "-", "-", "-", "-", f"{row['file']}: BROKEN: {row['error']}")
        if "error" in row else
        (row["name"], row["table"], ",".join(row["key"]) or "-", row["mode"], row["layout"],
         row["file"])
        for row in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    for line in lines:
        cells = [cell.ljust(width) for cell, width in zip(line, widths, strict=False)]
        click.echo("  ".join([*cells, line[-1]]))


@main.command("abort", context_settings=CONTEXT, help="""Stop a job: JOB_ID's batches not loaded
yet are skipped (counted skipped), an atomic job is not applied; rows committed before stay.

Use it for a job that will never finish (its file is gone), which would otherwise keep jobs of
another load mode off its table. Prints one JSON line: {"job_id", "aborted"} (false when the
job had stopped already).""")
@click.argument("job_id")
@database_url_option
def abort(job_id: str, database_url: str) -> None:
    done = _run(app.abort(_settings(database_url), job_id))
    print_result({"job_id": job_id, "aborted": done})


@main.command("rejects", context_settings=CONTEXT, help="""Export a job's rejects: the failures
dataset, in line order, each record exactly as it was in the file.

--format csv: the header _line,_reason,_detail then the job's header columns, then one line
per reject: its line number, reason and detail, then the record's bytes as they came (a wrong
field count, odd quoting or undecodable bytes kept), in the dataset's own delimiter, quote
and encoding. Fix the rows, drop the three leading columns and load the file again under the
same dataset: it is a new job. A header-less dataset gets no header line. An aligned
(fixed-width) dataset gets an aligned file: the three leading columns padded to one width,
then the original header and lines; drop them by cutting that many characters.

--format jsonl: one JSON object per reject: line, reason, detail, raw (text), raw_base64
(the file's bytes, only when raw does not give them back), fields (header -> value, or null).

A displaced duplicate (insert mode: a record that held a key until an earlier line took it)
or a record rejected by an atomic job's apply kept no bytes: they are read again from the
job's source file (as the producer recorded it, or --source) if its sha256 is the job's;
otherwise the record is exported as rebuilt from the table and _detail says so.

Output to stdout, or to --out (written whole, then renamed; an existing file is kept unless
--force; then one JSON line on stdout). Exit 2 for an unknown job.""")
@click.argument("job_id")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv",
              help="csv (the job's own layout, dialect and encoding) or jsonl (UTF-8).")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="File to write [default: stdout].")
@click.option("--source", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="The job's file, where the job does not record it (checked by sha256).")
@click.option("--force", is_flag=True, help="Overwrite --out if it exists.")
@database_url_option
def rejects(job_id: str, fmt: str, out: Path | None, source: Path | None, force: bool,
            database_url: str) -> None:
    setup_logging("warning", "auto")
    try:
        size = _run(app.export_rejects(_settings(database_url), job_id,
                                       fmt,  # type: ignore[arg-type]
                                       out, sys.stdout.buffer, source=source, force=force))
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(c.EXIT_FAILED)
    if out is not None:
        print_result({"status": "written", "job_id": job_id, "format": fmt, "file": str(out),
                      "bytes": size})


job_argument = click.argument("job_id", metavar="JOB")
json_option = click.option("--json", "as_json", is_flag=True,
                           help="One JSON line (for scripts) instead of a table.")


@main.command("jobs", context_settings=CONTEXT, help="""List jobs, newest first.

Each job with its state (publishing, loading, applying, succeeded, succeeded_with_rejects,
failed, aborted), dataset, mode, records loaded of its total, rejects and creation time.
Dry runs are not listed (`ingest status JOB` shows one). --json prints one JSON line: a list
of the objects `ingest status --json` prints.""")
@click.option("--state", type=click.Choice(STATES), default=None, help="Only jobs in this state.")
@click.option("--dataset", default=None, help="Only jobs of this dataset.")
@click.option("--limit", type=int, default=DEFAULT_LIMIT, help="At most this many jobs.")
@json_option
@database_url_option
def jobs(state: str | None, dataset: str | None, limit: int, as_json: bool,
         database_url: str) -> None:
    found = _run(app.jobs(_settings(database_url), state, dataset, limit))
    rows = [status.as_dict() for status in found]
    if as_json:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False) + "\n")
    else:
        click.echo(render.jobs_text(rows))


@main.command("status", context_settings=CONTEXT, help="""Show what happened to a job.

JOB's state, source file, totals (records, batches, bytes), counts (inserted, updated,
deleted, unchanged, superseded, rejected, skipped, pending, dead_lettered, unprocessed =
dead-lettered or not yet loaded), rejects by reason, records loaded of the total, times,
rows/s, the ETA while loading and the error that failed it; --parts adds each batch (done or
failed, with its counts). All derived from PostgreSQL. --json prints one JSON line (README,
"Job status"). An unknown job is exit 2.""")
@job_argument
@json_option
@click.option("--parts", is_flag=True, help="List each batch (done or dead-lettered).")
@database_url_option
def status(job_id: str, as_json: bool, parts: bool, database_url: str) -> None:
    found = _run(app.job_status(_settings(database_url), job_id, parts)).as_dict()
    if as_json:
        print_result(found)
    else:
        click.echo(render.status_text(found))


@main.command("wait", context_settings=CONTEXT, help="""Wait until a job ends.

Reads JOB's status every --interval seconds until it is succeeded, succeeded_with_rejects,
failed or aborted, then prints it as one JSON line (as `ingest status --json`). Exit codes:
0 succeeded or succeeded_with_rejects; 1 failed or aborted (or PostgreSQL unreachable at
first); 124 --timeout passed first (the status then is printed too); 2 unknown job;
130/143 stopped by SIGINT/SIGTERM. PostgreSQL going away while waiting (a restart) is
retried until the timeout.""")
@job_argument
@click.option("--timeout", type=float, default=None, metavar="S",
              help="Give up after S seconds (exit 124) [default: no limit].")
@click.option("--interval", type=float, default=c.WAIT_INTERVAL_S, metavar="S",
              help="Seconds between two reads of the status.")
@database_url_option
def wait(job_id: str, timeout: float | None, interval: float, database_url: str) -> None:
    settings = _settings(database_url)
    stop, signals = asyncio.Event(), []

    def on_signal(signum: int) -> None:
        signals.append(signum)
        stop.set()

    try:
        waited = run_main(lambda: app.wait(settings, job_id, timeout, interval, stop),
                          on_signal)
    except TransientError as exc:
        fail(f"PostgreSQL unavailable: {exc}", c.EXIT_FAILED)
    print_result(waited.status.as_dict())
    if waited.outcome == "stopped":
        sys.exit(c.exit_code_of_signal(signals[0]))
    sys.exit(waited.exit_code())


@main.command("api", context_settings=CONTEXT, help="""Serve the HTTP API (FastAPI, uvicorn).

POST /v1/jobs takes a file (multipart: file, dataset, mode and the producer's options; or JSON
with a url) and publishes it with the producer; GET /v1/jobs, /v1/jobs/{id}, its rejects, abort;
/healthz, /readyz, /metrics; the schema at /openapi.json. Every route but /healthz, /readyz and
the web page (/, /static/) requires Authorization: Bearer $INGEST_API_TOKEN; without a token the
API serves 127.0.0.1 only. Uploads are stored under --uploads-dir by content (sha256); each
job's producer logs to --job-logs-dir. Stops on SIGINT/SIGTERM after waiting up to 30 s for the
producers it started; a producer still running then keeps running on a host, but dies with a
container (its job stays publishing: POST the file again to resume it).""")
@click.option("--host", envvar="INGEST_API_HOST", default=DEFAULT_API_HOST,
              help="Address to listen on (anything but 127.0.0.1 needs INGEST_API_TOKEN).")
@click.option("--port", envvar="INGEST_API_PORT", type=int, default=DEFAULT_API_PORT)
@click.option("--token", envvar="INGEST_API_TOKEN", default=None, show_default=False,
              help="Bearer token (16+ characters). Set INGEST_API_TOKEN rather than this "
                   "option: a command line is visible to every user of the host.")
@click.option("--max-upload-bytes", envvar="INGEST_MAX_UPLOAD_BYTES", type=int,
              default=DEFAULT_MAX_UPLOAD_BYTES, help="Largest file accepted (upload or URL).")
@click.option("--url-allow", envvar="INGEST_URL_ALLOW", default="",
              help="Hosts URLs may name, comma-separated: host or IP (any address), "
                   "*.domain or * (public addresses only), for http(s):// and ftp://; "
                   "s3://BUCKET (or s3://*) for s3:// URLs. Empty: no URL is fetched.")
@click.option("--uploads-dir", envvar="INGEST_UPLOADS_DIR", default=DEFAULT_UPLOADS_DIR,
              type=click.Path(path_type=Path, file_okay=False))
@click.option("--job-logs-dir", envvar="INGEST_API_JOB_LOGS_DIR",
              default=DEFAULT_API_JOB_LOGS_DIR, type=click.Path(path_type=Path, file_okay=False))
@click.option("--datasets-dir", envvar=DATASETS_DIR_ENV, default=DEFAULT_DATASETS_DIR,
              type=click.Path(path_type=Path, file_okay=False),
              help="Where a request's dataset NAME is looked up.")
@database_url_option
@click.option("--redis-url", envvar="REDIS_URL", default=c.DEFAULT_REDIS_URL,
              help="Redis URL (the producers' resume offsets).")
@click.option("--redis-prefix", envvar="INGEST_REDIS_PREFIX", default=c.DEFAULT_REDIS_PREFIX)
@common_options(dataset=False)
def api(host: str, port: int, token: str | None, max_upload_bytes: int, url_allow: str,
        uploads_dir: Path, job_logs_dir: Path, datasets_dir: Path, database_url: str,
        redis_url: str, redis_prefix: str, amqp_url: str, queue: str, delivery_limit: int,
        log_level: str, log_format: str) -> None:
    setup_logging(log_level, log_format)
    try:
        settings = ApiSettings(
            amqp=AmqpSettings.from_url(amqp_url, queue, delivery_limit),
            redis=RedisSettings.from_url(redis_url, redis_prefix),
            postgres=PostgresSettings.from_url(database_url), host=host, port=port,
            token=token or None, max_upload_bytes=max_upload_bytes,
            url_allow=parse_allow(url_allow), uploads_dir=uploads_dir,
            job_logs_dir=job_logs_dir, datasets_dir=datasets_dir)
    except UserError as exc:
        fail(str(exc), c.EXIT_USAGE)
    from api.server import serve  # FastAPI and uvicorn load only for this command

    serve(settings)
