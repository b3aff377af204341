"""Typed, frozen settings: one dataclass per process, built from shared pieces."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import unquote, urlsplit, urlunsplit

from libs import constants as c
from libs.errors import UserError
from libs.sources import SourceOptions, check_location, scheme, source_name

_QUEUE_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")

# Where a dataset NAME is looked up (``NAME.yaml``, ``.yml`` or ``.json``): the producer's
# --datasets-dir, else this variable, else this directory (relative to the working directory).
DATASETS_DIR_ENV: Final = "INGEST_DATASETS_DIR"
DEFAULT_DATASETS_DIR: Final = "datasets"
# The consumer's Prometheus endpoint (--metrics-port, --metrics-host): port 0 serves none.
DEFAULT_METRICS_PORT: Final = 0
DEFAULT_METRICS_HOST: Final = "127.0.0.1"
# How the consumer validates a batch (--validation): ``vector`` column-wise with pyarrow, the
# records no column kernel decides going through the row validator (libs/validate_vector.py);
# ``row`` record by record (libs/validate.py), the reference the vector path is tested against.
VALIDATIONS: Final = ("vector", "row")
DEFAULT_VALIDATION: Final = "vector"


def redact_url(url: str) -> str:
    """The URL with its password replaced by ***, safe for logs and error messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def redact_text(text: str, *urls: str) -> str:
    """``text`` with every password of ``urls`` replaced by ***."""
    for url in urls:
        try:
            password = urlsplit(url).password
        except ValueError:
            password = None
        if password:
            text = text.replace(password, "***")
    return text


def _check_scheme(url: str, schemes: tuple[str, ...], what: str) -> str:
    try:
        scheme = urlsplit(url).scheme
    except ValueError as exc:
        raise UserError(f"{what} is not a valid URL: {redact_url(url)}") from exc
    if scheme not in schemes:
        raise UserError(f"{what} must start with {' or '.join(s + '://' for s in schemes)}, "
                        f"got {redact_url(url)}")
    return url


@dataclass(frozen=True)
class AmqpSettings:
    url: str = c.DEFAULT_AMQP_URL
    queue: str = c.DEFAULT_QUEUE
    delivery_limit: int = c.DEFAULT_DELIVERY_LIMIT

    @classmethod
    def from_url(cls, url: str, queue: str = c.DEFAULT_QUEUE,
                 delivery_limit: int = c.DEFAULT_DELIVERY_LIMIT) -> AmqpSettings:
        _check_scheme(url, ("amqp", "amqps"), "AMQP_URL")
        if not _QUEUE_NAME.match(queue):
            raise UserError(f"INGEST_QUEUE {queue!r} may only hold letters, digits and _.:-")
        if delivery_limit < 1:
            raise UserError("delivery limit must be at least 1")
        return cls(url=url, queue=queue, delivery_limit=delivery_limit)

    @property
    def exchange(self) -> str:
        return self.queue

    @property
    def dead_letter_exchange(self) -> str:
        return self.queue + c.DLX_SUFFIX

    @property
    def dead_letter_queue(self) -> str:
        return self.queue + c.DLQ_SUFFIX

    @property
    def safe_url(self) -> str:
        return redact_url(self.url)

    @property
    def user(self) -> str:
        """The login user (RabbitMQ's default, guest, when the URL names none)."""
        return unquote(urlsplit(self.url).username or "guest")

    @property
    def vhost(self) -> str:
        """The virtual host: the URL's path without its leading slash; ``/`` when empty."""
        return unquote(urlsplit(self.url).path[1:]) or "/"


@dataclass(frozen=True)
class PostgresSettings:
    url: str = c.DEFAULT_DATABASE_URL

    @classmethod
    def from_url(cls, url: str) -> PostgresSettings:
        return cls(url=_check_scheme(url, ("postgresql", "postgres"), "DATABASE_URL"))

    @property
    def safe_url(self) -> str:
        return redact_url(self.url)


@dataclass(frozen=True)
class RedisSettings:
    url: str = c.DEFAULT_REDIS_URL
    prefix: str = c.DEFAULT_REDIS_PREFIX

    @classmethod
    def from_url(cls, url: str, prefix: str = c.DEFAULT_REDIS_PREFIX) -> RedisSettings:
        return cls(url=_check_scheme(url, ("redis", "rediss", "unix"), "REDIS_URL"), prefix=prefix)

    @property
    def safe_url(self) -> str:
        return redact_url(self.url)


