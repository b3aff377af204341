"""Names and numbers shared by the producer and the consumer: one place for magic strings."""

import signal
from typing import Final

# The batch message's schema version; decode also accepts the older ones listed.
# 1: no dataset fingerprint (the consumer resolves the dataset by name);
# 2: x-ingest-fingerprint names the descriptor registered in ingest_datasets.
SCHEMA_VERSION: Final = 2
SCHEMA_VERSIONS: Final = (1, 2)
CONTENT_TYPE: Final = "text/csv"

DEFAULT_AMQP_URL: Final = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_DATABASE_URL: Final = "postgresql://postgres@127.0.0.1:5432/ingest"
DEFAULT_REDIS_URL: Final = "redis://127.0.0.1:6379/0"
DEFAULT_QUEUE: Final = "ingest"
DEFAULT_DATASET: Final = "customers"
DEFAULT_REDIS_PREFIX: Final = "ingest"
DEFAULT_BATCH_SIZE: Final = 20_000  # fastest measured by make bench within the RSS goal (README)
DEFAULT_BATCH_BYTES: Final = 8 << 20  # a batch message's body at most (RabbitMQ refuses > 128 MiB)
MAX_RECORD_BYTES: Final = 16 << 20  # an unclosed quoted field ends its record past this size
MAX_RECORD_LINES: Final = 10_000  # ... or at the end of this many physical lines
MAX_HEADER_BYTES: Final = 1 << 20  # the header's line must end within this many bytes
DEFAULT_DELIVERY_LIMIT: Final = 5
OFFSET_SAVE_INTERVAL_S: Final = 0.2  # the producer saves its resume offset this often
# How long the producer waits while RabbitMQ blocks publishing (a memory or disk alarm): the
# broker is alive and consumers drain it, so this is longer than the outage budget.
DEFAULT_BLOCKED_TIMEOUT_S: Final = 600.0
# The producer's --retry-budget: seconds of retrying an unreachable broker, PostgreSQL or
# remote source before it exits 1.
DEFAULT_RETRY_BUDGET_S: Final = 60.0

DLX_SUFFIX: Final = ".dlx"
DLQ_SUFFIX: Final = ".dlq"

# AMQP header names of a batch message.
H_VERSION: Final = "x-ingest-version"
H_JOB: Final = "x-ingest-job"
H_DATASET: Final = "x-ingest-dataset"
H_SEQ: Final = "x-ingest-seq"
H_FIRST_LINE: Final = "x-ingest-first-line"
H_LAST_LINE: Final = "x-ingest-last-line"
H_RECORDS: Final = "x-ingest-records"
H_COLUMNS: Final = "x-ingest-columns"
H_SOURCE: Final = "x-ingest-source"
H_FINGERPRINT: Final = "x-ingest-fingerprint"  # version 2
# A message that is no batch: ``seal`` (no body) says a job is sealed, so that a consumer
# looks whether it can apply it (atomic jobs) or check its error ratio. Absent: a batch.
H_KIND: Final = "x-ingest-kind"
KIND_SEAL: Final = "seal"
# Set by quorum queues on a redelivery: the failed deliveries so far (absent on the first).
H_DELIVERY_COUNT: Final = "x-delivery-count"

# Exit codes.
EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_TIMEOUT: Final = 124  # `ingest wait`, `producer --wait`: the job was not done in time
EXIT_SIGINT: Final = 130
EXIT_SIGTERM: Final = 143


def exit_code_of_signal(signum: int | None) -> int:
    """The exit code of a run a signal stopped, as a shell reports it: 130 for SIGINT, 143
    for SIGTERM (and any other)."""
    return EXIT_SIGINT if signum == signal.SIGINT else EXIT_SIGTERM

# Fault injection for tests: the process kills itself (SIGKILL) at the named point.
FAULT_ENV: Final = "INGEST_FAULT"
FAULT_AFTER_ENV: Final = "INGEST_FAULT_AFTER"
FAULT_KEY_ENV: Final = "INGEST_FAULT_KEY"

WAIT_INTERVAL_S: Final = 0.5  # `ingest wait`, `producer --wait` read the job's status this often

DEFAULT_APPLY_SCAN_S: Final = 10.0  # consumers look for complete unapplied atomic jobs this often
