"""Sources behind one interface (``base.Source``): ``open_source(location)`` picks the module
of the location's URL scheme (none or ``file``: a local file; ``s3``, ``http``, ``https``,
``ftp``: ``remote`` and its modules). Another scheme is one more module and one more entry in
``SCHEMES``; each takes the location and the ``SourceOptions`` (what a local file ignores).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Final
from urllib.parse import unquote, urlsplit

from libs.errors import UserError
from libs.sources.base import Identity, Source, SourceOptions, redacted
from libs.sources.local import LocalSource, fingerprint

Factory = Callable[[str, SourceOptions | None], Source]


def _imported(module: str, name: str) -> Factory:
    """``module.name``, imported on first use: s3fs, botocore and aiohttp cost every process
    that reads settings (the consumer too) a noticeable start-up otherwise."""

    def make(location: str, options: SourceOptions | None = None) -> Source:
        found: Factory = getattr(importlib.import_module(module), name)
        return found(location, options)

    return make


SCHEMES: Final[dict[str, Factory]] = {
    "": LocalSource,
    "file": LocalSource,
    "s3": _imported("libs.sources.s3", "S3Source"),
    "http": _imported("libs.sources.http", "HttpSource"),
    "https": _imported("libs.sources.http", "HttpSource"),
    "ftp": _imported("libs.sources.ftp", "FtpSource"),
}


def scheme(location: str) -> str:
    """The URL scheme of ``location`` in lower case: a URL has ``://`` (``file:`` too); ""
    for a path, also one with a colon in it (``backup:1.csv``, ``C:\\x.csv``)."""
    found = urlsplit(location).scheme.lower()
    if len(found) <= 1 or ("://" not in location and found != "file"):
        return ""
    return found


def check_location(location: str) -> None:
    """UserError for a location whose scheme no module reads, or a URL its module cannot
    take (no bucket, no host, ...); nothing is fetched. The query string, which may hold a
    signature, and a password are never shown."""
    open_source(location)


def open_source(location: str, options: SourceOptions | None = None) -> Source:
    """The source at ``location`` (nothing is read yet); UserError for an unknown scheme or
    a URL its module cannot take."""
    kind = scheme(location)
    if kind not in SCHEMES:
        known = ", ".join(f"{name}://" for name in sorted(SCHEMES) if name)
        raise UserError(f"--file {redacted(location)}: no source reads {kind}:// "
                        f"(known: a path, {known})")
    return SCHEMES[kind](location, options)


def source_name(location: str) -> str:
    """The last segment of ``location``'s path (``s3://b/in/x.csv?sig`` -> ``x.csv``)."""
    path = unquote(urlsplit(location).path) if scheme(location) else location
    return PurePosixPath(path).name


__all__ = ["SCHEMES", "Identity", "LocalSource", "Source", "SourceOptions", "check_location",
           "fingerprint", "open_source", "redacted", "scheme", "source_name"]