def parse_key(text: str | None) -> tuple[str, ...]:
    """``--key a,b`` -> ``("a", "b")``; None or blank -> ``()``."""
    if text is None or not text.strip():
        return ()
    parts = tuple(part.strip() for part in text.split(","))
    if not all(parts):
        raise UserError(f"--key {text!r}: expected column names separated by commas")
    if len(set(parts)) != len(parts):
        raise UserError(f"--key {text!r} names a column twice")
    return parts


def check_thresholds(max_errors: int | None, ratio: float | None) -> None:
    """UserError for a negative --max-errors or a --max-error-ratio outside 0..1 (or NaN)."""
    if max_errors is not None and max_errors < 0:
        raise UserError(f"--max-errors must be 0 or more, got {max_errors}")
    if ratio is not None and not 0 <= ratio <= 1:
        raise UserError(f"--max-error-ratio must be between 0 and 1 (a fraction of the job's "
                        f"records: 0.05 is 5%), got {ratio}")


@dataclass(frozen=True)
class ProducerSettings:
    """``dataset`` is a NAME (in ``datasets_dir``) or a PATH; ``table`` (a table name, or
    ``schema.table``) overrides it: the dataset is the reflection of that table, with ``key``
    choosing among several unique keys."""

    file: str  # a path or a URL (libs.sources): never logged as given, it may hold a secret
    amqp: AmqpSettings = field(default_factory=AmqpSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    postgres: PostgresSettings = field(default_factory=PostgresSettings)
    dataset: str = c.DEFAULT_DATASET
    table: str | None = None
    key: tuple[str, ...] = ()
    datasets_dir: Path = Path(DEFAULT_DATASETS_DIR)
    parallel: int = 4
    batch_size: int = c.DEFAULT_BATCH_SIZE
    batch_bytes: int = c.DEFAULT_BATCH_BYTES
    retry_budget: float = c.DEFAULT_RETRY_BUDGET_S
    publish_timeout: float = 10.0
    max_record_bytes: int = c.MAX_RECORD_BYTES
    offset_ttl_days: int = 30
    progress: bool = True
    blocked_timeout: float = c.DEFAULT_BLOCKED_TIMEOUT_S
    # Dialect and encoding overrides of the dataset's (None: the dataset's own).
    delimiter: str | None = None
    quote_char: str | None = None
    escape_char: str | None = None
    encoding: str | None = None
    no_header: bool = False
    # --format (csv, jsonl, parquet; None: guessed from the name, libs.formats.guess_format)
    # and --compression (auto: guessed from the name's suffix, libs.formats.compression).
    format: str | None = None
    compression: str = "auto"
    mode: str | None = None  # the load mode; None: the dataset's x-ingest.mode
    # --dry-run: validate in-process, publish nothing (producer/dryrun.py); the rejects report
    # goes to rejects_out (None: <file's stem>.rejects.csv next to the file).
    dry_run: bool = False
    rejects_out: Path | None = None
    # --atomic (replace is always atomic), --max-errors, --max-error-ratio: recorded on the
    # job, part of its id.
    atomic: bool = False
    max_errors: int | None = None
    max_error_ratio: float | None = None
    # --source-name: the name recorded as the job's source (None: the file's name; the HTTP
    # API passes the client's file name, its upload being stored under a content address).
    # --job-file: once the job is registered, {"job_id": ...} is written there atomically.
    source_name: str | None = None
    job_file: Path | None = None
    # --s3-endpoint-url: an S3-compatible store (MinIO, Ceph, ...) for s3:// files; None: AWS,
    # or botocore's own AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL (libs/sources/s3.py).
    s3_endpoint_url: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "file", str(self.file))  # a Path is taken as its text
        check_location(self.file)
        if self.s3_endpoint_url is not None:
            _check_scheme(self.s3_endpoint_url, ("http", "https"), "--s3-endpoint-url")
        check_thresholds(self.max_errors, self.max_error_ratio)
        self._check_job_naming()
        if self.rejects_out is not None and not self.dry_run:
            raise UserError("--rejects-out names the dry run's report: use it with --dry-run")
        if self.parallel < 1:
            raise UserError("--parallel must be at least 1")
        if self.batch_size < 1:
            raise UserError("--batch-size must be at least 1")
        if self.batch_bytes < 1:
            raise UserError("--batch-bytes must be at least 1")
        if self.retry_budget <= 0 or self.publish_timeout <= 0:
            raise UserError("--retry-budget and --publish-timeout must be positive")
        if self.blocked_timeout <= 0:
            raise UserError("--blocked-timeout must be positive")
        if self.key and not self.table:
            raise UserError("--key chooses the key of a reflected table: use it with --table "
                            "(a dataset file declares its key as schema.primaryKey)")
        if self.table is not None and not self.table.strip():
            raise UserError("--table is empty")

    def _check_job_naming(self) -> None:
        if self.source_name is not None and not self.source_name.strip():
            raise UserError("--source-name is empty")
        if self.job_file is not None and not self.job_file.parent.is_dir():
            raise UserError(f"--job-file {self.job_file}: directory {self.job_file.parent} "
                            "does not exist")

    @property
    def source(self) -> str:
        """The job's source as recorded: --source-name, else the file's name."""
        return self.source_name or source_name(self.file)

    @property
    def source_options(self) -> SourceOptions:
        """How a remote --file is reached: the retry budget and the S3 endpoint."""
        return SourceOptions(retry_budget=self.retry_budget,
                             s3_endpoint_url=self.s3_endpoint_url)


