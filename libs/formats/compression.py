"""Compressed inputs, read as a stream: ``open_stream(source, compression)``.

gzip (the stdlib's zlib; several members in a row, as ``cat a.gz b.gz`` makes, and zero
padding after them are read as gzip reads them) and zstd (the ``zstandard`` package; several
frames in a row) are decompressed while they are read, never unpacked to disk:

- Offsets (``Position.byte``) count bytes of the decompressed stream; its ``extent`` is None
  (unknown until read: the progress bar shows what is done, no total).
- ``seek(n)`` forwards reads on; backwards (the producer's ``seek(0)`` after its sample, a
  resume) it re-reads the stored bytes from the start and skips ``n`` bytes: **a resumed
  compressed job re-reads its file up to its offset** (it does not republish it).
- Memory: gzip output comes in pieces of at most ``BLOCK`` bytes whatever the ratio; zstd
  input is fed in pieces of ``ZSTD_PIECE`` bytes, so a piece gives at most its size times the
  data's compression ratio (zstd has no output bound per call).
- Bytes that are not valid gzip / zstd data, a truncated file, a checksum that does not
  match: one ``UserError`` naming the file and the decompressed offset, raised by the
  ``read`` that meets it (the producer has published the batches complete before it and
  exits 2).

The job id stays the sha256 of the stored (compressed) bytes; ``stored_handle(handle)`` is
the handle of those bytes (for ``Source.state``). ``sniff(head)`` names a compression by its
magic bytes: ``auto`` uses it when the name's suffix says nothing, and the rejects export
(``libs.rejects_source``) to read a job's compressed file back.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from types import TracebackType
from typing import BinaryIO, Final, Protocol

from libs.errors import UserError
from libs.formats import guess_compression
from libs.formats.replay import ReplayStream
from libs.sources.base import Source

BLOCK: Final = 1 << 20  # decompressed bytes per piece (gzip: at most)
READ: Final = 64 << 10  # compressed bytes per read of the stored file (gzip)
ZSTD_PIECE: Final = 8 << 10  # compressed bytes per zstd step
GZIP_MAGIC: Final = b"\x1f\x8b"
ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"
GZIP_WBITS: Final = 16 + zlib.MAX_WBITS  # a gzip header and trailer (CRC-32, size) checked


class Corrupt(Exception):
    """The compressed data cannot be decompressed on; the message says why."""


def sniff(head: bytes) -> str:
    """``gzip``, ``zstd`` or ``none`` by the magic bytes at the start of ``head``."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    return "zstd" if head.startswith(ZSTD_MAGIC) else "none"


def open_stream(source: Source, compression: str = "auto", name: str | None = None) -> BinaryIO:
    """``source``'s bytes, decompressed per ``compression`` (``auto``: by the suffix of
    ``name``, the job's source name, else of the source's; else by the magic bytes).
    UserError for a compression that cannot be read."""
    raw = source.open()
    kind = guess_compression(name or source.name, compression)
    if kind == "none" and compression == "auto":
        kind = sniff(raw.read(len(ZSTD_MAGIC)))
        raw.seek(0)
    return decompressed(raw, kind, source.display)


def decompressed(raw: BinaryIO, kind: str, display: str) -> BinaryIO:
    """``raw`` itself (``none``), else its decompressed stream; UserError for another kind."""
    if kind == "none":
        return raw
    if kind not in DECODERS:
        raw.close()
        raise UserError(f"{display}: {kind} input cannot be read (gzip, zstd or none)")
    return Decompressed(raw, kind, display)  # type: ignore[return-value]


def stored_handle(handle: BinaryIO) -> BinaryIO:
    """The handle of the stored bytes under ``handle`` (itself when not decompressed)."""
    return handle.raw if isinstance(handle, Decompressed) else handle


class _Decoder(Protocol):
    def output(self) -> bytes:
        """The next piece of decompressed data; b"" at the end; Corrupt if it cannot be."""
        ...


