"""The load path: one batch in one transaction (``base``), one module per load mode.

``MODES`` maps a job's mode (``ingest_jobs.mode``: the producer's ``--mode``, by default the
dataset's ``x-ingest.mode``) to the class that writes its rows; a new mode
(issue 12: upsert, merge, replace) is one module and one entry here. The worker looks the mode
up, it does not branch on it.

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

from typing import Final

from libs.errors import PoisonMessage
from libs.load.base import Loader, Outcome, Status
from libs.load.insert import InsertLoader
from libs.load.merge import MergeLoader
from libs.load.replace import ReplaceLoader
from libs.load.upsert import UpsertLoader

MODES: Final[dict[str, type[Loader]]] = {
    loader.mode: loader for loader in (InsertLoader, UpsertLoader, MergeLoader, ReplaceLoader)}


def mode_class(mode: str) -> type[Loader]:
    """The Loader class of ``mode``; PoisonMessage for a mode this version cannot load."""
    try:
        return MODES[mode]
    except KeyError:
        raise PoisonMessage(f"load mode {mode!r} is not available in this version "
                            f"(available: {', '.join(MODES)})") from None


__all__ = ["MODES", "Loader", "Outcome", "Status", "mode_class"]
