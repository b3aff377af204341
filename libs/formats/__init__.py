"""Input layouts behind one reader interface (``base.Reader``), shared by producer and consumer.

``reader_for(dataset)`` picks the module of the dataset's ``layout`` (``delimited``:
CSV and its dialects; ``aligned``: whitespace-aligned text) with its dialect and encoding.
Another layout is one more module and one more entry in ``LAYOUTS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Final

from libs import constants as c
from libs.errors import UserError
from libs.formats.aligned import AlignedReader
from libs.formats.base import Chunk, Header, Position, Reader, Record
from libs.formats.delimited import DelimitedReader
from libs.schema.model import Dataset

LAYOUTS: Final[dict[str, Callable[[Dataset, int], Reader]]] = {
    "delimited": DelimitedReader,
    "aligned": AlignedReader,
}


def reader_for(dataset: Dataset, max_record_bytes: int = c.MAX_RECORD_BYTES) -> Reader:
    """The reader of ``dataset``'s layout, dialect and encoding; UserError for a bad one."""
    return LAYOUTS[dataset.layout](dataset, max_record_bytes)


_NAMED: Final = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}


def character(value: str, what: str) -> str:
    """A dialect character as given on a command line: ``tab`` or ``\\t`` is a tab."""
    char = _NAMED.get(value.lower(), value)
    if len(char) != 1:
        raise UserError(f"{what} must be one character (or tab), got {value!r}")
    return char


def with_overrides(dataset: Dataset, *, delimiter: str | None = None,
                   quote_char: str | None = None, escape_char: str | None = None,
                   encoding: str | None = None, no_header: bool = False) -> Dataset:
    """``dataset`` with the producer's dialect and encoding options applied (None: keep)."""
    dialect = dataset.dialect
    if delimiter is not None:
        dialect = replace(dialect, delimiter=character(delimiter, "--delimiter"))
    if quote_char is not None:
        dialect = replace(dialect, quote_char=character(quote_char, "--quote-char"))
    if escape_char is not None:
        dialect = replace(dialect, escape_char=character(escape_char, "--escape-char"))
    if no_header:
        dialect = replace(dialect, header=False)
    return replace(dataset, dialect=dialect, encoding=encoding or dataset.encoding)


__all__ = ["Chunk", "Header", "Position", "Reader", "Record", "character", "reader_for",
           "with_overrides"]