class _Gzip:
    """gzip members in a row, then optional zero padding (as the gzip module reads them)."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.inflate = zlib.decompressobj(GZIP_WBITS)
        self.pending = b""  # input after a member's end
        self.in_member = False

    def output(self) -> bytes:
        while True:
            data = self.inflate.unconsumed_tail or self.pending or self.raw.read(READ)
            self.pending = b""
            if not data:
                return self._end()
            if not self.in_member:
                data = data.lstrip(b"\0")
                if not data:
                    continue
                self.in_member = True
            out = self._inflate(data)
            if out:
                return out

    def _inflate(self, data: bytes) -> bytes:
        try:
            out = self.inflate.decompress(data, BLOCK)
        except zlib.error as exc:
            raise Corrupt(f"not valid gzip data ({exc})") from exc
        if self.inflate.eof:
            self.pending = self.inflate.unused_data
            self.inflate = zlib.decompressobj(GZIP_WBITS)
            self.in_member = False
        return out

    def _end(self) -> bytes:
        """At the end of the stored bytes: what zlib still holds, b"" after a whole member;
        Corrupt inside one."""
        if not self.in_member:
            return b""
        out = self._inflate(b"")
        if out or not self.in_member:
            return out
        raise Corrupt("the gzip data ends inside a member (a truncated file?)")


class _Zstd:
    """zstd frames in a row."""

    def __init__(self, raw: BinaryIO) -> None:
        import zstandard  # imported when a zstd input is read, not by every run

        self.raw = raw
        self.maker = zstandard.ZstdDecompressor()
        self.frame: zstandard.ZstdDecompressionObj | None = None  # None between frames
        self.corrupt = zstandard.ZstdError
        self.pending = b""

    def output(self) -> bytes:
        while True:
            data = self.pending or self.raw.read(ZSTD_PIECE)
            self.pending = b""
            if not data:
                if self.frame is not None:
                    raise Corrupt("the zstd data ends inside a frame (a truncated file?)")
                return b""
            if self.frame is None:
                self.frame = self.maker.decompressobj()
            try:
                out = self.frame.decompress(data)
            except self.corrupt as exc:
                raise Corrupt(f"not valid zstd data ({exc})") from exc
            if self.frame.eof:
                self.pending = self.frame.unused_data
                self.frame = None
            if out:
                return out


DECODERS: Final[dict[str, Callable[[BinaryIO], _Decoder]]] = {"gzip": _Gzip, "zstd": _Zstd}


class Decompressed(ReplayStream):
    """A read-only binary stream of ``raw`` decompressed (see the module); ``raw`` is the
    stored bytes' handle, closed with this stream."""

    extent: Final = None
    what = "a decompressed stream"

    def __init__(self, raw: BinaryIO, kind: str, display: str) -> None:
        self.raw, self.kind, self.display = raw, kind, display
        self._rewind()

    def _rewind(self) -> None:
        self.raw.seek(0)
        self._decoder: _Decoder = DECODERS[self.kind](self.raw)
        self._buffer = bytearray()
        self._pos = 0
        self._eof = False
        self._failed: UserError | None = None

    def _fill(self) -> bool:
        """One more piece into the buffer; False at the end of the data. The error of data
        that cannot be decompressed on is raised once the buffer is read (``_failed``)."""
        if self._eof:
            return False
        if self._failed is not None:
            raise self._failed
        try:
            piece = self._decoder.output()
        except (Corrupt, OSError) as exc:
            where = self._pos + len(self._buffer)
            self._failed = UserError(f"{self.display}: {exc}, {where} bytes into the "
                                     "decompressed data")
            self._failed.__cause__ = exc
            if not self._buffer:
                raise self._failed from exc
            return False
        self._eof = not piece
        self._buffer += piece
        return not self._eof

    def fileno(self) -> int:
        return self.raw.fileno()

    def close(self) -> None:
        self.raw.close()

    @property
    def closed(self) -> bool:
        return self.raw.closed

    def __enter__(self) -> Decompressed:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
