"""The low watermark: the end of the longest run of confirmed batches from the start.

Confirms arrive out of order; the resume offset may only ever cover batches that are all
confirmed, so it advances over contiguous sequence numbers only.
"""

from __future__ import annotations

from producer.chunks import Chunk, Position


class Watermark:
    def __init__(self, start: Position) -> None:
        self._position = start
        self._confirmed: dict[int, Position] = {}

    @property
    def position(self) -> Position:
        return self._position

    @property
    def pending(self) -> int:
        """Batches confirmed beyond a gap (waiting for an earlier confirm)."""
        return len(self._confirmed)

    def confirm(self, chunk: Chunk) -> bool:
        """Record a confirmed batch; True if the watermark moved."""
        if chunk.seq < self._position.seq:
            return False
        self._confirmed[chunk.seq] = chunk.end
        moved = False
        while self._position.seq in self._confirmed:
            self._position = self._confirmed.pop(self._position.seq)
            moved = True
        return moved
