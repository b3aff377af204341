"""Insert mode's choice of path for a keyed target's batches (issue 15: the duplicate-key path).

A batch COPYed straight into the table fails as a whole when it meets a key already taken (or
being taken by a concurrent batch, which it first waits for): the savepoint is rolled back
and the batch goes through the stage (``libs/load/insert.py``: COPY into a temporary table,
one ``INSERT ... ON CONFLICT DO NOTHING`` in key order that says which staged lines it did not
insert, and those few settled row by row). In a file whose keys repeat across batches (a
partner's file with duplicates, a file loaded again with a few new rows) nearly every batch
would pay a wasted COPY first, so once a target's batches meet taken keys they go to the stage
path at once, until ``QUIET`` batches in a row met none.

Measured on the bench's dirty 1M file: the stage path costs PostgreSQL about what an index
probe of the batch's keys before a direct COPY costs (each is about twice a plain COPY), but a
probe cannot see the keys that concurrent batches have inserted and not yet committed: their
COPYs then waited, failed and were retried (hundreds of unique violations and a deadlock per
run). ``INSERT ... ON CONFLICT`` waits for such a key's writer and then skips it, never fails
on it, and takes the keys in one order, so concurrent batches cannot deadlock on each other's.
A clean file never leaves the direct COPY.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# Batches in a row that met no taken key before a target's batches go straight in again.
QUIET: Final = 4


@dataclass
class Conflicts:
    """Whether one target's batches take the stage path at once (``on``), per consumer
    process: after one of its batches met a taken key, until ``QUIET`` met none."""

    on: bool = False
    quiet: int = 0

    def met(self, taken: bool) -> None:
        """A batch met a taken key (``taken``), or found none."""
        if taken:
            self.on, self.quiet = True, 0
            return
        self.quiet += 1
        if self.quiet >= QUIET:
            self.on, self.quiet = False, 0
