"""A watched remote prefix (``s3://bucket/in/``, ``ftp://user@host/in/``) listed with fsspec.

The same three methods as ``producer.inbox.LocalListing``. Each file's location is the
source's URL with the file's name appended (credentials and all, never logged: ``display`` is
redacted), so that the source module of its scheme (``libs.sources.SCHEMES``) opens it; a
scheme no source module reads is refused at start. fsspec and the backend of the scheme
(s3fs, fsspec's own FTP) come with the remote sources (libs.sources); without them a remote
watch is one clear error line.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from libs.errors import UserError
from libs.settings import redact_url
from libs.sources import check_location
from producer.inbox import Entry, Stamp, member


def _fsspec() -> Any:
    try:
        return importlib.import_module("fsspec")
    except ImportError as exc:
        raise UserError("watching a remote source needs fsspec and its backend (s3fs for "
                        "s3://): pip install 'csv-ingest' with the remote sources") from exc


def _file_system(location: str, storage: Mapping[str, Any]) -> tuple[Any, str]:
    """fsspec's (file system, root path) of ``location``. An FTP URL's user and password are
    passed decoded (fsspec's url_to_fs keeps them percent-encoded: ``p%40ss`` is not the
    password ``p@ss``) and taken out of the URL."""
    parts = urlsplit(location)
    options = dict(storage)
    if parts.scheme.lower() == "ftp" and parts.username is not None:
        options.update(username=unquote(parts.username),
                       password=unquote(parts.password or ""))
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        location = urlunsplit(parts._replace(netloc=netloc))
    try:
        fs, root = _fsspec().core.url_to_fs(location, **options)
    except UserError:
        raise
    except Exception as exc:  # FTP logs in here: a refused login, an unknown host
        raise UserError(f"{redact_url(location).split('?')[0]}: cannot be listed: "
                        f"{type(exc).__name__}: {redact_url(str(exc))}") from exc
    return fs, str(root)


def _seconds(value: object) -> float:
    """A listing's modification time as seconds (datetime, number, or FTP's YYYYMMDDhhmmss)."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value[:14].isdigit():
        return datetime.strptime(value[:14], "%Y%m%d%H%M%S").timestamp()
    return 0.0


def _stamp(info: dict[str, Any]) -> Stamp:
    """Size, modification time and the object's ETag or version (when the store says)."""
    when = info.get("LastModified") or info.get("mtime") or info.get("modify") or info.get(
        "last_modified")
    tag = info.get("ETag") or info.get("VersionId") or ""
    return int(info.get("size") or 0), _seconds(when), str(tag)


class RemoteListing:
    """The files directly under a remote prefix; ``storage``: the fsspec file system's
    options (an S3 ``endpoint_url``, ...)."""

    def __init__(self, location: str, storage: Mapping[str, Any]) -> None:
        self.location = location if location.endswith("/") else location + "/"
        check_location(member(self.location, "FILE"))  # a source module reads what is listed
        self.display = redact_url(self.location).split("?")[0]
        self.storage = dict(storage)
        self.fs, self.root = _file_system(self.location, self.storage)

    def entries(self) -> list[Entry]:
        found = []
        for info in self.fs.ls(self.root, detail=True, refresh=True):
            if info.get("type") != "file":
                continue
            name = str(info["name"]).rstrip("/").rsplit("/", 1)[-1]
            found.append(Entry(member(self.location, name), name, int(info.get("size") or 0),
                               _stamp(info)))
        return found

    def _path(self, entry: Entry) -> str:
        return f"{str(self.root).rstrip('/')}/{entry.name}"

    def stamp(self, entry: Entry) -> Stamp | None:
        try:
            return _stamp(self.fs.info(self._path(entry)))
        except FileNotFoundError:
            return None

    def move(self, entry: Entry, to: str) -> str:
        fs, folder = _file_system(to, self.storage)
        folder = str(folder).rstrip("/")
        stem, dot, suffixes = entry.name.partition(".")
        target, n = f"{folder}/{entry.name}", 1
        while fs.exists(target):
            target, n = f"{folder}/{stem}.{n}{dot}{suffixes}", n + 1
        self.fs.mv(self._path(entry), target)
        return redact_url(member(to, target.rsplit("/", 1)[-1]))
