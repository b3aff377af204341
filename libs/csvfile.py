"""Users' files: the fingerprint (``libs.sources.local``), and the default CSV dialect's
names kept for their callers.

The record syntax lives in ``libs.formats.delimited`` (one definition for every dialect);
``libs.formats.reader_for(dataset)`` is the interface to use. The names below are that
module's, with the default dialect (``,`` ``"``, no escape, UTF-8).
"""

from __future__ import annotations

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
from libs.sources.local import READ_CHUNK, fingerprint

parse_fields = DEFAULT_SYNTAX.parse_fields


__all__ = ["BLANK", "BOM", "COMPLETE", "CONTINUES", "CR_ONLY", "READ_CHUNK", "Header",
           "MalformedRecord", "RawRecord", "RecordSplitter", "fingerprint", "parse_fields",
           "read_header", "split_records"]
