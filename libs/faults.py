"""Fault-injection points for tests: ``INGEST_FAULT=point`` kills the process there.

``INGEST_FAULT_AFTER=N`` kills on the N-th time the point is reached (default 1);
``INGEST_FAULT_KEY=K`` only counts hits made with that key (e.g. one message id). When the
variable is unset, ``hit`` is one comparison.
"""

from __future__ import annotations

import os
import signal

from libs.constants import FAULT_AFTER_ENV, FAULT_ENV, FAULT_KEY_ENV

_point = os.environ.get(FAULT_ENV) or None
_after = int(os.environ.get(FAULT_AFTER_ENV, "1") or "1")
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
