"""Sources behind one interface (``base.Source``): ``open_source(location)`` picks the module
of the location's URL scheme (none or ``file``: a local file). Another scheme is one more
module and one more entry in ``SCHEMES``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Final
from urllib.parse import urlsplit

from libs.errors import UserError
from libs.sources.base import Identity, Source
from libs.sources.local import LocalSource, fingerprint

SCHEMES: Final[dict[str, Callable[[str], Source]]] = {
    "": LocalSource,
    "file": LocalSource,
}


def scheme(location: str) -> str:
    """The URL scheme of ``location`` in lower case ("" for a plain path, also a Windows
    drive letter such as ``C:``)."""
    found = urlsplit(location).scheme.lower()
    return "" if len(found) <= 1 else found


def check_location(location: str) -> None:
    """UserError for a location whose scheme no module reads (the query string, which may
    hold a signature, is never shown)."""
    kind = scheme(location)
    if kind not in SCHEMES:
        known = ", ".join(f"{name}://" for name in sorted(SCHEMES) if name)
        raise UserError(f"--file {location.split('?')[0]}: no source reads {kind}:// "
                        f"(known: a path, {known})")


def open_source(location: str) -> Source:
    """The source at ``location`` (nothing is read yet); UserError for an unknown scheme."""
    check_location(location)
    return SCHEMES[scheme(location)](location)


def source_name(location: str) -> str:
    """The last segment of ``location``'s path (``s3://b/in/x.csv?sig`` -> ``x.csv``)."""
    path = urlsplit(location).path if scheme(location) else location
    return PurePosixPath(path).name


__all__ = ["SCHEMES", "Identity", "LocalSource", "Source", "check_location", "fingerprint",
           "open_source", "scheme", "source_name"]
