"""A local file (a path, or a ``file://`` URL)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import BinaryIO, Final
from urllib.parse import unquote, urlsplit

from libs.errors import UserError
from libs.sources.base import Identity, SourceOptions

READ_CHUNK: Final = 1 << 20


def fingerprint(path: Path) -> str:
    """sha256 hex of the file's bytes: a changed file is a new job."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class LocalSource:
    """A regular file on this machine; ``location`` a path or ``file:///abs/path``."""

    def __init__(self, location: str, options: SourceOptions | None = None) -> None:
        del options  # nothing to reach
        self.location = location
        self.path = Path(unquote(urlsplit(location).path)) if location.startswith("file:") \
            else Path(location)
        self.display = str(self.path)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def local_path(self) -> Path:
        return self.path.resolve()

    def _check(self) -> None:
        if not self.path.exists():
            raise UserError(f"file not found: {self.path}")
        if not self.path.is_file():
            raise UserError(f"not a regular file: {self.path}")

    def size(self) -> int:
        self._check()
        return self.path.stat().st_size

    def identity(self) -> Identity:
        return Identity(fingerprint(self.path), "sha256", self.size())

    def open(self) -> BinaryIO:
        self._check()
        try:
            return self.path.open("rb", buffering=READ_CHUNK)
        except OSError as exc:
            raise UserError(f"cannot read {self.path}: {exc.strerror}") from exc

    def state(self, handle: BinaryIO) -> tuple[object, ...]:
        stat = os.fstat(handle.fileno())
        return stat.st_size, stat.st_mtime_ns
