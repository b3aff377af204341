"""``consumer``: a thin click command over ConsumerSettings."""

from __future__ import annotations

from pathlib import Path

import click

from libs import constants as c
from libs.cli import Command, common_options, fail, print_result, run_main, setup_logging
from libs.errors import UserError
from libs.settings import (
    DATASETS_DIR_ENV,
    DEFAULT_METRICS_HOST,
    DEFAULT_METRICS_PORT,
    DEFAULT_VALIDATION,
    VALIDATIONS,
    AmqpSettings,
    ConsumerSettings,
    PostgresSettings,
)

HELP = """Load batches from RabbitMQ into PostgreSQL with exactly-once effect.

Each batch names its dataset (registered in ingest_datasets by the producer, or by name in
the datasets directory); one consumer loads every dataset unless --dataset narrows it. Each
batch is validated against the dataset's rules (column-wise, see --validation); valid rows
go to the dataset's table, bad records to ingest_rejects with their line and reason, and the
batch is recorded in ingest_batches, all in one transaction. The message is acked only after
COMMIT; a batch already finished is acked without writing. Run as many consumers as you
like, on as many machines.

Runs until SIGTERM/SIGINT (then finishes in-flight batches and exits 0), or with --burst until
the queue is empty. The result is one JSON line on stdout; its "status" is "ok", "failed", or
"dead_lettered" when a message that no consumer can process (undecodable, unknown version)
went to the dead-letter queue (bad records never do: they are rejects). Exit codes: 0 stopped
cleanly; 1 failed, or --burst and something was dead-lettered; 2 user or configuration error
(bad option, database not migrated, a login or permission refused by PostgreSQL or RabbitMQ):
one line, no traceback."""


@click.command(cls=Command, help=HELP,
               context_settings={"show_default": True, "max_content_width": 100})
@click.option("--parallel", envvar="CONSUMER_PARALLEL", type=int,
              default=ConsumerSettings.parallel,
              help="Batches handled at once (and the prefetch count). 1 was fastest with the "
                   "database on the same 2 cores (make bench); more can help where it is "
                   "across a network.")
@click.option("--burst/--no-burst", envvar="CONSUMER_BURST", default=False,
              help="Exit once the queue is empty and nothing is in flight (1 if "
                   "anything was dead-lettered).")
@click.option("--database-url", envvar="DATABASE_URL", default=c.DEFAULT_DATABASE_URL,
              help="PostgreSQL URL.")
@click.option("--retry-timeout", envvar="CONSUMER_RETRY_TIMEOUT", type=float,
              default=ConsumerSettings.retry_timeout,
              help="Seconds to retry a batch while PostgreSQL is unavailable before requeueing "
                   "it (keep below RabbitMQ's consumer_timeout, 30 min).")
@click.option("--shutdown-timeout", envvar="CONSUMER_SHUTDOWN_TIMEOUT", type=float,
              default=ConsumerSettings.shutdown_timeout,
              help="Seconds in-flight batches get to finish after a signal.")
@click.option("--ready-file", envvar="CONSUMER_READY_FILE", default=None,
              type=click.Path(path_type=Path, dir_okay=False),
              help="Create this file once connected to PostgreSQL and RabbitMQ and consuming; "
                   "removed on stop (`make start` waits for it).")
@click.option("--dataset", "datasets", envvar="CONSUMER_DATASETS", default="",
              help="Load only these datasets (names, comma-separated); a batch of another "
                   "dataset goes back to the queue. Default: every dataset.")
@click.option("--datasets-dir", envvar=DATASETS_DIR_ENV, default=None,
              type=click.Path(path_type=Path, file_okay=False),
              help="Where batches without a registered dataset (message version 1) find "
                   "their dataset by name. Default: datasets/.")
@click.option("--apply-scan", envvar="CONSUMER_APPLY_SCAN", type=float,
              default=c.DEFAULT_APPLY_SCAN_S,
              help="Seconds between two looks for complete atomic jobs not applied yet (a "
                   "crash between a job's last batch and its apply); also one at start.")
@click.option("--metrics-port", envvar="CONSUMER_METRICS_PORT", type=int,
              default=DEFAULT_METRICS_PORT,
              help="Serve Prometheus metrics on http://HOST:PORT/metrics (README, \"Metrics\"); "
                   "0: off. Each consumer on a host needs its own port; in use: exit 2.")
@click.option("--metrics-host", envvar="CONSUMER_METRICS_HOST", default=DEFAULT_METRICS_HOST,
              help="The address the metrics endpoint binds to (0.0.0.0: every interface).")
@click.option("--validation", envvar="CONSUMER_VALIDATION", default=DEFAULT_VALIDATION,
              type=click.Choice(VALIDATIONS),
              help="How batches are validated: vector (column-wise with pyarrow; the records "
                   "no column kernel decides go through the row validator) or row (record by "
                   "record). Same rows, rejects and COPY data either way.")
@common_options(dataset=False)
def main(parallel: int, burst: bool, database_url: str, retry_timeout: float,
         shutdown_timeout: float, ready_file: Path | None, datasets: str,
         datasets_dir: Path | None, apply_scan: float, metrics_port: int, metrics_host: str,
         validation: str, amqp_url: str, queue: str, delivery_limit: int, log_level: str,
         log_format: str) -> None:
    # The run's modules (the worker: broker, PostgreSQL, validators, pyarrow; the metrics
    # server) are imported once the options are parsed: --help and a bad option do without.
    from consumer.metrics import serve
    from consumer.worker import Worker

    setup_logging(log_level, log_format)
    try:
        settings = ConsumerSettings(
            amqp=AmqpSettings.from_url(amqp_url, queue, delivery_limit),
            postgres=PostgresSettings.from_url(database_url),
            parallel=parallel, burst=burst, retry_timeout=retry_timeout,
            shutdown_timeout=shutdown_timeout, ready_file=ready_file,
            datasets=tuple(name.strip() for name in datasets.split(",") if name.strip()),
            datasets_dir=datasets_dir, apply_scan=apply_scan, metrics_port=metrics_port,
            metrics_host=metrics_host, validation=validation)
        worker = Worker(settings)
        stop_metrics = serve(worker.stats.metrics, settings.metrics_host, settings.metrics_port)
    except UserError as exc:
        fail(str(exc), c.EXIT_USAGE)
    try:
        stats = run_main(worker.main, worker.handle_signal)
    finally:  # also after a failure: the error line is out, the counters follow
        stop_metrics()
        print_result(worker.stats.as_dict())
    clean = stats.status == "ok" or (stats.status == "dead_lettered" and not burst)
    raise SystemExit(c.EXIT_OK if clean else c.EXIT_FAILED)
