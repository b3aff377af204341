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

A server that does not send the size (no Content-Length) or refuses ranges
(``Accept-Ranges: none``, or a 200 answer to a ranged request) cannot be read in parts: a
UserError says to download the file first.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import fsspec  # type: ignore[import-untyped]

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

TIMEOUT: Final = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=60)
TRANSIENT_STATUS: Final = frozenset({408, 425, 429, 500, 502, 503, 504})
NO_RANGES: Final = ("cannot be read in parts: download it and load the local file")


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

    def _filesystem(self) -> Any:
        if self._fs is None:
            self._fs = fsspec.filesystem("http", block_size=BLOCK_BYTES, skip_instance_cache=True,
                                         client_kwargs={"timeout": TIMEOUT})
        return self._fs

    def _stat(self) -> Meta:
        info = self._filesystem().info(self.location)
        if info.get("size") is None:
            raise UserError(f"{self.display}: the server does not send its size "
                            f"(Content-Length), so it {NO_RANGES}")
        if info.get("partial") is False:
            raise UserError(f"{self.display}: the server refuses Range requests, so it "
                            f"{NO_RANGES}")
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
        return self._filesystem().open(self.location, "rb", block_size=BLOCK_BYTES,
                                       cache_type="none", size=meta.size,
                                       headers=self._pin(meta))

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
        if isinstance(error, ValueError) and "range requests" in str(error):
            return UserError(f"{self.display}: the server ignores Range requests, so it "
                             f"{NO_RANGES}")
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
