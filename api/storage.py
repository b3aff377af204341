"""Uploads on disk: streamed into the uploads directory under a content address
(``<sha256>``: the same bytes under any name are one file), bounded in size; a client's file
name is never a path (the producer reads the layout from the dataset, never from a suffix).

A ``Spool`` writes in a worker thread (the event loop never waits on the disk), hashes as it
writes, and refuses the byte past the limit (``TooLarge``: its partial file removed). Partial
files are hidden (``.partial-*``) until complete, then renamed to their address.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import unicodedata
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

from api.problems import Problem

DEFAULT_NAME: Final = "upload.csv"
MAX_NAME_CHARS: Final = 200


def safe_name(name: str | None, default: str = DEFAULT_NAME) -> str:
    """A client's file name as a plain name: its last path segment (``/`` or ``\\``), NFC,
    without control or format characters, at most 200 characters; ``default`` if nothing is
    left (or only dots)."""
    text = unicodedata.normalize("NFC", name or "")
    text = re.split(r"[/\\]", text)[-1]
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C").strip()
    text = text[-MAX_NAME_CHARS:]
    return default if not text.strip(".") else text


class TooLarge(Problem):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the file is larger than the limit of {limit} bytes "
                              "(INGEST_MAX_UPLOAD_BYTES)", "too-large", limit=limit)


@dataclass(frozen=True)
class Stored:
    """A complete upload: its path (the content address), sha256, size, the client's name
    (safe), and whether this upload created the file (False: the same bytes were there)."""

    path: Path
    digest: str
    size: int
    name: str
    created: bool


class Spool:
    """One file being received into ``folder``, at most ``limit`` bytes."""

    def __init__(self, folder: Path, limit: int, name: str) -> None:
        self.folder, self.limit, self.name = folder, limit, safe_name(name)
        self.partial = folder / f".partial-{uuid.uuid4().hex}"
        self.size = 0
        self._hash = hashlib.sha256()
        self._handle: BinaryIO | None = None

    async def write(self, data: bytes) -> None:
        """Append ``data``; TooLarge past the limit (nothing of it written)."""
        if self.size + len(data) > self.limit:
            raise TooLarge(self.limit)
        self.size += len(data)
        await asyncio.to_thread(self._write, data)

    def _write(self, data: bytes) -> None:
        if self._handle is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._handle = self.partial.open("xb")
        self._hash.update(data)
        self._handle.write(data)

    async def finish(self) -> Stored:
        """The complete file under its address."""
        return await asyncio.to_thread(self._finish)

    def _finish(self) -> Stored:
        if self._handle is None:
            self._write(b"")
        assert self._handle is not None
        self._handle.close()
        digest = self._hash.hexdigest()
        path = self.folder / digest
        created = not path.exists()
        if created:
            os.replace(self.partial, path)
        else:
            self.partial.unlink()
        return Stored(path.resolve(), digest, self.size, self.name, created)

    async def discard(self) -> None:
        """Remove the partial file (after an error)."""
        await asyncio.to_thread(self._discard)

    def _discard(self) -> None:
        if self._handle is not None:
            self._handle.close()
        with suppress(FileNotFoundError):
            self.partial.unlink()


@asynccontextmanager
async def spooled(folder: Path, limit: int, name: str) -> AsyncIterator[Spool]:
    """A Spool whose partial file is removed if the block raises."""
    spool = Spool(folder, limit, name)
    try:
        yield spool
    except BaseException:
        await spool.discard()
        raise
