"""Job statuses as text for a terminal: ``ingest status`` and ``ingest jobs`` (their --json
prints ``JobStatus.as_dict()`` instead)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

COUNT_NAMES = ("inserted", "updated", "deleted", "unchanged", "superseded", "rejected",
               "skipped", "pending", "dead_lettered", "unprocessed")
ITEM_COLUMNS = ("seq", "first_line", "last_line", "status", "records", "inserted", "updated",
                "deleted", "unchanged", "superseded", "rejected", "skipped", "pending")


def _text(value: Any) -> str:
    return "-" if value is None else str(value)


def _loaded(status: dict[str, Any]) -> str:
    done, total = status["progress"]["records_done"], status["totals"]["records"]
    fraction = status["progress"]["fraction"]
    if total is None:
        return f"{done} (total known once sealed)"
    return f"{done} of {total} ({100 * fraction:.1f} %)"


def _stopped(publish_error: dict[str, Any] | None) -> str:
    """Why the last producer run stopped before sealing the job, and when; "-" if none did."""
    if publish_error is None:
        return "-"
    return f"{publish_error['message']} (at {_text(publish_error['at'])})"


def status_text(status: dict[str, Any]) -> str:
    """One job (``JobStatus.as_dict()``) as a two-column table, its parts below if listed."""
    source, totals, parts = status["source"], status["totals"], status["parts"]
    counts = "  ".join(f"{name} {value}" for name, value in status["counts"].items()
                       if value or name in ("inserted", "rejected"))
    reasons = ", ".join(f"{reason} {n}" for reason, n in status["rejects_by_reason"].items())
    rows = [
        ("job", status["job_id"]),
        ("state", status["state"]),
        ("dataset", f"{status['dataset']} (mode {status['mode']}"
                    + (", atomic" if status["atomic"] else "")
                    + (", dry run" if status["dry_run"] else "") + ")"),
        ("source", f"{_text(source['name'])}, {_text(source['bytes'])} bytes, sha256 "
                   f"{_text(source['digest'])}"),
        ("totals", f"{_text(totals['records'])} records in {_text(totals['batches'])} batches "
                   f"(batch size {_text(totals['batch_size'])})"),
        ("loaded", _loaded(status)),
        ("counts", counts),
        ("rejects", reasons or "-"),
        ("parts", f"{_text(parts['total'])} total, {parts['done']} done, {parts['failed']} "
                  f"failed, {_text(parts['pending'])} pending"),
        ("created", _text(status["created_at"])),
        ("sealed", _text(status["sealed_at"])),
        ("started", _text(status["started_at"])),
        ("finished", _text(status["finished_at"])),
        ("elapsed", f"{status['elapsed_s']} s, {_text(status['rows_per_s'])} rows/s"
                    + ("" if status["eta_s"] is None else f", eta {status['eta_s']} s")),
        ("error", _text(status["error"])),
        ("stopped", _stopped(status["publish_error"])),
    ]
    lines = [f"{name:<9} {value}" for name, value in rows]
    if "items" in parts:
        lines += ["", *_table(
            [*(c.upper() for c in ITEM_COLUMNS), "REJECTS", "REASON"],
            [[*(_text(item[c]) for c in ITEM_COLUMNS),
              ", ".join(f"{r} {n}" for r, n in item["rejects_by_reason"].items()) or "-",
              _text(item["reason"])] for item in parts["items"]])]
    return "\n".join(lines)


def jobs_text(statuses: Sequence[dict[str, Any]]) -> str:
    """Jobs (``JobStatus.as_dict()`` each), one line each, newest first."""
    if not statuses:
        return "no jobs"
    header = ["JOB", "STATE", "DATASET", "MODE", "LOADED", "REJECTED", "CREATED"]
    rows = [[s["job_id"], s["state"], s["dataset"], s["mode"], _loaded(s),
             str(s["counts"]["rejected"]), _text(s["created_at"])[:19]] for s in statuses]
    return "\n".join(_table(header, rows))


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in [header, *rows]]
