"""What the remote sources share (``s3``, ``http``, ``ftp``): a metadata snapshot taken once,
reads pinned to it, retries within the producer's budget, and redaction.

- **Snapshot.** The first call that needs the object (``open()``, in the producer) fetches its
  metadata once (``Meta``: size, change token, identity); ``size()``, ``identity()`` and every
  read use that snapshot, so the job id and the bytes published describe the same object.
- **Identity.** From the object's metadata (S3 version id, ETag plus size, HTTP ETag or
  Last-Modified plus size, FTP MDTM plus size) hashed with the redacted location
  (``object_identity``); where the metadata has none, the object is read once whole and its
  bytes hashed (``Identity`` kind ``sha256``, as for a local file).
- **Reads.** ``open()`` gives a buffered, seekable stream over ``ranged.RemoteReader``:
  ``seek`` is free and the next read asks the server for a range from there (S3 and HTTP
  ``Range``, FTP ``REST``), so a resumed job re-opens the object at its saved offset. A
  transient failure (connection reset, timeout, HTTP 5xx, FTP 4xx) re-opens the object at
  the same byte and retries with backoff for ``SourceOptions.retry_budget`` seconds, then
  SourceUnavailable (exit 1; a rerun resumes). Reads block their thread: the producer reads
  a remote source's chunks in a worker thread.
- **Changes.** ``state()`` fetches the metadata again at most every ``STATE_CHECK_INTERVAL_S``
  and once after the last byte was read; a different token is FileChanged in the producer.
  Sources that can make the server refuse a read of another version do (S3 If-Match or the
  version id, HTTP If-Match / If-Unmodified-Since): such a read is FileChanged at once.
- **Redaction.** ``display`` never holds a password or a query string (a signed URL's
  signature); every message built from a library's error goes through ``scrub``.
"""

from __future__ import annotations

import hashlib
import io
import socket
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO, Final, TypeVar
from urllib.parse import unquote, urlsplit

import structlog

from libs.errors import (
    FileChanged,
    IngestError,
    SourceInterrupted,
    SourceUnavailable,
    TransientError,
    UserError,
)
from libs.retry import Backoff
from libs.sources.base import Identity, SourceOptions, redacted
from libs.sources.ranged import BLOCK_BYTES, FIRST_REQUEST, READ_BUFFER, RemoteReader

log = structlog.get_logger(__name__)
T = TypeVar("T")

STATE_CHECK_INTERVAL_S: Final = 5.0  # state() asks the server at most this often
HASH_CHUNK: Final = 1 << 20


class NotFound(UserError):
    """The object does not exist (HTTP 404, S3 NoSuchKey / NoSuchBucket, FTP 550)."""


@dataclass(frozen=True)
class Meta:
    """One metadata answer. ``token``: what changes with the content (its first item names
    the kind: ``etag``, ``version``, ``last-modified``, ``mdtm``, ``size``); ``identity``:
    None when only a full read can tell (then hashed); ``stable``: every read is of this very
    version (a versioned S3 object read by its version id), so ``state()`` asks nothing."""

    size: int
    token: tuple[str, ...]
    identity: Identity | None
    stable: bool = False


def object_identity(kind: str, where: str, meta_token: tuple[str, ...], size: int) -> Identity:
    """The identity of an object named ``where`` (redacted, no query) whose metadata says
    ``meta_token``: sha256 hex of them all (not a content hash: the same content elsewhere
    is another job)."""
    text = "\0".join([kind, where, *meta_token, str(size)])
    return Identity(hashlib.sha256(text.encode()).hexdigest(), kind, size)


def secrets_of(location: str) -> list[str]:
    """The strings of ``location`` that must never be shown (password, query), also decoded."""
    try:
        parts = urlsplit(location)
        found = [parts.password or "", parts.query]
    except ValueError:
        found = [location]
    found += [unquote(text) for text in found]
    return sorted({text for text in found if text}, key=len, reverse=True)


def unresolvable(host: str) -> bool:
    """True if DNS says ``host`` has no address (not for a resolver failure worth a retry)."""
    try:
        socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME))
    except (OSError, UnicodeError):
        return False
    return False


