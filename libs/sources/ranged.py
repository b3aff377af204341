"""Ranged reads of a remote object (``RemoteReader``): a seekable raw stream whose reads are
requests for the bytes from the current position. The library's own cache is off: each read
is one request, of FIRST_REQUEST bytes after an open or a seek, doubling up to BLOCK_BYTES
while the reads follow each other (a resumed job's header costs 256 KiB, not a whole block).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any, Final

import structlog

from libs.errors import SourceInterrupted

if TYPE_CHECKING:
    from libs.sources.remote import Meta, RemoteSource

log = structlog.get_logger(__name__)

BLOCK_BYTES: Final = 4 << 20  # the largest ranged request (S3, HTTP) or REST + RETR (FTP)
FIRST_REQUEST: Final = 256 << 10  # the first request after an open or a seek
READ_BUFFER: Final = BLOCK_BYTES  # the buffered stream's buffer over a RemoteReader


class RemoteReader(io.RawIOBase):
    """The snapshot's bytes as a seekable raw stream. ``seek`` only moves the position; a
    read asks for the bytes from there (a ranged request). A failed read closes the library's
    file and is retried on a new one at the same position (``RemoteSource.retrying``)."""

    def __init__(self, source: RemoteSource, meta: Meta) -> None:
        super().__init__()
        self._source = source
        self._meta = meta
        self._pos = 0
        self._file: Any = None
        self._request = FIRST_REQUEST

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._meta.size}[whence]
        if base + offset < 0:
            raise ValueError(f"negative seek position {base + offset}")
        if base + offset != self._pos:
            self._pos, self._request = base + offset, FIRST_REQUEST
        return self._pos

    def readall(self) -> bytes:
        """The rest, in requests of the growing size (RawIOBase's would ask 8 KiB each)."""
        parts = []
        while chunk := self.read(BLOCK_BYTES):
            parts.append(chunk)
        return b"".join(parts)

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        want = min(len(view), self._meta.size - self._pos, self._request)
        if want <= 0:
            self._source.reached_end()
            return 0
        data = self._source.retrying(lambda: self._read(want),
                                     f"read from byte {self._pos}")
        view[: len(data)] = data
        self._pos += len(data)
        self._request = min(self._request * 2, BLOCK_BYTES)
        if self._pos >= self._meta.size:
            self._source.reached_end()
        return len(data)

    def _read(self, want: int) -> bytes:
        try:
            if self._file is not None and self._file.tell() > self._pos \
                    and not self._file.seekable():
                self._drop()  # a stream (a server without ranges) cannot go back
            if self._file is None:
                self._file = self._source._open_file(self._meta)
            if self._file.tell() != self._pos:
                self._file.seek(self._pos)
            data: bytes = self._file.read(want)
        except BaseException:
            self._drop()
            raise
        if not data:  # the server sent less than the snapshot's size: changed, or cut short
            self._drop()
            if self._source._stat().token != self._meta.token:
                raise self._source.changed("it is not the object the run started with")
            raise SourceInterrupted(f"{self._source.display}: the connection ended at byte "
                                    f"{self._pos} of {self._meta.size}")
        return data

    def _drop(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            try:
                file.close()
            except Exception as exc:  # closing a broken connection: nothing left to lose
                log.debug("closing the source's file failed", error=type(exc).__name__)

    def close(self) -> None:
        self._drop()
        super().close()
