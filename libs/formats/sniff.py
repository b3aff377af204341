"""Hints from the first bytes of a file: another encoding or delimiter than the dataset's.

The producer logs each hint as one warning and still publishes (the records say the rest:
``invalid_encoding``, ``wrong_column_count``). Encoding: the sample does not decode in the
declared encoding, a UTF-16 BOM under an 8-bit encoding, or valid non-ASCII UTF-8 under latin-1
or cp1252; the guess is charset-normalizer's. Delimiter: the header line (a delimited layout
with a header) holds none of the declared delimiter but one of ``;``, tab, ``|``, ``,``.
"""

from __future__ import annotations

import codecs
from typing import Final

from libs.formats.encodings import TRANSCODED, codec_name
from libs.schema.model import Dataset

SAMPLE_BYTES: Final = 64 << 10
DELIMITERS: Final = (";", "\t", "|", ",")
CANDIDATES: Final = {"utf_8": "utf-8", "cp1252": "cp1252", "latin_1": "latin-1"}
_NAMES: Final = {";": "';'", "\t": "tab", "|": "'|'", ",": "','"}


def hints(sample: bytes, dataset: Dataset) -> list[str]:
    """One line per hint about ``sample`` (the file's first bytes); [] if none (always for
    a binary layout: parquet)."""
    if dataset.layout == "parquet":
        return []
    found: list[str] = []
    encoding = _encoding_hint(sample, codec_name(dataset.encoding))
    if encoding:
        found.append(encoding)
    if dataset.layout == "delimited" and dataset.dialect.header:
        delimiter = _delimiter_hint(sample, dataset)
        if delimiter:
            found.append(delimiter)
    return found


def _decodes(sample: bytes, codec: str) -> bool:
    try:
        codecs.getincrementaldecoder(codec)().decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _guess(sample: bytes) -> str:
    """charset-normalizer's best among the encodings we read (cp1252 when it cannot tell);
    imported only when a guess is needed (it costs the producer's start otherwise)."""
    from charset_normalizer import from_bytes

    best = from_bytes(sample, cp_isolation=list(CANDIDATES)).best()
    return CANDIDATES.get(best.encoding, "cp1252") if best is not None else "cp1252"


def _encoding_hint(sample: bytes, codec: str) -> str | None:
    if codec in TRANSCODED:
        return None
    declared = f"the dataset's encoding {codec}"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return f"the file starts with a UTF-16 byte order mark but {declared} is not UTF-16: " \
               "try --encoding utf-16"
    if not _decodes(sample, codec):
        guess = _guess(sample)
        return (f"the first {len(sample)} bytes do not decode as {declared}; they look like "
                f"{guess}: try --encoding {guess} (records that do not decode are rejected "
                "invalid_encoding)")
    if codec in ("iso8859-1", "cp1252") and not sample.isascii() and _decodes(sample, "utf-8"):
        return (f"the first {len(sample)} bytes are valid UTF-8 with non-ASCII characters but "
                f"{declared}: try --encoding utf-8 (else they load as mojibake)")
    return None


def _delimiter_hint(sample: bytes, dataset: Dataset) -> str | None:
    line = sample.split(b"\n", 1)[0]
    declared = dataset.dialect.delimiter
    if declared.encode() in line:
        return None
    counts = {d: line.count(d.encode()) for d in DELIMITERS if d != declared}
    other = max(counts, key=lambda d: counts[d])
    if not counts[other]:
        return None
    return (f"the header (line 1) holds no {_NAMES.get(declared, repr(declared))} but "
            f"{counts[other]} {_NAMES[other]}: try --delimiter "
            f"{'tab' if other == chr(9) else repr(other)}")