# ``producer watch``: each default once, here (the CLI and the README quote these).
DEFAULT_WATCH_INTERVAL_S: Final = 5.0
# Names a watcher never takes: files still being written under a temporary name, hidden
# files, editor and office lock files. Matched with fnmatch, case-sensitive, on the name.
WATCH_IGNORED: Final = ("*.part", "*.tmp", ".*", "~*")


def is_local(location: str) -> bool:
    """True for a path or a ``file://`` URL; False for a URL another source module reads."""
    return scheme(location) in ("", "file")


@dataclass(frozen=True)
class WatchSettings:
    """``producer watch SOURCE``: ``source`` a folder (or a URL prefix a remote listing
    reads) listed every ``interval`` seconds; ``patterns`` the names taken (fnmatch globs; none:
    every name but WATCH_IGNORED's); ``done_dir`` (local folder) or ``done_prefix`` (remote
    prefix) where a file goes once its job is sealed, ``failed_dir`` where a refused file goes
    (None: they stay). ``producer``: the settings each file's run takes, its ``file`` replaced
    by the file's location (here a placeholder under the source, never opened)."""

    source: str
    producer: ProducerSettings
    interval: float = DEFAULT_WATCH_INTERVAL_S
    patterns: tuple[str, ...] = ()
    done_dir: Path | None = None
    done_prefix: str | None = None
    failed_dir: Path | None = None

    def __post_init__(self) -> None:
        if not self.interval > 0:
            raise UserError(f"--interval must be positive, got {self.interval}")
        if any(not pattern.strip() for pattern in self.patterns):
            raise UserError("--pattern is empty")
        if self.done_dir is not None and self.done_prefix is not None:
            raise UserError("--done-dir and --done-prefix both say where done files go: "
                            "give one")
        local = is_local(self.source)
        if local and self.done_prefix is not None:
            raise UserError("--done-prefix is for a remote source (s3://, ftp://); a local "
                            "folder takes --done-dir")
        if not local and (self.done_dir is not None or self.failed_dir is not None):
            raise UserError("--done-dir and --failed-dir are for a local folder; a remote "
                            "source takes --done-prefix")
        if self.producer.dry_run or self.producer.job_file is not None:
            raise UserError("producer watch publishes: --dry-run and --job-file do not apply")

    @property
    def done_to(self) -> str | None:
        """Where a done file goes: the folder or the prefix (None: it stays)."""
        return str(self.done_dir) if self.done_dir is not None else self.done_prefix


