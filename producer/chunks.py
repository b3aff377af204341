"""Cut a file into batches: the default CSV dialect's chunker, for its callers.

The chunker lives in ``libs.formats.chunking`` and each layout's reader
(``libs.formats.reader_for(dataset).iter_chunks``) uses it; this is the default dialect's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from libs.constants import DEFAULT_BATCH_BYTES
from libs.formats import chunking
from libs.formats.base import Chunk, Position
from libs.formats.delimited import DEFAULT_SYNTAX, RecordSplitter


def iter_chunks(handle: BinaryIO, start: Position, batch_size: int, max_record_bytes: int,
                batch_bytes: int = DEFAULT_BATCH_BYTES) -> Iterator[Chunk]:
    """Batches of the default dialect from ``start`` (the handle is positioned there)."""
    return chunking.iter_chunks(handle, start, batch_size, batch_bytes,
                                RecordSplitter(max_record_bytes), DEFAULT_SYNTAX.quote_byte)


__all__ = ["Chunk", "Position", "iter_chunks"]
