"""Fault-injection points for tests: ``INGEST_FAULT=point`` kills the process there.

``INGEST_FAULT_AFTER=N`` kills on the N-th time the point is reached (default 1);
``INGEST_FAULT_KEY=K`` only counts hits made with that key (e.g. one message id). When the
variable is unset, ``hit`` is one comparison.

Two points delay instead of killing: ``consumer.apply_pause`` (:func:`pause_s`), and
``consumer.hold`` (:func:`hold_s`), which holds chosen batches
before their load, so tests force the order batches commit in. ``INGEST_FAULT_KEY`` lists
batch seqs (comma-separated) in the order they should load; the k-th (from 0) waits k x
``INGEST_FAULT_AFTER`` seconds (a number, e.g. 0.5); a batch not listed does not wait. With
every batch in flight at once (``--parallel`` at least the number of batches), ``5,4,3,2,1``
makes a consumer commit five batches in reverse order.
"""

from __future__ import annotations

import os
import signal

from libs.constants import FAULT_AFTER_ENV, FAULT_ENV, FAULT_KEY_ENV

_point = os.environ.get(FAULT_ENV) or None
_after_text = os.environ.get(FAULT_AFTER_ENV, "1") or "1"
_after = int(float(_after_text))
_key = os.environ.get(FAULT_KEY_ENV) or None
_count = 0


def hit(point: str, key: str | None = None) -> None:
    """SIGKILL this process if ``point`` is the armed one and its turn has come."""
    global _count
    if _point is None or point != _point or (_key is not None and key != _key):
        return
    _count += 1
    if _count >= _after:
        os.kill(os.getpid(), signal.SIGKILL)


def trips(point: str) -> bool:
    """True once, on the N-th time the armed ``point`` is reached: the caller then fails."""
    global _count
    if _point is None or point != _point:
        return False
    _count += 1
    return _count == _after


def armed(point: str) -> bool:
    return _point == point


def pause_s(point: str) -> float:
    """Seconds to pause at the armed delay ``point`` (``INGEST_FAULT_AFTER``); 0 otherwise.
    ``consumer.apply_pause`` holds an atomic job's apply open after its writes, before its
    COMMIT (a window for readers, kills and restarts)."""
    return float(_after_text) if _point is not None and point == _point else 0.0


def hold_s(point: str, key: str) -> float:
    """Seconds to hold ``key`` at the armed delay ``point``: its place in the comma-separated
    ``INGEST_FAULT_KEY`` times ``INGEST_FAULT_AFTER``; 0 when not armed or not listed."""
    if _point is None or point != _point or _key is None:
        return 0.0
    keys = [k.strip() for k in _key.split(",")]
    return keys.index(key) * float(_after_text) if key in keys else 0.0
