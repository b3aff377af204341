"""A consumer's counters (README, "Counters"): the JSON summary it prints when it stops, fed
to its Prometheus metrics (consumer.metrics) as they change."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from consumer.metrics import Metrics
from libs.load import Outcome
from libs.load.apply import Applied
from libs.schema.reasons import DUPLICATE_KEY


@dataclass
class Stats:
    """A consumer's counters (README, "Counters"), for the batches it committed: records =
    inserted + updated + deleted + unchanged + superseded + rejected + skipped + pending. A
    commit that changes the fate of another batch's record moves that count here too (inserted
    -> rejected, ...), so the sums over every consumer of a job are the job's counts. ``pending``
    counts records staged for an atomic job; the apply moves them to their counters in the
    summary of the consumer that applied it (whose ``pending`` may then go below 0). Each
    event also feeds ``metrics`` (consumer/metrics.py), which the summary leaves out."""

    batches_done: int = 0
    records: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    superseded: int = 0
    rejected: int = 0
    skipped: int = 0
    pending: int = 0
    jobs_applied: int = 0  # atomic jobs this consumer applied
    jobs_failed: int = 0  # atomic jobs whose apply failed (threshold, replace refused)
    rejects_by_reason: Counter[str] = field(default_factory=Counter)
    duplicate_deliveries: int = 0
    dead_lettered: int = 0
    requeued: int = 0
    returned: int = 0  # batches of datasets outside the --dataset filter, sent back
    elapsed_s: float = 0.0
    rows_per_s: float = 0.0
    status: str = "ok"
    metrics: Metrics = field(default_factory=Metrics, repr=False, compare=False)

    def add(self, outcome: Outcome, seconds: float = 0.0) -> None:
        """A batch acked after its commit (or a duplicate delivery); ``seconds``: its handling
        time."""
        self.metrics.committed(outcome, seconds)
        if outcome.duplicate:
            self.duplicate_deliveries += 1
            return
        self.batches_done += 1
        self.records += outcome.records
        for name, value in outcome.counts().items():
            setattr(self, name, getattr(self, name) + value)
        self.pending += outcome.pending
        self.move(outcome)

    def applied(self, result: Applied) -> None:
        """An atomic job applied (or failed) by this consumer: its staged records' counts."""
        if result.error is None:
            self.jobs_applied += 1
        else:
            self.jobs_failed += 1
        self.metrics.applied(result.error is None)
        self.move(result.outcome)

    def move(self, outcome: Outcome) -> None:
        rejects = Counter(outcome.rejected)
        for (source, dest), n in outcome.moved.items():
            setattr(self, source, getattr(self, source) - n)
            setattr(self, dest, getattr(self, dest) + n)
            if dest == "rejected" and source != "pending":
                # insert mode's displacement: the holder is a duplicate now (an apply's
                # staged rejects come with their reasons in outcome.rejected)
                rejects[DUPLICATE_KEY] += n
        self.rejects_by_reason.update(rejects)
        self.metrics.moved(outcome.moved, rejects)

    def settled(self, outcome: str) -> None:
        """A batch requeued or returned (sent back: another dataset's), by that name."""
        setattr(self, outcome, getattr(self, outcome) + 1)
        self.metrics.settled(outcome)

    def dead_letter(self) -> None:
        """A message went to the dead-letter queue: the run did not load everything."""
        self.dead_lettered += 1
        self.metrics.settled("dead_lettered")
        if self.status == "ok":
            self.status = "dead_lettered"

    def as_dict(self) -> dict[str, Any]:
        counters = {k: v for k, v in self.__dict__.items() if k != "metrics"}
        return {**counters, "rejects_by_reason": dict(self.rejects_by_reason)}
