"""``https://...`` and ``http://...`` through fsspec's HTTP filesystem (aiohttp), read in
ranges (``Range: bytes=a-b``, ``remote.BLOCK_BYTES`` each).

A signed URL's query string is its signature: ``display`` shows it as ``?***`` and the
identity leaves it out, so the same object behind a newly signed URL is the same job.
``https://user:password@host/...`` is sent as basic authentication; the password is never
shown.

Identity: the ETag plus size (a weak ``W/`` ETag too), else Last-Modified plus size, hashed
with the URL without its query (``remote.object_identity``). A server that sends neither
has its object read whole once and hashed (sha256, as a local file); its change token is
then only the size. Each ranged read carries ``If-Match`` (a strong ETag) or
``If-Unmodified-Since`` (Last-Modified), so a server that honours them refuses (412) a read
of another version: FileChanged at once; for one that ignores them the metadata checks of
``state()`` still find the change.

A server that refuses ranges (``Accept-Ranges: none``, or a 200 answer to a ranged request)
is read as one stream from the start (``Sequential``; said once in the log): a seek forward
reads and drops, so a resumed run downloads the object again up to its offset. A server that
does not send the size (no Content-Length) cannot be read: a UserError says to download the
file first.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import fsspec  # type: ignore[import-untyped]
import structlog

from libs.errors import IngestError, SourceInterrupted, UserError
from libs.sources.base import SourceOptions
from libs.sources.remote import (
    BLOCK_BYTES,
    Meta,
    NotFound,
    RemoteSource,
    object_identity,
    unresolvable,
)

log = structlog.get_logger(__name__)
TIMEOUT: Final = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=60)
TRANSIENT_STATUS: Final = frozenset({408, 425, 429, 500, 502, 503, 504})
NO_SIZE: Final = "cannot be read in parts: download it and load the local file"
SKIP_CHUNK: Final = 1 << 20


class Sequential:
    """One GET from the start, for a server without ranges: ``seek`` forward reads and drops
    what it passes; back is not possible (``seekable`` False: the reader opens it again)."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle
        self._pos = 0

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int) -> int:
        if pos < self._pos:
            raise ValueError(f"a stream cannot seek back to {pos}")
        while self._pos < pos and (chunk := self._handle.read(min(pos - self._pos,
                                                                 SKIP_CHUNK))):
            self._pos += len(chunk)
        return self._pos

    def read(self, size: int) -> bytes:
        data: bytes = self._handle.read(size)
        self._pos += len(data)
        return data

    def close(self) -> None:
        self._handle.close()


def _cause(exc: BaseException) -> BaseException:
    """The aiohttp error behind fsspec's FileNotFoundError (its info() wraps every failure)."""
    inner = exc.__cause__ or exc.__context__
    return inner if isinstance(exc, FileNotFoundError) and inner is not None else exc


class HttpSource(RemoteSource):
    """An object behind an HTTP(S) URL (see the module)."""

    def __init__(self, location: str, options: SourceOptions | None = None) -> None:
        super().__init__(location, options)
        try:
            parts = urlsplit(location)
            self.host = parts.hostname or ""
            netloc = self.host + (f":{parts.port}" if parts.port else "")
        except ValueError as exc:
            raise UserError(f"--file {self.display}: not a valid URL") from exc
        if not self.host or not parts.path.strip("/"):
            raise UserError(f"--file {self.display}: expected {parts.scheme}://HOST/PATH")
        self.where = urlunsplit((parts.scheme.lower(), netloc, parts.path, "", ""))
        self._fs: Any = None
        self._ranges = True

    def _filesystem(self) -> Any:
        if self._fs is None:
            self._fs = fsspec.filesystem("http", block_size=BLOCK_BYTES, skip_instance_cache=True,
                                         client_kwargs={"timeout": TIMEOUT})
        return self._fs

    def _stat(self) -> Meta:
        info = self._filesystem().info(self.location)
        if info.get("size") is None:
            raise UserError(f"{self.display}: the server does not send its size "
                            f"(Content-Length), so it {NO_SIZE}")
        if info.get("partial") is False and self._ranges:
            self._without_ranges("it answers Accept-Ranges: none")
        size = int(info["size"])
        for header, kind in (("ETag", "http-etag"), ("Last-Modified", "http-last-modified")):
            if value := info.get(header):
                token = (header.lower(), str(value), str(size))
                return Meta(size, token, object_identity(kind, self.where, token, size))
        return Meta(size, ("size", str(size)), None)

    @staticmethod
    def _pin(meta: Meta) -> dict[str, str]:
        """The precondition headers that make the server refuse another version (412)."""
        kind, value = meta.token[0], meta.token[1]
        if kind == "etag" and not value.startswith("W/"):
            return {"If-Match": value}
        if kind == "last-modified":
            return {"If-Unmodified-Since": value}
        return {}

    def _open_file(self, meta: Meta) -> Any:
        if not self._ranges:
            return Sequential(self._filesystem().open(self.location, "rb", block_size=0,
                                                      size=meta.size, headers=self._pin(meta)))
        return self._filesystem().open(self.location, "rb", block_size=BLOCK_BYTES,
                                       cache_type="none", size=meta.size,
                                       headers=self._pin(meta))

    def _without_ranges(self, why: str) -> None:
        self._ranges = False
        log.warning("the server does not serve ranges: reading the file as one stream (a "
                    "resumed run downloads it again up to its offset)", source=self.display,
                    why=why)

    def _reset(self) -> None:
        self._fs = None

    def _translate(self, exc: BaseException) -> IngestError | None:
        error = _cause(exc)
        if isinstance(error, aiohttp.ClientResponseError):
            return self._status(error.status)
        if isinstance(error, aiohttp.ClientConnectorDNSError) or (
                isinstance(error, aiohttp.ClientConnectorError) and unresolvable(self.host)):
            return UserError(f"{self.display}: unknown host {self.host}")
        if isinstance(error, aiohttp.ClientError | asyncio.TimeoutError | ConnectionError):
            return SourceInterrupted(f"{self.display}: {type(error).__name__}")
        if isinstance(error, ValueError) and "range requests" in str(error) and self._ranges:
            self._without_ranges("it answered a ranged request with the whole file")
            return SourceInterrupted(f"{self.display}: the server ignores Range requests")
        if isinstance(exc, FileNotFoundError):
            return NotFound(f"{self.display}: not found")
        return None

    def _status(self, status: int) -> IngestError:
        if status in (404, 410):
            return NotFound(f"{self.display}: not found (HTTP {status})")
        if status in (401, 403):
            return UserError(f"{self.display}: access refused (HTTP {status}): check the "
                             "credentials, or sign the URL again if its signature expired")
        if status == 412:
            return self.changed("the server refused a read of the version the run started "
                                "with (HTTP 412)")
        if status in TRANSIENT_STATUS:
            return SourceInterrupted(f"{self.display}: HTTP {status}")
        return UserError(f"{self.display}: the server answered HTTP {status}")
