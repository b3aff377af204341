"""A read-only byte stream made by decoding another one block by block (decompressing,
transcoding), which can seek only by reading it again from its start.

A subclass gives ``_rewind()`` (back to byte 0 of its source: ``_buffer`` empty, ``_pos`` 0)
and ``_fill()`` (one more decoded piece onto ``_buffer``; False at the end). Memory is bounded
by the largest read asked for plus one piece.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Final

SKIP_BYTES: Final = 4 << 20  # read and dropped at a time while seeking forward


class ReplayStream(ABC):
    """``read``, ``readline``, ``seek`` (from the start only: re-read and skip) and ``tell``
    over the decoded bytes (see the module). ``what`` names the stream in errors."""

    what = "a decoded stream"
    _buffer: bytearray
    _pos: int

    @abstractmethod
    def _rewind(self) -> None:
        """Back to the source's byte 0: ``_buffer`` empty, ``_pos`` 0."""

    @abstractmethod
    def _fill(self) -> bool:
        """One more decoded piece onto ``_buffer``; False at the end of the data."""

    def read(self, size: int = -1) -> bytes:
        """``size`` bytes, fewer only at the end (all the rest for a negative size)."""
        while (size < 0 or len(self._buffer) < size) and self._fill():
            pass
        if size < 0 or size >= len(self._buffer):
            data = bytes(self._buffer)
            self._buffer.clear()
        else:
            with memoryview(self._buffer) as view:
                data = bytes(view[:size])
            del self._buffer[:size]
        self._pos += len(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        """One line with its LF (at most ``size`` bytes); b"" at the end."""
        scanned = 0
        while True:
            end = self._buffer.find(b"\n", scanned)
            if end >= 0 and (size < 0 or end < size):
                return self.read(end + 1)
            if 0 <= size <= len(self._buffer):
                return self.read(size)
            scanned = len(self._buffer)
            if not self._fill():
                return self.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        """To ``offset`` bytes of the decoded data: backwards by reading again from the
        start, forwards by reading on; OSError for another ``whence`` or a negative offset."""
        if whence != 0 or offset < 0:
            raise OSError(f"{self.what} seeks from its start only")
        if offset < self._pos:
            self._rewind()
        while self._pos < offset and self.read(min(offset - self._pos, SKIP_BYTES)):
            pass
        return self._pos

    def tell(self) -> int:
        return self._pos

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True
