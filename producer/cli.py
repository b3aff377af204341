"""``producer``: a thin click command over ProducerSettings."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from libs import constants as c
from libs.cli import Routed, common_options, fail, print_result, run_main, setup_logging
from libs.errors import TransientError, UserError
from libs.formats import COMPRESSIONS, FORMATS
from libs.settings import (
    DATASETS_DIR_ENV,
    DEFAULT_DATASETS_DIR,
    AmqpSettings,
    PostgresSettings,
    ProducerSettings,
    RedisSettings,
    parse_key,
)
from producer.watch_cli import watch_command

if TYPE_CHECKING:
    from producer.app import Producer

HELP = """Stream a file (CSV, JSON Lines or Parquet; plain, gzip or zstd) into RabbitMQ in batches,
with publisher confirms (--format, --compression: guessed from the name).

`producer watch SOURCE` publishes each complete new file of a folder, an S3 prefix or an FTP
directory instead, each as its own job, with these options: see `producer watch --help`.

What the file loads into: --table T reflects an existing table from PostgreSQL (columns,
types, NOT NULL, the primary key or the only unique key; --key COLS chooses among several),
no dataset file needed; header names match columns exactly or after normalization ('Order Id'
fills order_id). Otherwise --dataset NAME|PATH names a dataset file (a Frictionless Tabular
Data Resource, YAML or JSON; NAME is looked up in --datasets-dir), checked against its live
table. Before the first publish the producer registers the dataset and the job in PostgreSQL,
so consumers load it without local files.

Each batch is a slice of the file (whole records) published as a persistent message to a
durable quorum queue. After confirms, the end of the confirmed prefix is saved in Redis
(keyed by the file's content), so a rerun after a crash continues from there; a file already
fully published publishes nothing. If Redis is unreachable the producer publishes from the
start: republishing is safe, the consumer loads each record once.

Sources: --file is a path or a URL. s3://BUCKET/KEY[?versionId=V] (credentials from
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE; --s3-endpoint-url for another
store); https://HOST/PATH or http:// (a signed URL's query string is shown as ?***);
ftp://[USER[:PASSWORD]@]HOST/PATH (the password is shown as ***). A remote file is read in
ranges: a rerun continues at its saved offset without reading it again from the start. Its
job is the object's identity (S3 version id, or ETag plus size; HTTP ETag or Last-Modified
plus size; FTP modification time plus size): a changed object is a new job, and an object
that changes while it is read stops the run (exit 2). See README, Sources.

While RabbitMQ blocks publishers (a memory or disk alarm) the producer waits, says so, and
carries on when the alarm clears; --blocked-timeout bounds that wait, apart from the retry budget.

Load modes (--mode; default: the dataset's x-ingest.mode, insert unless it says otherwise):

\b
  insert  each key loads once: the first line of the earliest job wins, later ones are
          rejected duplicate_key.
  upsert  each key holds the record of the newest job, within a job its last line.
  merge   the op column says I (insert), U (update) or D (delete), applied as if in job
          then line order; I of an existing key updates, U of a missing key inserts, D of a
          missing key does nothing.
  replace the table ends up holding exactly the job's accepted rows (a full reload; for
          duplicate keys the first line wins). Always atomic.

Upsert and merge need a key. The mode is part of the job: the same file in another mode is
another job.

--atomic makes the job all-or-nothing: batches are staged (a table of schema ingest_stage) and
nothing is visible in the table until every batch is in; then one consumer applies the whole
job in one transaction. --max-errors N and --max-error-ratio R stop a job whose rejects (every
reason, duplicates included) exceed N, or R times the file's records: an atomic job is then
not applied at all; a streaming one keeps the rows committed before and skips the batches
not loaded yet. These options are part of the job too (another option, another job).

Exit codes: 0 all batches confirmed; 1 gave up on the broker or PostgreSQL (retry budget
spent, or blocked longer than --blocked-timeout: rerun to continue); 2 user or configuration
error (missing file, bad header, unknown dataset or table, a dataset that does not fit its
table, bad option, database not migrated, a refusal of the broker or PostgreSQL: login,
permissions, message size); 130/143 stopped by SIGINT/SIGTERM after saving the offset. The
result is one JSON line on stdout.

