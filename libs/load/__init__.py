"""The load path: one batch in one transaction (``base``), one module per load mode.

``MODES`` maps a job's mode (``ingest_jobs.mode``: the producer's ``--mode``, by default the
dataset's ``x-ingest.mode``) to the class that writes its rows (its module and name,
imported by ``mode_class`` on first use); a new mode (issue 12: upsert, merge, replace) is one
module and one entry here. The worker looks the mode up, it does not branch on it.

- ``base``: ``Loader`` (claim, rows, rejects, batch done), ``Outcome``, ``Status``
- ``insert``: insert mode (the first line of the earliest job wins)
- ``upsert``, ``merge``: the versioned modes (``versioned``: the greatest (job_seq, line) wins)
- ``replace``: replace mode (always atomic: the apply empties the target first)
- ``stage``, ``atomic``, ``apply``: atomic jobs (the stage table, a batch staged, the apply)
- ``threshold``: ``--max-errors`` / ``--max-error-ratio``
- ``jobs``: a job's place in job order, its mode and options (``ingest_jobs``), cached
- ``target``: ``Target`` (table, columns, key, where lineage lives), ``target_for``
- ``prepared``: ``Prepared``, ``RejectRow`` (a validated batch)
- ``isolate``, ``payload``: refused-record isolation, the COPY payload writer
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

from libs.errors import PoisonMessage

if TYPE_CHECKING:
    from libs.load.base import Loader, Outcome, Status

# Each mode's module, imported on first use: the producer (its registry imports ``stage``)
# loads none of them, a consumer the modes it meets.
MODES: Final[dict[str, tuple[str, str]]] = {
    "insert": ("libs.load.insert", "InsertLoader"),
    "upsert": ("libs.load.upsert", "UpsertLoader"),
    "merge": ("libs.load.merge", "MergeLoader"),
    "replace": ("libs.load.replace", "ReplaceLoader"),
}


def mode_class(mode: str) -> type[Loader]:
    """The Loader class of ``mode``; PoisonMessage for a mode this version cannot load."""
    try:
        module, name = MODES[mode]
    except KeyError:
        raise PoisonMessage(f"load mode {mode!r} is not available in this version "
                            f"(available: {', '.join(MODES)})") from None
    loader: type[Loader] = getattr(importlib.import_module(module), name)
    return loader


def __getattr__(name: str) -> Any:
    """``Loader``, ``Outcome`` and ``Status`` (``base``), imported on first use."""
    if name in ("Loader", "Outcome", "Status"):
        return getattr(importlib.import_module("libs.load.base"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["MODES", "Loader", "Outcome", "Status", "mode_class"]
