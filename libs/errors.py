"""One error tree: callers decide by class (transient: retry; permanent: never retry)."""


class IngestError(Exception):
    """Base of every error the pipeline raises on purpose."""


class UserError(IngestError):
    """Something the user can fix (bad option, missing file, bad header): one line, exit 2."""


class FileChanged(UserError):
    """The input file changed while it was being read: the job (its hash) no longer matches
    what would be read on; the run stops with exit 2, its job not marked done."""


class TransientError(IngestError):
    """Worth retrying with backoff: a service is down, a deadlock, a serialization failure."""


class BrokerUnavailable(TransientError):
    """RabbitMQ could not be reached, or a publish was not confirmed in time."""


class SourceInterrupted(TransientError):
    """A remote source's read or metadata request failed in a way worth retrying (connection
    reset or refused, timeout, HTTP 5xx, FTP 4xx); the message is redacted."""


class DatabaseUnavailable(TransientError):
    """PostgreSQL could not be reached, or the transaction must be retried."""


class OffsetStoreUnavailable(TransientError):
    """Redis could not be reached; offsets are a hint, so callers carry on without them."""


class PermanentError(IngestError):
    """Retrying cannot help: the input or the configuration is wrong."""


class PoisonMessage(PermanentError):
    """A message that can never be processed (undecodable, unknown schema version)."""


class ConfigurationError(PermanentError):
    """The environment does not match what the program needs (e.g. database not migrated)."""


class BrokerRefused(ConfigurationError):
    """RabbitMQ refused what retrying cannot fix: a login or virtual host, a permission
    (ACCESS_REFUSED), a missing exchange or queue (NOT_FOUND), or a precondition
    (PRECONDITION_FAILED: a message over its max_message_size, a queue with other settings)."""


class RetryBudgetExhausted(IngestError):
    """A transient condition lasted longer than the configured budget."""


class SourceUnavailable(RetryBudgetExhausted):
    """A remote source kept failing transiently for longer than the retry budget; a rerun
    resumes from the saved offset."""


class BrokerBlocked(RetryBudgetExhausted):
    """RabbitMQ kept publishing blocked (a resource alarm) longer than the blocked timeout."""


class Stopped(IngestError):
    """A signal asked the process to stop while it was waiting, connecting or retrying."""
