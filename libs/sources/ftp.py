"""``ftp://[user[:password]@]host[:port]/path`` through fsspec's FTP filesystem (ftplib),
read in blocks of ``remote.BLOCK_BYTES``: each is ``REST offset`` + ``RETR`` on a new data
connection, stopped once the block is in, so a resumed job starts at its offset.

No user logs in as ``anonymous``. The password (percent-encoded in the URL where it holds
``@ : /``) is never shown: ``display`` is ``ftp://user:***@host/path``.

Identity: the modification time the server gives for the file (``MDTM``, whole seconds on
most servers) plus its size (``SIZE``), hashed with ``ftp://host[:port]/path``
(``remote.object_identity``). A file rewritten within the same second with the same size
keeps its identity: the same job, and the offset of the old content would be reused; write
files elsewhere and rename them into place (which also keeps a half-written file from being
read). A server without ``MDTM`` has the file read whole once and hashed (sha256). FTP has no
conditional read: a change during the run is found by ``state()`` (MDTM and SIZE at most every
``remote.STATE_CHECK_INTERVAL_S`` and after the last byte), as for a local file.
"""

from __future__ import annotations

import ftplib
from contextlib import suppress
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from fsspec.implementations.ftp import FTPFile, FTPFileSystem  # type: ignore[import-untyped]

from libs.errors import IngestError, SourceInterrupted, UserError
from libs.sources.base import SourceOptions
from libs.sources.remote import BLOCK_BYTES, Meta, NotFound, RemoteSource, object_identity

TIMEOUT_S: Final = 30
UNSUPPORTED: Final = ("500", "501", "502", "504")  # MDTM not implemented


class FtpSource(RemoteSource):
    """A file on an FTP server (see the module)."""

    def __init__(self, location: str, options: SourceOptions | None = None) -> None:
        super().__init__(location, options)
        try:
            parts = urlsplit(location)
            self.port = parts.port or 21
        except ValueError as exc:
            raise UserError(f"--file {self.display}: not a valid URL") from exc
        self.host = parts.hostname or ""
        self.path = unquote(parts.path)
        if not self.host or not self.path.strip("/") or self.path.endswith("/"):
            raise UserError(f"--file {self.display}: expected ftp://[USER[:PASSWORD]@]HOST/PATH")
        if parts.query:
            raise UserError(f"--file {self.display}: an ftp:// URL takes no query")
        self.user = unquote(parts.username or "")
        self.password = unquote(parts.password or "")
        self.where = f"ftp://{self.host}:{self.port}{self.path}"
        self._fs: Any = None

    def _filesystem(self) -> Any:
        if self._fs is None:  # connects and logs in
            self._fs = FTPFileSystem(self.host, self.port, username=self.user or None,
                                     password=self.password or None, timeout=TIMEOUT_S,
                                     block_size=BLOCK_BYTES, skip_instance_cache=True)
        return self._fs

    def _stat(self) -> Meta:
        ftp: ftplib.FTP = self._filesystem().ftp
        ftp.voidcmd("TYPE I")  # SIZE is refused in ASCII mode by some servers
        size = ftp.size(self.path)
        if size is None:
            raise UserError(f"{self.display}: the server does not tell the file's size")
        try:
            mdtm = ftp.sendcmd(f"MDTM {self.path}")[4:].strip()
        except ftplib.error_perm as exc:
            if not str(exc).startswith(UNSUPPORTED):
                raise
            return Meta(size, ("size", str(size)), None)
        token = ("mdtm", mdtm, str(size))
        return Meta(size, token, object_identity("ftp-mdtm", self.where, token, size))

    def _open_file(self, meta: Meta) -> Any:
        return FTPFile(self._filesystem(), self.path, mode="rb", block_size=BLOCK_BYTES,
                       cache_type="none", size=meta.size)

    def _reset(self) -> None:
        fs, self._fs = self._fs, None
        if fs is not None:
            with suppress(Exception):
                fs.ftp.close()

    def _translate(self, exc: BaseException) -> IngestError | None:
        text = self.scrub(str(exc)).strip()
        if isinstance(exc, ftplib.error_perm):
            if text.startswith("530"):
                return UserError(f"{self.display}: the FTP server refused the login ({text}): "
                                 "check the user and password")
            if text.startswith("550"):
                return NotFound(f"{self.display}: not found ({text})")
            return UserError(f"{self.display}: the FTP server refused ({text})")
        if isinstance(exc, ftplib.error_temp | ftplib.error_reply | ftplib.error_proto):
            return SourceInterrupted(f"{self.display}: FTP {text}")
        return None