@dataclass(frozen=True)
class ConsumerSettings:
    amqp: AmqpSettings = field(default_factory=AmqpSettings)
    postgres: PostgresSettings = field(default_factory=PostgresSettings)
    # 1: fewer transactions at once on the same keys; dirty 1M files ~4 % faster than 2 in
    # make bench on 2 cores, clean files the same (README, "Performance").
    parallel: int = 1
    burst: bool = False
    retry_timeout: float = 600.0
    shutdown_timeout: float = 30.0
    max_record_bytes: int = c.MAX_RECORD_BYTES
    ready_file: Path | None = None
    # Only these datasets (by name); empty: every dataset. A batch of another dataset goes
    # back to the queue.
    datasets: tuple[str, ...] = ()
    # Where version 1 batches (no fingerprint) find their dataset by name; None: the
    # INGEST_DATASETS_DIR variable, else datasets/ (libs.schema.from_file.datasets_dir).
    datasets_dir: Path | None = None
    # Seconds between two scans for complete atomic jobs not applied yet (also one at start).
    apply_scan: float = c.DEFAULT_APPLY_SCAN_S
    # Serve Prometheus metrics on http://metrics_host:metrics_port/metrics; port 0: off.
    metrics_port: int = DEFAULT_METRICS_PORT
    metrics_host: str = DEFAULT_METRICS_HOST
    validation: str = DEFAULT_VALIDATION

    def __post_init__(self) -> None:
        if self.validation not in VALIDATIONS:
            raise UserError(f"--validation must be one of {', '.join(VALIDATIONS)}, "
                            f"got {self.validation!r}")
        if self.parallel < 1:
            raise UserError("--parallel must be at least 1")
        if not 0 <= self.metrics_port <= 65535:
            raise UserError(f"--metrics-port must be between 1 and 65535 (0: off), "
                            f"got {self.metrics_port}")
        if not self.metrics_host.strip():
            raise UserError("--metrics-host is empty")
        if not self.apply_scan > 0:
            raise UserError("--apply-scan must be positive")
        if self.retry_timeout <= 0 or self.shutdown_timeout <= 0:
            raise UserError("--retry-timeout and --shutdown-timeout must be positive")
        if self.ready_file is not None and not self.ready_file.parent.is_dir():
            raise UserError(f"--ready-file {self.ready_file}: directory "
                            f"{self.ready_file.parent} does not exist")


@dataclass(frozen=True)
class IngestSettings:
    """``ingest`` (the operators' CLI): where the database and the dataset files are."""

    postgres: PostgresSettings = field(default_factory=PostgresSettings)
    # None: $INGEST_DATASETS_DIR, else the default of libs.schema.from_file (datasets/).
    datasets_dir: Path | None = None


# The HTTP API (``ingest api``): each default once, here.
DEFAULT_API_HOST: Final = "127.0.0.1"  # the only address served without INGEST_API_TOKEN
DEFAULT_API_PORT: Final = 8000
DEFAULT_MAX_UPLOAD_BYTES: Final = 1 << 30  # 1 GiB per uploaded (or fetched) file
DEFAULT_UPLOADS_DIR: Final = "volumes/uploads"
DEFAULT_API_JOB_LOGS_DIR: Final = "volumes/logs/api-jobs"
DEFAULT_API_REGISTER_TIMEOUT_S: Final = 120.0


def parse_allow(text: str | None) -> tuple[str, ...]:
    """``INGEST_URL_ALLOW`` -> its hosts, lowercased: ``"a.com, *.b.org,*"`` ->
    ``("a.com", "*.b.org", "*")``; None or blank -> ``()`` (no URL is fetched)."""
    if text is None:
        return ()
    hosts = tuple(part.strip().lower().rstrip(".") for part in text.split(","))
    return tuple(host for host in hosts if host)


@dataclass(frozen=True)
class ApiSettings:
    """``ingest api``: where it listens, who may call it (``token``: the bearer token; None
    serves 127.0.0.1 only), what it accepts (uploads up to ``max_upload_bytes``, URLs of the
    ``url_allow`` hosts), where uploads and the producers' logs go, and the services the
    producers it spawns use. UserError for a value it cannot serve with."""

    amqp: AmqpSettings = field(default_factory=AmqpSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    postgres: PostgresSettings = field(default_factory=PostgresSettings)
    host: str = DEFAULT_API_HOST
    port: int = DEFAULT_API_PORT
    token: str | None = field(default=None, repr=False)
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    url_allow: tuple[str, ...] = ()
    uploads_dir: Path = Path(DEFAULT_UPLOADS_DIR)
    job_logs_dir: Path = Path(DEFAULT_API_JOB_LOGS_DIR)
    datasets_dir: Path = Path(DEFAULT_DATASETS_DIR)  # --dataset NAMEs: NAME.yaml there
    # Seconds a POST waits for its producer to register the job.
    register_timeout: float = DEFAULT_API_REGISTER_TIMEOUT_S

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise UserError(f"--port must be 1..65535, got {self.port}")
        if self.max_upload_bytes < 1:
            raise UserError("--max-upload-bytes must be at least 1")
        if self.register_timeout <= 0:
            raise UserError("the register timeout must be positive")
        if self.token is not None and len(self.token) < 16:
            raise UserError("INGEST_API_TOKEN must be at least 16 characters")
        if self.token is None and self.host != DEFAULT_API_HOST:
            raise UserError(f"INGEST_API_TOKEN is not set: without a token the API serves "
                            f"{DEFAULT_API_HOST} only, not {self.host}")
