"""Encodings: which ones are read, how a record is decoded, and UTF-16 transcoding.

- utf-8, utf-8-sig (a BOM at the start is skipped either way), latin-1 and cp1252 are split
  byte-wise (delimiters, quotes and line ends are the ASCII bytes in all of them) and each
  record is decoded on its own: one that does not decode is rejected ``invalid_encoding`` with
  the offset of its first bad byte (latin-1 decodes every byte; cp1252 leaves five undefined).
- utf-16, utf-16le, utf-16be: the producer transcodes the file to UTF-8 while reading it
  (``Utf8Stream``: a streaming decoder, bounded memory) and everything downstream, offsets
  and batches included, is that UTF-8 stream. A resume re-reads the file from its start and
  skips the saved number of UTF-8 bytes (no byte offset of the UTF-16 file is kept). Bytes
  that are not UTF-16 (a lone surrogate, an odd last byte) become bytes that are not UTF-8,
  so their record is rejected ``invalid_encoding`` by the consumer.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from typing import BinaryIO, Final

from libs.errors import UserError
from libs.formats.replay import ReplayStream

UTF8_BOM: Final = codecs.BOM_UTF8
BLOCK: Final = 1 << 20
# codec name (codecs.lookup(...).name) -> what the user calls it in messages.
SUPPORTED: Final = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "iso8859-1": "latin-1",
                    "cp1252": "cp1252", "utf-16": "utf-16", "utf-16-le": "utf-16le",
                    "utf-16-be": "utf-16be"}
TRANSCODED: Final = frozenset({"utf-16", "utf-16-le", "utf-16-be"})
_HANDLER: Final = "csv-ingest-not-utf8"


def _not_utf8(exc: UnicodeError) -> tuple[str, int]:
    """Decode error handler: bad input bytes become lone surrogates, which UTF-8 (with
    surrogatepass) encodes as bytes no UTF-8 decoder accepts."""
    assert isinstance(exc, UnicodeDecodeError)
    bad = exc.object[exc.start : exc.end]
    return "".join(chr(0xDC00 + byte) for byte in bad), exc.end


codecs.register_error(_HANDLER, _not_utf8)

_UNDECODED: Final = re.compile("[\udc00-\udcff]+")


def file_bytes(wire: bytes, encode: Callable[[str], bytes]) -> bytes:
    """A transcoded record's bytes as they were in the file, the inverse of ``Utf8Stream``:
    ``wire`` (UTF-8, undecodable input bytes as the lone surrogates U+DC00+b of
    ``_not_utf8``) re-encoded with ``encode`` (the file's codec), each such surrogate written
    as its byte b again."""
    text = wire.decode("utf-8", "surrogatepass")
    parts: list[bytes] = []
    at = 0
    for run in _UNDECODED.finditer(text):
        parts += [encode(text[at : run.start()]), bytes(ord(ch) - 0xDC00 for ch in run[0])]
        at = run.end()
    parts.append(encode(text[at:]))
    return b"".join(parts)


def codec_name(encoding: str) -> str:
    """The codec name of a supported encoding, or UserError listing the supported ones."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        name = ""
    if name not in SUPPORTED:
        raise UserError(f"encoding {encoding!r} is not supported: use utf-8, utf-8-sig, "
                        "latin-1, cp1252, utf-16, utf-16le or utf-16be")
    return name


def wire_codec(encoding: str) -> str:
    """The codec of the bytes the reader splits and the batches carry."""
    name = codec_name(encoding)
    if name in TRANSCODED:
        return "utf-8"
    return "utf-8" if name == "utf-8-sig" else name


def label(codec: str) -> str:
    return SUPPORTED.get(codec, codec)


def decode_error(data: bytes, exc: UnicodeDecodeError, codec: str) -> str:
    """The invalid_encoding detail for ``data`` (one record) that ``codec`` cannot decode."""
    return f"byte 0x{data[exc.start]:02x} at offset {exc.start} is not {label(codec)}"


class Utf8Stream(ReplayStream):
    """A read-only binary stream of ``raw`` transcoded to UTF-8 (see the module).

    ``seek`` (from the start only) re-reads ``raw`` from byte 0 and skips; memory is bounded
    by the largest read asked for plus one block.
    """

    what = "a transcoded stream"

    def __init__(self, raw: BinaryIO, encoding: str) -> None:
        self._raw = raw
        self._codec = codec_name(encoding)
        self._rewind()

    def _rewind(self) -> None:
        self._raw.seek(0)
        self._decoder = codecs.getincrementaldecoder(self._codec)(_HANDLER)
        self._buffer = bytearray()
        self._pos = 0
        self._eof = False

    def _fill(self) -> bool:
        """One more block transcoded into the buffer; False at the end of ``raw``."""
        if self._eof:
            return False
        block = self._raw.read(BLOCK)
        try:
            text = self._decoder.decode(block, final=not block)
        except UnicodeDecodeError:
            raise
        except UnicodeError as exc:  # "utf-16": no byte order mark to tell the byte order
            raise UserError(f"the file does not start with a UTF-16 byte order mark ({exc}): "
                            "name the byte order, --encoding utf-16le or utf-16be") from exc
        self._eof = not block
        self._buffer += text.encode("utf-8", "surrogatepass")
        return True

