"""What happened to a job: its state, totals, counts, progress and times, derived from
PostgreSQL (the one source of truth; nothing of it is stored).

A job's state follows from its row of ``ingest_jobs`` (``sealed_at``, ``error``,
``applied_at``), its batch-done records (``ingest_batches``) and its dead-lettered batches
(``ingest_dead_letters``, minus those with a batch-done record of the same lines), in this
order (:data:`STATE_SQL`):

- ``aborted``: ``error`` is :data:`libs.registry.ABORTED` (``ingest abort``);
- ``failed``: another ``error`` (a threshold, a table change, a failed apply), or the job is
  sealed, every batch is done or dead-lettered and at least one is dead-lettered;
- ``publishing``: not sealed yet;
- ``loading``: sealed, some batch neither done nor dead-lettered;
- ``applying``: atomic, every batch done, not applied yet;
- ``succeeded`` / ``succeeded_with_rejects``: every batch done (atomic: applied), with no
  reject / with some.

Every read is a few aggregates over the job's rows, each by an index on ``job_id``: a job of
10M records (2000 batches, 1M rejects) answers in a fraction of a second. Functions take a
connection and let asyncpg's errors through (callers translate them, ``libs.db.translated``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from libs import constants as c
from libs.db import Conn
from libs.registry import ABORTED

STATES: Final = ("publishing", "loading", "applying", "succeeded", "succeeded_with_rejects",
                 "failed", "aborted")
TERMINAL: Final = frozenset({"succeeded", "succeeded_with_rejects", "failed", "aborted"})
DEFAULT_LIMIT: Final = 50  # jobs listed at once (ingest jobs, GET /v1/jobs)
SUCCEEDED: Final = frozenset({"succeeded", "succeeded_with_rejects"})
COUNTERS: Final = ("inserted", "updated", "deleted", "unchanged", "superseded", "rejected",
                   "skipped", "pending")

# One row per job: its columns, its batches' and its dead letters' aggregates. {where} and
# {page} select the jobs (the job's own row is read through the primary key or job order).
_SUMMARY: Final = """
WITH j AS (SELECT * FROM ingest_jobs WHERE {where} ORDER BY job_seq DESC {page})
SELECT j.job_id, j.job_seq, j.dataset, j.mode, j.atomic OR j.mode = 'replace' AS atomic,
       j.dry_run, j.source, j.source_bytes, j.source_digest, j.records, j.batches, j.bytes,
       j.batch_size, j.first_seen, j.sealed_at, j.applied_at, j.failed_at, j.error,
       j.publish_error, j.publish_error_at,
       b.*, d.*, clock_timestamp() AS now
FROM j
CROSS JOIN LATERAL (
    SELECT count(*)::int AS done_batches, coalesce(sum(records), 0)::bigint AS done_records,
           """ + ", ".join(f"coalesce(sum({n}), 0)::bigint AS {n}" for n in COUNTERS) + """,
           min(finished_at) AS first_commit, max(finished_at) AS last_commit
    FROM ingest_batches WHERE job_id = j.job_id) b
CROSS JOIN LATERAL (
    SELECT count(*)::int AS dead_batches, coalesce(sum(records), 0)::bigint AS dead_records,
           max(dead_at) AS last_dead
    FROM ingest_dead_letters x WHERE x.job_id = j.job_id AND NOT EXISTS (
        SELECT 1 FROM ingest_batches y WHERE y.job_id = x.job_id
        AND y.first_line = x.first_line AND y.last_line = x.last_line)) d
"""
STATE_SQL: Final = """
CASE WHEN error = $1 THEN 'aborted'
     WHEN error IS NOT NULL THEN 'failed'
     WHEN sealed_at IS NULL THEN 'publishing'
     WHEN done_records + dead_records < records THEN 'loading'
     WHEN dead_batches > 0 THEN 'failed'
     WHEN atomic AND applied_at IS NULL THEN 'applying'
     WHEN rejected > 0 THEN 'succeeded_with_rejects'
     ELSE 'succeeded' END"""
_STATED: Final = "SELECT * FROM (SELECT s.*, " + STATE_SQL + " AS state FROM ({summary}) s) t"
_REASONS: Final = """
SELECT job_id, reason, count(*)::bigint AS n FROM ingest_rejects
WHERE job_id = ANY($1::text[]) GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2
"""
_ITEMS: Final = """
SELECT seq, first_line, last_line, 'done' AS status, records, """ + ", ".join(COUNTERS) + """,
       consumer, finished_at, NULL::text AS reason
FROM ingest_batches WHERE job_id = $1
UNION ALL
SELECT seq, first_line, last_line, 'failed', records, """ + ", ".join("0" for _ in COUNTERS) + """,
       consumer, dead_at, reason
FROM ingest_dead_letters x WHERE job_id = $1 AND NOT EXISTS (
    SELECT 1 FROM ingest_batches y WHERE y.job_id = x.job_id
    AND y.first_line = x.first_line AND y.last_line = x.last_line)
