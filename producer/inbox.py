"""What a watched source holds: its files, how to tell one is complete, how to move it aside.

A listing (``Listing``) names the files directly in the source (not in its subfolders) with a
``stamp`` that changes whenever a file's content may have: its size and modification time. A
file is *ready* once its stamp is the same on two polls in a row (:class:`Settling`): a
writer that appends more within the interval is waited for. Temporary names
(``libs.settings.WATCH_IGNORED``: ``*.part``, ``*.tmp``, hidden, ``~*``) and names no
``--pattern`` matches are never listed, so a file written as ``x.csv.part`` and renamed to
``x.csv`` once complete is taken only then.

``LocalListing`` reads a folder with ``os.scandir``; a remote prefix is one more class with
the same three methods (``producer.inbox_remote``, fsspec), picked by :func:`listing_for`.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlsplit, urlunsplit

from libs.errors import UserError
from libs.settings import WATCH_IGNORED, is_local
from libs.sources import LocalSource

Stamp = tuple[object, ...]


@dataclass(frozen=True)
class Entry:
    """One file of the source: ``location`` as ``--file`` takes it (a path or a URL),
    ``name`` its last segment, ``stamp`` its size and modification time (a remote object may
    add its version or ETag), ``size`` in bytes."""

    location: str
    name: str
    size: int
    stamp: Stamp


class Listing(Protocol):
    """A watched source. ``display``: the source for logs (no secret)."""

    display: str

    def entries(self) -> list[Entry]:
        """The files directly in the source (any name; :func:`wanted` filters); OSError when
        the source cannot be read now (a transient outage: the watcher tries again)."""
        ...

    def stamp(self, entry: Entry) -> Stamp | None:
        """``entry``'s stamp now, None if it is gone."""
        ...

    def move(self, entry: Entry, to: str) -> str:
        """Move ``entry`` into folder or prefix ``to`` (made if missing), under its name, or
        its stem plus a number if that name is taken; where it went. OSError if it cannot."""
        ...


def wanted(name: str, patterns: Sequence[str]) -> bool:
    """True for a name the watcher takes: no temporary or hidden name, and one of
    ``patterns`` (none: every name) matches it (fnmatch, case-sensitive)."""
    if any(fnmatchcase(name, ignored) for ignored in WATCH_IGNORED):
        return False
    return not patterns or any(fnmatchcase(name, pattern) for pattern in patterns)


class Settling:
    """Which files are ready: listed with the same stamp on the previous poll too."""

    def __init__(self) -> None:
        self._last: dict[str, Stamp] = {}

    def ready(self, entries: Sequence[Entry]) -> list[Entry]:
        """The entries whose stamp did not change since the previous call, oldest first (by
        stamp, then name); remembers this call's stamps for the next."""
        previous, self._last = self._last, {e.location: e.stamp for e in entries}
        stable = [e for e in entries if previous.get(e.location) == e.stamp]
        return sorted(stable, key=lambda e: (_mtime(e.stamp), e.name))


def _mtime(stamp: Stamp) -> float:
    value = stamp[1] if len(stamp) > 1 else 0
    return float(value) if isinstance(value, int | float) else 0.0


class LocalListing:
    """A folder on this machine (a path or a ``file://`` URL)."""

    def __init__(self, location: str) -> None:
        self.path = self.folder(location)
        self.display = str(self.path)
        if not self.path.is_dir():
            raise UserError(f"watch: {self.path} is not a folder")

    @staticmethod
    def folder(location: str) -> Path:
        """The folder's path (``file://`` URLs decoded)."""
        return LocalSource(location).path

    def entries(self) -> list[Entry]:
        found = []
        with os.scandir(self.path) as scan:
            for item in scan:
                try:
                    if not item.is_file():
                        continue
                    stat = item.stat()
                except FileNotFoundError:  # removed while listed
                    continue
                found.append(Entry(item.path, item.name, stat.st_size,
                                   (stat.st_size, stat.st_mtime_ns)))
        return found

    def stamp(self, entry: Entry) -> Stamp | None:
        try:
            stat = os.stat(entry.location)
        except FileNotFoundError:
            return None
        return stat.st_size, stat.st_mtime_ns

    def move(self, entry: Entry, to: str) -> str:
        folder = Path(to)
        folder.mkdir(parents=True, exist_ok=True)
        target = free_name(folder, entry.name)
        try:
            os.rename(entry.location, target)  # atomic within one file system
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            shutil.move(entry.location, target)  # another file system: copy, then remove
        return str(target)


def free_name(folder: Path, name: str) -> Path:
    """``folder/name``, or ``folder/<stem>.<n><suffixes>`` with the first free ``n``."""
    target = folder / name
    stem, dot, suffixes = name.partition(".")
    n = 1
    while target.exists():
        target = folder / f"{stem}.{n}{dot}{suffixes}"
        n += 1
    return target


def member(source: str, name: str) -> str:
    """The location of file ``name`` directly in ``source``: a path in a local folder, else
    the URL of the prefix with ``name`` appended percent-encoded (``report#1.csv`` is
    ``report%231.csv``: a ``#`` or ``?`` in a name never cuts the URL; the source modules
    decode the path), the prefix's query string kept."""
    if is_local(source):
        return str(LocalListing.folder(source) / name)
    parts = urlsplit(source)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/" + quote(name)))


def listing_for(location: str, storage: Mapping[str, Any] | None = None) -> Listing:
    """The listing of a watched ``location``: a local folder, else a remote prefix
    (``producer.inbox_remote``; ``storage``: its fsspec file system's options, such as an S3
    ``endpoint_url``). UserError for a folder that does not exist or a scheme no listing
    reads."""
    if is_local(location):
        return LocalListing(location)
    from producer.inbox_remote import RemoteListing  # fsspec: only for a remote source

    return RemoteListing(location, storage or {})
