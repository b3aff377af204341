"""Users' files: the fingerprint, and the default CSV dialect's names kept for their callers.

The record syntax lives in ``libs.formats.delimited`` (one definition for every dialect);
``libs.formats.reader_for(dataset)`` is the interface to use. The names below are that
module's, with the default dialect (``,`` ``"``, no escape, UTF-8).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Final

from libs.formats.base import Header
from libs.formats.delimited import (
    BLANK,
    BOM,
    COMPLETE,
    CONTINUES,
    CR_ONLY,
    DEFAULT_SYNTAX,
    MalformedRecord,
    RawRecord,
    RecordSplitter,
    read_header,
    split_records,
)

READ_CHUNK: Final = 1 << 20

parse_fields = DEFAULT_SYNTAX.parse_fields


def fingerprint(path: Path) -> str:
    """sha256 of the file's bytes: a changed file is a new job."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


__all__ = ["BLANK", "BOM", "COMPLETE", "CONTINUES", "CR_ONLY", "READ_CHUNK", "Header",
           "MalformedRecord", "RawRecord", "RecordSplitter", "fingerprint", "parse_fields",
           "read_header", "split_records"]
