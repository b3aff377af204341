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
        self.fs, self.root = _fsspec().core.url_to_fs(self.location, **self.storage)

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
        fs, folder = _fsspec().core.url_to_fs(to, **self.storage)
        folder = str(folder).rstrip("/")
        stem, dot, suffixes = entry.name.partition(".")
        target, n = f"{folder}/{entry.name}", 1
        while fs.exists(target):
            target, n = f"{folder}/{stem}.{n}{dot}{suffixes}", n + 1
        self.fs.mv(self._path(entry), target)
        return redact_url(member(to, target.rsplit("/", 1)[-1]))
