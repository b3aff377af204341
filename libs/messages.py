"""The batch message: a slice of the CSV file plus what the consumer needs to load it.

The body is the file's bytes from one record boundary to another, unchanged; the metadata
travels in AMQP headers, with a schema version so the format can evolve.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from libs import constants as c
from libs.errors import PoisonMessage


@dataclass(frozen=True)
class Batch:
    job_id: str
    dataset: str
    seq: int
    first_line: int
    last_line: int
    records: int
    columns: tuple[str, ...]
    source: str
    body: bytes

    @property
    def message_id(self) -> str:
        return f"{self.job_id}:{self.first_line}-{self.last_line}"

    def headers(self) -> dict[str, Any]:
        return {
            c.H_VERSION: c.SCHEMA_VERSION,
            c.H_JOB: self.job_id,
            c.H_DATASET: self.dataset,
            c.H_SEQ: self.seq,
            c.H_FIRST_LINE: self.first_line,
            c.H_LAST_LINE: self.last_line,
            c.H_RECORDS: self.records,
            c.H_COLUMNS: list(self.columns),
            c.H_SOURCE: self.source,
        }


def _text(value: object, name: str, empty: bool = False) -> str:
    """``value`` as text; an empty string only where ``empty`` (a column without a name)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str) or not (value or empty):
        raise PoisonMessage(f"header {name} is missing or not text")
    return value


def _int(value: object, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise PoisonMessage(f"header {name} is missing or not a non-negative integer")
    return value


def decode(headers: Mapping[str, Any] | None, body: bytes) -> Batch:
    """Rebuild a Batch from a delivery; raise PoisonMessage if it can never be processed."""
    headers = headers or {}
    version = headers.get(c.H_VERSION)
    if version != c.SCHEMA_VERSION:
        raise PoisonMessage(f"unknown schema version {version!r} (expected {c.SCHEMA_VERSION})")
    columns = headers.get(c.H_COLUMNS)
    if not isinstance(columns, list | tuple) or not columns:
        raise PoisonMessage(f"header {c.H_COLUMNS} is missing or not a list")
    batch = Batch(
        job_id=_text(headers.get(c.H_JOB), c.H_JOB),
        dataset=_text(headers.get(c.H_DATASET), c.H_DATASET),
        seq=_int(headers.get(c.H_SEQ), c.H_SEQ),
        first_line=_int(headers.get(c.H_FIRST_LINE), c.H_FIRST_LINE),
        last_line=_int(headers.get(c.H_LAST_LINE), c.H_LAST_LINE),
        records=_int(headers.get(c.H_RECORDS), c.H_RECORDS),
        columns=tuple(_text(col, c.H_COLUMNS, empty=True) for col in columns),
        source=str(headers.get(c.H_SOURCE) or ""),
        body=body,
    )
    if batch.first_line < 2 or batch.last_line < batch.first_line:
        raise PoisonMessage(f"bad line range {batch.first_line}-{batch.last_line}")
    return batch
