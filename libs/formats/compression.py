"""Compressed inputs, read as a stream: ``open_stream(source, compression)``.

Offsets (``Position.byte``) count bytes of the decompressed stream. A compressed stream
cannot seek: ``seek`` re-reads from the start (resume re-reads and skips to its offset), and
its ``extent`` is None (unknown until read).
"""

from __future__ import annotations

from typing import BinaryIO

from libs.errors import UserError
from libs.formats import guess_compression
from libs.sources.base import Source


def open_stream(source: Source, compression: str = "auto") -> BinaryIO:
    """``source``'s bytes, decompressed per ``compression`` (``auto``: by the name's suffix).
    UserError for a compression that cannot be read."""
    kind = guess_compression(source.name, compression)
    if kind != "none":
        raise UserError(f"{source.display}: {kind} input cannot be read yet")
    return source.open()
