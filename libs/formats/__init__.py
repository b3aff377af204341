"""Input layouts behind one reader interface (``base.Reader``), shared by producer and consumer.

``reader_for(dataset)`` picks the module of the dataset's ``layout`` (``delimited``:
CSV and its dialects; ``aligned``: whitespace-aligned text; ``jsonl``; ``parquet``) with its
dialect and encoding; the module is imported on first use. Another layout is one more
module and one more entry in ``LAYOUTS``.

The producer's ``--format`` (``FORMATS``) picks the layout of a file, guessed from its name
when absent (``guess_format``): ``csv`` is the dataset's own text layout (delimited or
aligned). ``--compression`` (``COMPRESSIONS``, ``libs.formats.compression``) is guessed from
the name's last suffix (``.gz``, ``.zst``) and stripped before the format is guessed.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Final

from libs import constants as c
from libs.errors import UserError
from libs.formats.base import Chunk, Header, Position, Reader, Record

if TYPE_CHECKING:
    from libs.schema.model import Dataset

Layout = Callable[["Dataset", int], Reader]


def _imported(module: str, name: str) -> Layout:
    """``module.name``, imported on first use: a process reads one layout, and importing
    the package (for FORMATS, ``--help``...) loads none (pyarrow, for Parquet, is large)."""

    def make(dataset: Dataset, max_record_bytes: int) -> Reader:
        found: Layout = getattr(importlib.import_module(module), name)
        return found(dataset, max_record_bytes)

    return make


LAYOUTS: Final[dict[str, Layout]] = {
    "delimited": _imported("libs.formats.delimited", "DelimitedReader"),
    "aligned": _imported("libs.formats.aligned", "AlignedReader"),
    "jsonl": _imported("libs.formats.jsonl", "JsonlReader"),
    "parquet": _imported("libs.formats.parquet", "ParquetReader"),
}


FORMATS: Final = ("csv", "jsonl", "parquet")
COMPRESSIONS: Final = ("auto", "none", "gzip", "zstd")
_FORMAT_SUFFIXES: Final = {".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet",
                           ".pq": "parquet"}
_COMPRESSION_SUFFIXES: Final = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd",
                                ".zstd": "zstd"}


def reader_for(dataset: Dataset, max_record_bytes: int = c.MAX_RECORD_BYTES) -> Reader:
    """The reader of ``dataset``'s layout, dialect and encoding; UserError for a bad one."""
    if dataset.layout not in LAYOUTS:
        raise UserError(f"the {dataset.layout} layout cannot be read yet")
    return LAYOUTS[dataset.layout](dataset, max_record_bytes)


def guess_compression(name: str, option: str = "auto") -> str:
    """``option`` unless ``auto``: then ``gzip`` or ``zstd`` by ``name``'s last suffix, else
    ``none``."""
    if option != "auto":
        return option
    return _COMPRESSION_SUFFIXES.get(PurePosixPath(name).suffix.lower(), "none")


def guess_format(name: str, option: str | None = None) -> str:
    """``option`` if given; else ``jsonl`` (.jsonl, .ndjson) or ``parquet`` (.parquet, .pq)
    by ``name``'s suffix once a compression suffix is stripped; else ``csv``."""
    if option is not None:
        return option
    path = PurePosixPath(name)
    if path.suffix.lower() in _COMPRESSION_SUFFIXES:
        path = path.with_suffix("")
    return _FORMAT_SUFFIXES.get(path.suffix.lower(), "csv")


def layout_of(file_format: str, dataset: Dataset) -> str:
    """The layout a file of ``file_format`` is read with: ``csv`` keeps the dataset's text
    layout (``delimited`` or ``aligned``)."""
    if file_format == "csv":
        return dataset.layout if dataset.layout in ("delimited", "aligned") else "delimited"
    return file_format


_NAMED: Final = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}


def character(value: str, what: str) -> str:
    """A dialect character as given on a command line: ``tab`` or ``\\t`` is a tab."""
    char = _NAMED.get(value.lower(), value)
    if len(char) != 1:
        raise UserError(f"{what} must be one character (or tab), got {value!r}")
    return char


def with_overrides(dataset: Dataset, *, delimiter: str | None = None,
                   quote_char: str | None = None, escape_char: str | None = None,
                   encoding: str | None = None, no_header: bool = False,
                   layout: str | None = None) -> Dataset:
    """``dataset`` with the producer's layout, dialect and encoding options applied (None:
    keep)."""
    if layout is not None:
        dataset = replace(dataset, layout=layout)
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


__all__ = ["COMPRESSIONS", "FORMATS", "Chunk", "Header", "Position", "Reader", "Record",
           "character", "guess_compression", "guess_format", "layout_of", "reader_for",
           "with_overrides"]