ORDER BY first_line
"""
# Each reject in its batch by one pass over the job's rejects: width_bucket finds the batch
# among the sorted first lines (NULL: in no done batch, e.g. a dry run's).
_ITEM_REASONS: Final = """
WITH f AS (SELECT array_agg(first_line ORDER BY first_line) AS firsts,
                  array_agg(last_line ORDER BY first_line) AS lasts
           FROM ingest_batches WHERE job_id = $1),
r AS (SELECT r.line_no, r.reason, width_bucket(r.line_no, f.firsts) AS k, f.firsts, f.lasts
      FROM ingest_rejects r, f WHERE r.job_id = $1)
SELECT CASE WHEN k > 0 AND line_no <= lasts[k] THEN firsts[k] END AS first_line, reason,
       count(*)::int AS n
FROM r GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2
"""
# These read a job's rejects by their index (a bitmap scan): the planner's guess for a job
# holding a tenth of the table is a scan of every job's rejects, several times slower; and
# JIT costs more than it saves on these short queries.
_PLANNER: Final = ("SET LOCAL enable_seqscan = off", "SET LOCAL jit = off")
LIST_REASONS_BUDGET: Final = 200_000  # list_jobs: rejects read for rejects_by_reason at most


@dataclass(frozen=True)
class JobStatus:
    """One job as :func:`job_status` reads it; :meth:`as_dict` is its JSON shape (README,
    "Job status"). ``row``: the aggregates (:data:`_SUMMARY` and ``state``);
    ``rejects_by_reason``: reason -> records; ``items``: the batches (``parts=True``)."""

    row: Mapping[str, Any]
    rejects_by_reason: dict[str, int] | None = field(default_factory=dict)
    items: list[dict[str, Any]] | None = None

    @property
    def job_id(self) -> str:
        return str(self.row["job_id"])

    @property
    def state(self) -> str:
        return str(self.row["state"])

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    @property
    def records_done(self) -> int:
        """Records of done and of dead-lettered batches: what the progress bar shows."""
        return int(self.row["done_records"]) + int(self.row["dead_records"])

    @property
    def total_records(self) -> int | None:
        """The sealed records (None until the job is sealed)."""
        records = self.row["records"] if self.row["sealed_at"] is not None else None
        return None if records is None else int(records)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: every key always present, None where unknown."""
        r = self.row
        return {"job_id": r["job_id"], "dataset": r["dataset"], "mode": r["mode"],
                "atomic": bool(r["atomic"]), "dry_run": bool(r["dry_run"]),
                "state": self.state,
                "source": {"name": r["source"] or None, "bytes": r["source_bytes"],
                           "digest": r["source_digest"]},
                "totals": {"records": self.total_records,
                           "batches": r["batches"] if r["sealed_at"] else None,
                           "bytes": r["bytes"] if r["sealed_at"] else None,
                           "batch_size": r["batch_size"]},
                "counts": self._counts(), "rejects_by_reason": self.rejects_by_reason,
                "progress": {"records_done": self.records_done, "fraction": self._fraction()},
                **self._times(), "error": r["error"],
                "publish_error": self._publish_error(), "parts": self._parts()}

    def _publish_error(self) -> dict[str, str | None] | None:
        """Why the last producer run stopped before sealing the job (``{"message", "at"}``),
        None if none did (or a later run cleared it)."""
        message = self.row["publish_error"]
        if message is None:
            return None
        return {"message": str(message), "at": _iso(self.row["publish_error_at"])}

    def _counts(self) -> dict[str, int | None]:
        counts: dict[str, int | None] = {n: int(self.row[n]) for n in COUNTERS}
        total = self.total_records
        counts["dead_lettered"] = int(self.row["dead_records"])
        counts["unprocessed"] = (None if total is None
                                 else max(0, total - int(self.row["done_records"])))
        return counts

    def _fraction(self) -> float | None:
        total = self.total_records
        if total is None:
            return None
        return 1.0 if total == 0 else round(min(1.0, self.records_done / total), 4)

    def _times(self) -> dict[str, Any]:
        r = self.row
        created: datetime = r["first_seen"]
        last = _latest(r["last_commit"], r["last_dead"])
        finished = None
        if self.terminal:
            finished = r["failed_at"] or r["applied_at"] or last
        elapsed = ((finished or r["now"]) - created).total_seconds()
        busy = None if last is None else (last - created).total_seconds()
        rate = round(self.records_done / busy, 1) if busy and busy > 0 else None
        total = self.total_records
        eta = None
        if self.state == "loading" and rate and total is not None:
            eta = round(max(0, total - self.records_done) / rate, 1)
        return {"created_at": _iso(created), "sealed_at": _iso(r["sealed_at"]),
                "started_at": _iso(r["first_commit"]), "finished_at": _iso(finished),
                "elapsed_s": round(max(0.0, elapsed), 3), "rows_per_s": rate, "eta_s": eta}

    def _parts(self) -> dict[str, Any]:
        r = self.row
        total = r["batches"] if r["sealed_at"] is not None else None
        done, failed = int(r["done_batches"]), int(r["dead_batches"])
        parts: dict[str, Any] = {
            "total": total, "done": done, "failed": failed,
            "pending": None if total is None else max(0, int(total) - done - failed)}
        if self.items is not None:
            parts["items"] = self.items
        return parts


