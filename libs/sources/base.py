"""The source interface: where a job's bytes come from (a local file, or an object behind a
URL), independent of their layout (``libs.formats``) and compression.

The producer opens its ``--file`` with ``libs.sources.open_source(location)``; the job id is
derived from the source's ``Identity`` (a local file: the sha256 of its bytes).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from urllib.parse import urlsplit, urlunsplit

from libs import constants as c


@dataclass(frozen=True)
class Identity:
    """What the job id is derived from, and how it was found.

    ``digest``: the sha256 hex of the bytes (``kind`` ``"sha256"``), or another stable
    identity of the same content (a remote object's version id, ETag plus size: see the
    source's module). ``size``: the bytes as stored (compressed bytes for a .gz file).
    """

    digest: str
    kind: str
    size: int


@dataclass(frozen=True)
class SourceOptions:
    """How remote sources are reached (a local file ignores them). ``retry_budget``: seconds
    a remote read keeps retrying transient failures (the producer's ``--retry-budget``);
    ``s3_endpoint_url``: an S3-compatible store for ``s3://`` (None: AWS, or botocore's own
    ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``)."""

    retry_budget: float = c.DEFAULT_RETRY_BUDGET_S
    s3_endpoint_url: str | None = None

    def storage_for(self, location: str) -> dict[str, Any]:
        """fsspec's file system options for ``location`` (an ``s3://`` URL: the endpoint), for
        code that lists or moves remote files itself (``producer watch``)."""
        if location.lower().startswith("s3://") and self.s3_endpoint_url:
            return {"endpoint_url": self.s3_endpoint_url}
        return {}


class Source(Protocol):
    """One input, opened for reading; ``location`` as the user gave it (may hold secrets:
    never log it), ``display`` the same redacted, for logs, summaries and the job's row."""

    location: str
    display: str

    @property
    def name(self) -> str:
        """The last segment of the path: the job's source name unless --source-name."""
        ...

    @property
    def local_path(self) -> Path | None:
        """The absolute path of a local file (None for a remote object)."""
        ...

    def size(self) -> int:
        """Bytes as stored; UserError if the source does not exist or cannot be read."""
        ...

    def identity(self) -> Identity:
        """The content's identity (a local file: reads it whole to hash it)."""
        ...

    def open(self) -> BinaryIO:
        """The stored bytes from the start, seekable; UserError if it cannot be read."""
        ...

    def state(self, handle: BinaryIO) -> tuple[object, ...]:
        """A cheap token that changes when the content changes (a local file: size and
        modification time); compared while reading (FileChanged)."""
        ...


def redacted(location: str, *, bare: bool = False) -> str:
    """``location`` without its password (``user:***@``) and query (``?***``, a signed URL's
    signature), nor fragment. ``bare``: without the user, nor any mark of a password or a
    query (what an HTTP answer shows: ``api.fetch.safe_url``)."""
    try:
        parts = urlsplit(location)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparseable url>"
    user = None if bare else parts.username
    userinfo = "" if user is None else user + (":***" if parts.password is not None else "") + "@"
    host = f"[{host}]" if ":" in host else host
    return urlunsplit((parts.scheme, userinfo + host + port, parts.path,
                       "***" if parts.query and not bare else "", ""))

