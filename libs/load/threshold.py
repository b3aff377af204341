"""Error thresholds: ``--max-errors N`` and ``--max-error-ratio R`` (recorded on the job).

A job whose rejects (every reason, duplicates included) exceed ``max_errors``, or, once the job
is sealed, ``max_error_ratio`` x its sealed records, fails (``ingest_jobs.error`` starts with
:data:`PREFIX`):

- streaming job: checked in each batch's transaction after its rejects (the job's rejects so
  far: its committed batches and this one) and again after each commit (two batches committing
  at once do not see each other's rejects; the later look does). The batch that crosses
  commits; batches not yet committed are not loaded: each gets its batch-done row with
  ``skipped = records`` and is acked. Which batches those are depends on timing. Rows committed
  before stay in the table.
- atomic job: checked by the apply over every reject of the job, exactly: over the limit,
  nothing is applied (the rejects stay for the report).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Final

from libs.db import Conn

PREFIX: Final = "threshold crossed"
STREAMING_NOTE: Final = ("; rows of batches committed before stay in the table, later batches "
                         "are skipped")
ATOMIC_NOTE: Final = "; nothing of the job was applied"
_REJECTED: Final = "SELECT coalesce(sum(rejected), 0)::bigint FROM ingest_batches WHERE job_id = $1"
_SEALED: Final = "SELECT records FROM ingest_jobs WHERE job_id = $1 AND sealed_at IS NOT NULL"
_FAIL: Final = "UPDATE ingest_jobs SET error = $2 WHERE job_id = $1 AND error IS NULL"


@dataclass(frozen=True)
class Threshold:
    """A job's limits; both None: no threshold."""

    max_errors: int | None = None
    max_error_ratio: float | None = None

    @property
    def active(self) -> bool:
        return self.max_errors is not None or self.max_error_ratio is not None

    def crossed(self, rejects: int, sealed_records: int | None) -> str | None:
        """Why ``rejects`` is over a limit (``sealed_records``: None while not sealed), or None."""
        if self.max_errors is not None and rejects > self.max_errors:
            return f"{PREFIX}: {rejects} rejects > --max-errors {self.max_errors}"
        ratio = self.max_error_ratio
        # The ratio as the decimal the user wrote (0.29 x 100 is 29, not 28.999999999999996).
        allowed = (None if ratio is None or sealed_records is None
                   else Fraction(repr(ratio)) * sealed_records)
        if allowed is not None and rejects > allowed:
            return (f"{PREFIX}: {rejects} rejects > --max-error-ratio {ratio:g} of "
                    f"{sealed_records} records ({float(allowed):g})")
        return None


def is_threshold_error(error: str | None) -> bool:
    return error is not None and error.startswith(PREFIX)


async def check_streaming(conn: Conn, job_id: str, threshold: Threshold) -> str | None:
    """In a streaming batch's transaction (after its counters), or on its own after a commit:
    set the job's error if its rejects so far cross the threshold; the error set, or None."""
    if not threshold.active:
        return None
    rejects = int(await conn.fetchval(_REJECTED, job_id))
    records = await conn.fetchval(_SEALED, job_id)
    why = threshold.crossed(rejects, None if records is None else int(records))
    if why is None:
        return None
    status: str = await conn.execute(_FAIL, job_id, why + STREAMING_NOTE)
    return why if status.endswith(" 1") else None