@asynccontextmanager
async def _reading(conn: Conn) -> AsyncIterator[None]:
    """A read-only transaction with the planner settings of :data:`_PLANNER` (inside the
    caller's transaction, if it has one, the settings are left as they are)."""
    if conn.is_in_transaction():
        yield
        return
    async with conn.transaction(readonly=True):
        for setting in _PLANNER:
            await conn.execute(setting)
        yield


def _latest(*moments: datetime | None) -> datetime | None:
    found = [m for m in moments if m is not None]
    return max(found) if found else None


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _query(where: str, page: str = "") -> str:
    """The stated summary of the jobs ``where`` selects (``$1`` is the abort marker)."""
    return _STATED.format(summary=_SUMMARY.format(where=where, page=page))


async def job_status(conn: Conn, job_id: str, *, parts: bool = False) -> JobStatus | None:
    """The job's status, None for an unknown job. ``parts``: with each batch
    (``parts.items``: done and dead-lettered batches by first line, with their counts and
    rejects by reason)."""
    async with _reading(conn):
        row = await conn.fetchrow(_query("job_id = $2"), ABORTED, job_id)
        if row is None:
            return None
        if parts:
            reasons, items = await _items(conn, job_id)
            return JobStatus(dict(row), reasons, items)
        found = await _reasons(conn, [job_id])
    return JobStatus(dict(row), found.get(job_id, {}))


async def list_jobs(conn: Conn, *, state: str | None = None, dataset: str | None = None,
                    limit: int = DEFAULT_LIMIT, offset: int = 0) -> list[JobStatus]:
    """Jobs, newest first (job order), dry runs excluded; ``state``, ``dataset``: only those.
    ``rejects_by_reason`` is read for the newest jobs of the page until their rejects add up
    to :data:`LIST_REASONS_BUDGET` (a job of 1M rejects takes about a second); the others
    have None there (``job_status`` has it). ValueError for a state not in :data:`STATES`
    or a negative limit or offset."""
    if state is not None and state not in STATES:
        raise ValueError(f"unknown state {state!r}: one of {', '.join(STATES)}")
    if limit < 0 or offset < 0:
        raise ValueError("limit and offset must not be negative")
    where = "NOT dry_run AND ($3::text IS NULL OR dataset = $3)"
    page = "LIMIT $4 OFFSET $5"
    # Without a state the page is cut before the aggregates; with one, after them.
    sql = (_query(where, "" if state else page) + " WHERE $2::text IS NULL OR state = $2 "
           "ORDER BY job_seq DESC " + (page if state else ""))
    async with _reading(conn):
        rows = await conn.fetch(sql, ABORTED, state, dataset, limit, offset)
        budget, read = LIST_REASONS_BUDGET, []
        for row in rows:
            budget -= int(row["rejected"])
            if budget < 0:
                break
            read.append(row["job_id"])
        reasons = await _reasons(conn, read)
    return [JobStatus(dict(row), reasons.get(row["job_id"], {}) if row["job_id"] in read
                      else None) for row in rows]


async def states_count(conn: Conn) -> dict[str, int]:
    """Jobs by state (every state present, 0 when none), dry runs excluded."""
    sql = f"SELECT state, count(*)::int AS n FROM ({_query('NOT dry_run')}) t GROUP BY 1"
    counts = dict.fromkeys(STATES, 0)
    counts.update({row["state"]: row["n"] for row in await conn.fetch(sql, ABORTED)})
    return counts


async def _reasons(conn: Conn, job_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    found: dict[str, dict[str, int]] = {}
    if job_ids:
        for row in await conn.fetch(_REASONS, list(job_ids)):
            found.setdefault(row["job_id"], {})[row["reason"]] = int(row["n"])
    return found


async def _items(conn: Conn, job_id: str) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """The job's rejects by reason, and its batches (each with its own)."""
    reasons: dict[int, dict[str, int]] = {}
    overall: dict[str, int] = {}
    for row in await conn.fetch(_ITEM_REASONS, job_id):
        overall[row["reason"]] = overall.get(row["reason"], 0) + row["n"]
        if row["first_line"] is not None:
            reasons.setdefault(row["first_line"], {})[row["reason"]] = row["n"]
    items = []
    for row in await conn.fetch(_ITEMS, job_id):
        item = dict(row)
        item["rejects_by_reason"] = reasons.get(row["first_line"], {}) if row[
            "status"] == "done" else {}
        item["finished_at"] = _iso(row["finished_at"])
        items.append(item)
    ordered = dict(sorted(overall.items(), key=lambda kv: (-kv[1], kv[0])))
    return ordered, items


def exit_code(state: str) -> int:
    """``ingest wait``'s exit code for a terminal state: 0 succeeded (with rejects or not),
    1 failed or aborted. ValueError for a state that is not terminal."""
    if state not in TERMINAL:
        raise ValueError(f"state {state} is not terminal")
    return c.EXIT_OK if state in SUCCEEDED else c.EXIT_FAILED
