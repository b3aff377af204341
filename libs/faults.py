"""Fault-injection points for tests: ``INGEST_FAULT=point`` kills the process there.

``INGEST_FAULT_AFTER=N`` kills on the N-th time the point is reached (default 1). When the
variable is unset, ``hit`` is one comparison.
"""

from __future__ import annotations

import os
import signal

from libs.constants import FAULT_AFTER_ENV, FAULT_ENV

_point = os.environ.get(FAULT_ENV) or None
_after = int(os.environ.get(FAULT_AFTER_ENV, "1") or "1")
_count = 0


def hit(point: str) -> None:
    """SIGKILL this process if ``point`` is the armed one and its turn has come."""
    global _count
    if _point is None or point != _point:
        return
    _count += 1
    if _count >= _after:
        os.kill(os.getpid(), signal.SIGKILL)


def armed(point: str) -> bool:
    return _point == point