--wait follows the job once the file is published and the job sealed, until it is loaded
(succeeded, succeeded_with_rejects) or failed / aborted, with a progress bar of the records
loaded on a terminal; the result is then the job's status as one JSON line (as `ingest
status --json`), the publish summary under its "publish" key, and the exit code is that of
`ingest wait`: 0 succeeded (with rejects or not), 1 failed or aborted (or gave up), 124
--wait-timeout passed. A run that did not publish everything is not followed (its summary
and exit code as above).

--dry-run reads and validates the whole file in this process with the consumers' rules and
reasons, finds duplicate keys in the file and against the table, writes the rejects to
--rejects-out and to the dry run's own job in ingest_rejects, and prints the summary with
"dry_run": true. Nothing is published and no table of yours changes."""


@click.command(cls=Routed, help=HELP,
               context_settings={"show_default": True, "max_content_width": 100})
@click.option("--file", "file", envvar="INGEST_FILE", required=True, metavar="PATH|URL",
              help="The file to publish: a path, or a URL (see Sources above). Prefer "
                   "INGEST_FILE for a URL with a secret: options show in the process list.")
@click.option("--s3-endpoint-url", envvar="INGEST_S3_ENDPOINT_URL", default=None,
              metavar="URL", help="An S3-compatible store (MinIO, Ceph...) for s3:// files "
                                  "[default: AWS, or AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL].")
@click.option("--table", envvar="INGEST_TABLE", default=None, metavar="[SCHEMA.]TABLE",
              help="Load into this existing table, reflected from PostgreSQL; overrides "
                   "--dataset.")
@click.option("--key", "key", envvar="INGEST_KEY", default=None, metavar="COLS",
              help="With --table: the key columns (comma-separated) when the table has "
                   "several unique keys.")
@click.option("--datasets-dir", envvar=DATASETS_DIR_ENV, default=DEFAULT_DATASETS_DIR,
              type=click.Path(path_type=Path, file_okay=False),
              help="Where --dataset NAME is looked up (NAME.yaml, NAME.yml or NAME.json).")
@click.option("--database-url", envvar="DATABASE_URL", default=c.DEFAULT_DATABASE_URL,
              help="PostgreSQL URL: the table is read and the job registered there.")
@click.option("--parallel", envvar="PRODUCER_PARALLEL", type=int,
              default=ProducerSettings.parallel,
              help="Publishing tasks, i.e. batches in flight awaiting confirms.")
@click.option("--batch-size", envvar="INGEST_BATCH_SIZE", type=int,
              default=c.DEFAULT_BATCH_SIZE, help="Records per batch (message).")
@click.option("--batch-bytes", envvar="INGEST_BATCH_BYTES", type=int,
              default=c.DEFAULT_BATCH_BYTES,
              help="Bytes per batch at most (a larger record is a batch of its own).")
@click.option("--redis-url", envvar="REDIS_URL", default=c.DEFAULT_REDIS_URL,
              help="Redis URL for the resume offset (redis://, rediss://).")
@click.option("--redis-prefix", envvar="INGEST_REDIS_PREFIX", default=c.DEFAULT_REDIS_PREFIX,
              help="Prefix of the Redis keys.")
@click.option("--retry-budget", envvar="PRODUCER_RETRY_BUDGET", type=float,
              default=c.DEFAULT_RETRY_BUDGET_S,
              help="Seconds to keep retrying an unreachable broker, PostgreSQL or remote "
                   "source before exiting 1.")
@click.option("--publish-timeout", envvar="PRODUCER_PUBLISH_TIMEOUT", type=float,
              default=ProducerSettings.publish_timeout,
              help="Seconds to wait for one confirm before retrying.")
@click.option("--blocked-timeout", envvar="PRODUCER_BLOCKED_TIMEOUT", type=float,
              default=c.DEFAULT_BLOCKED_TIMEOUT_S,
              help="Seconds to wait while RabbitMQ blocks publishing (memory or disk alarm) "
                   "before exiting 1; not counted in the retry budget.")
@click.option("--offset-ttl-days", envvar="PRODUCER_OFFSET_TTL_DAYS", type=int,
              default=ProducerSettings.offset_ttl_days,
              help="How long Redis keeps a file's offset.")
@click.option("--progress/--no-progress", envvar="PRODUCER_PROGRESS", default=True,
              help="Progress bar on a terminal (never in non-TTY output).")
@click.option("--delimiter", envvar="INGEST_DELIMITER", default=None,
              help="Field delimiter, overriding the dataset's: , ; | or tab (also \\t).")
@click.option("--quote-char", envvar="INGEST_QUOTE_CHAR", default=None,
              help="Quote character, overriding the dataset's (default \").")
@click.option("--escape-char", envvar="INGEST_ESCAPE_CHAR", default=None,
              help="Escape character inside quoted fields, MySQL style (e.g. \\ makes \\\" "
                   "a quote); overrides the dataset's (default none).")
@click.option("--format", "file_format", envvar="INGEST_FORMAT", default=None,
              type=click.Choice(FORMATS),
              help="The file's format; guessed from its name when absent: .jsonl/.ndjson "
                   "jsonl, .parquet/.pq parquet, else csv (the dataset's own dialect).")
@click.option("--compression", envvar="INGEST_COMPRESSION", default="auto",
              type=click.Choice(COMPRESSIONS),
              help="auto: gzip for .gz, zstd for .zst, else none. A compressed file is read "
                   "as a stream: a resumed job reads it again from the start to its offset.")
@click.option("--encoding", envvar="INGEST_ENCODING", default=None,
              help="File encoding, overriding the dataset's: utf-8 (with or without BOM), "
                   "utf-8-sig, latin-1, cp1252, utf-16, utf-16le, utf-16be (transcoded).")
@click.option("--no-header", envvar="INGEST_NO_HEADER", is_flag=True, default=False,
              help="The file has no header line: columns are the dataset's fields in order.")
@click.option("--mode", envvar="INGEST_MODE", default=None,
              type=click.Choice(["insert", "upsert", "merge", "replace"]),
              help="Load mode (see above); default: the dataset's x-ingest.mode.")
@click.option("--atomic", envvar="INGEST_ATOMIC", is_flag=True, default=False,
              help="All or nothing: stage the batches, then apply the whole job in one "
                   "transaction once every batch is in (replace always is).")
@click.option("--max-errors", envvar="INGEST_MAX_ERRORS", type=int, default=None,
              metavar="N", help="Fail the job once it has more than N rejects (atomic: "
                                "nothing applied; streaming: later batches skipped).")
@click.option("--max-error-ratio", envvar="INGEST_MAX_ERROR_RATIO", type=float, default=None,
              metavar="R", help="Fail the job once its rejects exceed R (0..1) times the "
                                "file's records (checked once the job is sealed).")
@click.option("--dry-run", envvar="INGEST_DRY_RUN", is_flag=True, default=False,
              help="Validate every record as a load would (rules, duplicate keys in the file "
                   "and against the table) and write the rejects report; publish nothing, "
                   "change no table. Needs neither RabbitMQ nor Redis.")
@click.option("--rejects-out", envvar="INGEST_REJECTS_OUT", default=None,
              type=click.Path(path_type=Path, dir_okay=False),
              help="With --dry-run: the rejects report (CSV) [default: FILE's stem + "
                   ".rejects.csv, next to FILE].")
@click.option("--wait", "wait", envvar="PRODUCER_WAIT", is_flag=True, default=False,
              help="After publishing, follow the job until it is loaded or failed; print its "
                   "status (see above). Ignored with --dry-run.")
@click.option("--wait-timeout", envvar="PRODUCER_WAIT_TIMEOUT", type=float, default=None,
              metavar="S", help="With --wait: stop following after S seconds (exit 124) "
                                "[default: no limit].")
@click.option("--source-name", envvar="INGEST_SOURCE_NAME", default=None, metavar="NAME",
              help="The name recorded as the job's source [default: FILE's name].")
@click.option("--job-file", envvar="INGEST_JOB_FILE", default=None,
              type=click.Path(path_type=Path, dir_okay=False),
              help='Once the job is registered, write {"job_id": ...} (JSON) to this file, '
                   "atomically (the HTTP API waits for it).")
@common_options
def main(**params: Any) -> None:
    # The run's modules (broker, Redis, PostgreSQL, the readers) are imported here, once the
    # options are parsed: `producer --help` and a bad option do without them.
    from producer.app import exit_code

    setup_logging(params["log_level"], params["log_format"])
    try:
        settings = producer_settings(params)
    except UserError as exc:
        fail(str(exc), c.EXIT_USAGE)
    dry_run, wait, wait_timeout = params["dry_run"], params["wait"], params["wait_timeout"]
    if wait_timeout is not None and wait_timeout < 0:
        fail("--wait-timeout must not be negative", c.EXIT_USAGE)
    producer = _producer(settings, dry_run)
    summary = run_main(producer.run, producer.handle_signal)
    if wait and not dry_run and summary.status in ("ok", "already_done") and summary.sealed:
        _follow(settings, summary.as_dict(), wait_timeout)
    print_result(summary.as_dict())
    if summary.status == "gave_up" and dry_run:
        click.echo(f"error: gave up on {producer.gave_up_on}: {summary.message}; rerun the "
                   "dry run", err=True)
    elif summary.status == "gave_up":
        click.echo(f"error: gave up on {producer.gave_up_on}: {summary.rows_confirmed} rows "
                   f"confirmed (up to line {summary.confirmed_up_to_line}); rerun to continue. "
                   f"{summary.message}", err=True)
    elif summary.status == "refused":
        click.echo(f"error: {summary.message}", err=True)
    raise SystemExit(exit_code(summary, producer.signal))


def _producer(settings: ProducerSettings, dry_run: bool) -> Producer:
    """The run: a Producer, or with --dry-run a DryRun (one)."""
    if dry_run:
        from producer.dryrun import DryRun

        return DryRun(settings)
    from producer.app import Producer

    return Producer(settings)


def producer_settings(params: Mapping[str, Any]) -> ProducerSettings:
    """ProducerSettings from the parsed options; ``producer watch`` has no --file (its files
    take its place), --dry-run, --rejects-out, --source-name, --job-file nor --progress."""
    return ProducerSettings(
        file=params["file"],
        amqp=AmqpSettings.from_url(params["amqp_url"], params["queue"],
                                   params["delivery_limit"]),
        redis=RedisSettings.from_url(params["redis_url"], params["redis_prefix"]),
        postgres=PostgresSettings.from_url(params["database_url"]),
        dataset=params["dataset"], table=params["table"], key=parse_key(params["key"]),
        datasets_dir=params["datasets_dir"], parallel=params["parallel"],
        batch_size=params["batch_size"], batch_bytes=params["batch_bytes"],
        retry_budget=params["retry_budget"], publish_timeout=params["publish_timeout"],
        blocked_timeout=params["blocked_timeout"], offset_ttl_days=params["offset_ttl_days"],
        progress=params.get("progress", False), delimiter=params["delimiter"],
        quote_char=params["quote_char"], escape_char=params["escape_char"],
        encoding=params["encoding"], format=params["file_format"],
        compression=params["compression"], no_header=params["no_header"], mode=params["mode"],
        dry_run=params.get("dry_run", False), rejects_out=params.get("rejects_out"),
        atomic=params["atomic"], max_errors=params["max_errors"],
        max_error_ratio=params["max_error_ratio"], source_name=params.get("source_name"),
        job_file=params.get("job_file"), s3_endpoint_url=params["s3_endpoint_url"])


def _follow(settings: ProducerSettings, publish: dict[str, Any], within: float | None) -> None:
    """--wait: follow the job; its status line (the publish summary under "publish") and
    ``ingest wait``'s exit code."""
    from producer.follow import Follow, final_line

    follow = Follow(settings.postgres, publish["job_id"], within, settings.progress)
    try:
        waited = run_main(follow.run, follow.handle_signal)
    except TransientError as exc:
        print_result(publish)
        fail(f"published, but the job's status cannot be read: PostgreSQL unavailable: {exc}",
             c.EXIT_FAILED)
    print_result(final_line(waited, publish))
    raise SystemExit(follow.exit_code(waited))


main.routes["watch"] = watch_command(main, producer_settings)
