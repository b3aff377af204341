"""The ground floor that producer, consumer, ingest and api share.

structlog is imported here, before any module of ours uses it, with rich hidden: importing
structlog imports ``structlog.dev`` and ``structlog.tracebacks``, which import rich (its
console, pretty printer and tracebacks: about 0.05-0.1 s of every start, ``--help`` too)
whenever it is installed, for pretty tracebacks that our renderers never show
(``libs.logging`` formats exceptions as plain text). rich stays importable: the progress bars
import it when they are shown.
"""

from __future__ import annotations

import sys


def _import_structlog_without_rich() -> None:
    if "structlog" in sys.modules or "rich" in sys.modules:
        return  # too late, or rich is in use already: nothing to save
    sys.modules["rich"] = None  # type: ignore[assignment]  # `import rich`: ImportError
    try:
        import structlog  # noqa: F401
    finally:
        del sys.modules["rich"]


_import_structlog_without_rich()
