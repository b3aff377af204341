"""The rows of a batch as ``COPY ... (FORMAT csv)`` data, unambiguous by construction.

PostgreSQL's CSV COPY reads an unquoted empty field as NULL, a quoted field literally (``""``
is one quote) and a line that starts with ``\\.`` then a line end as the end of the data
(docs: COPY, "CSV Format"). A value is quoted when it holds the delimiter, a quote, CR, LF or a
backslash (which covers every ``\\.``); every other value, the empty one (NULL) included, is
written as it is. The common batch needs no quoting at all: it is joined in one go and used
only when counting its commas, line ends, quotes, CRs and backslashes proves that no value
holds one; otherwise each row is written by the per-value rule.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from typing import Final

Row = tuple[str, ...]

NEEDS_QUOTES: Final = re.compile(r'[,"\r\n\\]')
SPECIAL: Final = re.compile(r'["\r\n\\]')  # NEEDS_QUOTES but the delimiter


async def copy_source(payload: bytes) -> AsyncIterator[bytes]:
    """``payload`` as the ``source`` of asyncpg's ``copy_to_table``: an async iterable of one
    chunk (a file-like source would be read through a thread pool)."""
    yield payload


def copy_payload(rows: Sequence[Row], maybe_plain: bool = True) -> bytes:
    """``rows`` as CSV lines ending in LF, UTF-8; values quoted where the rule needs it.

    ``maybe_plain=False`` (the batch's text had quotes or lone CRs) skips the attempt to join
    the whole batch in one go, which would then likely fail (~0.4 s per 1M rows); the
    result is the same either way.
    """
    if maybe_plain:
        text = "\n".join(map(",".join, rows)) + "\n"
        separators = sum(map(len, rows)) - len(rows)
        if (text.count(",") == separators and text.count("\n") == len(rows)
                and '"' not in text and "\r" not in text and "\\" not in text):
            return text.encode()
    return ("\n".join(map(csv_line, rows)) + "\n").encode()


def csv_line(row: Row) -> str:
    """One row as a CSV line (without its line end)."""
    line = ",".join(row)
    if line.count(",") == len(row) - 1 and SPECIAL.search(line) is None:
        return line
    return ",".join(map(_field, row))


def _field(value: str) -> str:
    if NEEDS_QUOTES.search(value) is None:
        return value
    return '"' + value.replace('"', '""') + '"'


def row_at_line(rows: Sequence[Row], line: int) -> int | None:
    """Index of the row of :func:`copy_payload` (rows) that spans physical ``line`` (1-based,
    as COPY's error context counts), or None when no row does."""
    end = 0
    for index, row in enumerate(rows):
        end += csv_line(row).count("\n") + 1
        if line <= end:
            return index if line > 0 else None
    return None