class RemoteSource(ABC):
    """The Source protocol for an object behind a URL; a scheme's module subclasses it with
    ``_stat`` (one metadata request), ``_open_file`` (a file object whose reads are pinned to
    the snapshot), ``_translate`` (a library's exception to ours) and ``_reset`` (drop
    connections after a failure). Nothing is fetched before the first call that needs it."""

    host: str = ""  # checked with DNS when a connection fails

    def __init__(self, location: str, options: SourceOptions | None = None) -> None:
        self.location = location
        self.display = redacted(location)
        self.options = options or SourceOptions()
        self._secrets = secrets_of(location)
        self._snapshot: Meta | None = None
        self._token: tuple[str, ...] = ()
        self._checked_at = 0.0
        self._read_end_at: float | None = None  # when a reader last reached the end
        self._warned = False

    @property
    def name(self) -> str:
        return unquote(urlsplit(self.location).path.rsplit("/", 1)[-1])

    @property
    def local_path(self) -> None:
        return None

    # --- what a scheme's module provides -----------------------------------------------

    @abstractmethod
    def _stat(self) -> Meta:
        """The object's metadata now (size, ETag or version, ...); its module's errors."""

    @abstractmethod
    def _open_file(self, meta: Meta) -> Any:
        """A file object of the object as ``meta`` describes it (pinned to its version)."""

    def _translate(self, exc: BaseException) -> IngestError | None:
        """The scheme's own reading of ``exc``; None: the common one (``translate``)."""
        return None

    def _reset(self) -> None:  # noqa: B027 - a hook: most schemes keep nothing to forget
        """Forget connections after a failure (the next attempt makes new ones)."""

    # --- the Source protocol ---------------------------------------------------------------

    def size(self) -> int:
        return self.meta().size

    def identity(self) -> Identity:
        meta = self.meta()
        return meta.identity if meta.identity is not None else self._hashed(meta)

    def open(self) -> BinaryIO:
        return io.BufferedReader(RemoteReader(self, self.meta()), READ_BUFFER)

    def state(self, handle: BinaryIO) -> tuple[object, ...]:
        """The change token: asked again at most every STATE_CHECK_INTERVAL_S, and once after
        a reader reached the end (so the last check follows the last byte read). A transient
        failure of a periodic check keeps the last token (said once); of the last check it is
        retried within the budget. An object gone is a changed object."""
        meta = self.meta()
        if meta.stable:
            return meta.token
        now = time.monotonic()
        last = self._read_end_at is not None and self._read_end_at >= self._checked_at
        if not last and now - self._checked_at < STATE_CHECK_INTERVAL_S:
            return self._token
        try:
            fresh = self.retrying(self._stat, "check whether it changed",
                                  budget=self.options.retry_budget if last else 0.0)
            self._token = fresh.token
        except NotFound:
            self._token = ("gone",)
        except SourceUnavailable as exc:
            if last:
                raise
            if not self._warned:
                log.warning("could not check whether the source changed: trying again later",
                            source=self.display, error=str(exc))
                self._warned = True
        self._checked_at = time.monotonic()
        return self._token

    # --- shared machinery ------------------------------------------------------------------

    def meta(self) -> Meta:
        """The snapshot (fetched on first use, retried within the budget)."""
        if self._snapshot is None:
            self._snapshot = self.retrying(self._stat, "read its metadata")
            self._token = self._snapshot.token
            self._checked_at = time.monotonic()
        return self._snapshot

    def scrub(self, text: str) -> str:
        """``text`` without the location's password or query string."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def translate(self, exc: BaseException) -> IngestError:
        """Ours for ``exc``: IngestError as it is; the scheme's reading; a host DNS does not
        know (UserError); another socket error, a connection failure or timeout
        (SourceInterrupted); else UserError naming the library's error, scrubbed."""
        if isinstance(exc, IngestError):
            return exc
        if (mine := self._translate(exc)) is not None:
            return mine
        what = f"{type(exc).__name__}: {self.scrub(str(exc))}".rstrip(": ")
        if isinstance(exc, OSError | EOFError) and not isinstance(
                exc, FileNotFoundError | PermissionError | IsADirectoryError):  # the network
            if self.host and unresolvable(self.host):
                return UserError(f"{self.display}: unknown host {self.host}")
            return SourceInterrupted(f"{self.display}: {what}")
        return UserError(f"{self.display}: cannot be read: {what}")

    def retrying(self, work: Callable[[], T], what: str, budget: float | None = None) -> T:
        """``work()``; a transient failure is retried with backoff for ``budget`` seconds
        (default: the options' retry budget), re-made from scratch (``_reset``); then
        SourceUnavailable. Other failures are raised translated."""
        budget = self.options.retry_budget if budget is None else budget
        deadline, attempt, backoff = time.monotonic() + budget, 0, Backoff(base=0.5, cap=5.0)
        while True:
            try:
                return work()
            except Exception as exc:
                error = self.translate(exc)
                if not isinstance(error, TransientError):
                    raise error from None
                self._reset()
                delay = backoff.delay(attempt)
                if time.monotonic() + delay > deadline:
                    raise SourceUnavailable(
                        f"{self.display}: could not {what} for {budget:g} s ({error}); rerun "
                        "to resume from the saved offset") from None
                log.warning("source failed: retrying", source=self.display, action=what,
                            error=str(error), attempt=attempt + 1)
                time.sleep(delay)
                attempt += 1

    def _hashed(self, meta: Meta) -> Identity:
        """The sha256 of the whole object (its metadata names no version): one full read."""
        log.info("the source has no ETag or modification time: reading it whole to hash it",
                 source=self.display, bytes=meta.size)
        digest = hashlib.sha256()
        with io.BufferedReader(RemoteReader(self, meta), READ_BUFFER) as stream:
            while chunk := stream.read(HASH_CHUNK):
                digest.update(chunk)
        return Identity(digest.hexdigest(), "sha256", meta.size)

    def changed(self, detail: str) -> FileChanged:
        """The error for a read refused or cut because the object is no longer the snapshot."""
        return FileChanged(
            f"{self.display} changed while it was read ({detail}): stopped, not marked done; "
            "the batches published so far belong to the job of the object as it was when the "
            "run started; a rerun publishes the object as it is now, as a new job")

    def reached_end(self) -> None:
        self._read_end_at = time.monotonic()


__all__ = ["BLOCK_BYTES", "FIRST_REQUEST", "READ_BUFFER", "Meta", "NotFound", "RemoteSource",
           "object_identity", "redacted", "secrets_of", "unresolvable"]
