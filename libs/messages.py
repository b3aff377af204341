"""The batch message: a slice of the CSV file plus what the consumer needs to load it.

The body is the file's bytes from one record boundary to another, unchanged; the metadata
travels in AMQP headers, with a schema version so the format can evolve:

- version 1: no dataset fingerprint; the consumer resolves the dataset by its name;
- version 2 (written now): ``x-ingest-fingerprint`` is the sha256 of the dataset's descriptor,
  registered in ``ingest_datasets`` by the producer before its first publish, so any consumer
  rebuilds the dataset without local files.

A Batch without a fingerprint is written as version 1; ``decode`` reads both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from libs import constants as c
from libs.errors import PoisonMessage, UserError

_FINGERPRINT = re.compile(r"[0-9a-f]{64}")
# The header's names travel in every message's AMQP headers, which must fit in one frame
# (RabbitMQ's frame_max, 128 KiB by default, shared with the other headers): a bound well
# below it, checked once before anything is published.
MAX_COLUMNS_BYTES = 64 * 1024


def check_columns_fit(columns: tuple[str, ...]) -> None:
    """UserError if the header's names cannot travel in a message's AMQP headers."""
    size = sum(len(name.encode()) + 5 for name in columns)  # AMQP field: type + length + text
    if size > MAX_COLUMNS_BYTES:
        raise UserError(
            f"the header has {len(columns)} columns ({size // 1024} KiB of names): more than a "
            f"message can carry ({MAX_COLUMNS_BYTES // 1024} KiB, within RabbitMQ's frame_max); "
            "remove the columns the table does not need from the file")


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
    fingerprint: str = ""  # the dataset descriptor's sha256 (version 2); "" in version 1

    @property
    def version(self) -> int:
        return c.SCHEMA_VERSION if self.fingerprint else 1

    @property
    def message_id(self) -> str:
        return f"{self.job_id}:{self.first_line}-{self.last_line}"

    def headers(self) -> dict[str, Any]:
        headers: dict[str, Any] = {
            c.H_VERSION: self.version,
            c.H_JOB: self.job_id,
            c.H_DATASET: self.dataset,
            c.H_SEQ: self.seq,
            c.H_FIRST_LINE: self.first_line,
            c.H_LAST_LINE: self.last_line,
            c.H_RECORDS: self.records,
            c.H_COLUMNS: list(self.columns),
            c.H_SOURCE: self.source,
        }
        if self.fingerprint:
            headers[c.H_FINGERPRINT] = self.fingerprint
        return headers


@dataclass(frozen=True)
class Seal:
    """The producer sealed ``job_id`` (header ``x-ingest-kind: seal``, no body)."""

    job_id: str
    dataset: str

    def headers(self) -> dict[str, Any]:
        return {c.H_KIND: c.KIND_SEAL, c.H_VERSION: c.SCHEMA_VERSION, c.H_JOB: self.job_id,
                c.H_DATASET: self.dataset}

    @property
    def message_id(self) -> str:
        return f"{self.job_id}:seal"


def is_seal(headers: Mapping[str, Any] | None) -> bool:
    kind = (headers or {}).get(c.H_KIND)
    return (kind.decode() if isinstance(kind, bytes) else kind) == c.KIND_SEAL


def decode_seal(headers: Mapping[str, Any] | None) -> Seal:
    headers = headers or {}
    return Seal(_text(headers.get(c.H_JOB), c.H_JOB), _text(headers.get(c.H_DATASET), c.H_DATASET))


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


def _fingerprint(headers: Mapping[str, Any]) -> str:
    value = _text(headers.get(c.H_FINGERPRINT), c.H_FINGERPRINT)
    if _FINGERPRINT.fullmatch(value) is None:
        raise PoisonMessage(f"header {c.H_FINGERPRINT} is not a sha256 hex digest")
    return value


def decode(headers: Mapping[str, Any] | None, body: bytes) -> Batch:
    """Rebuild a Batch from a delivery; raise PoisonMessage if it can never be processed."""
    headers = headers or {}
    version = headers.get(c.H_VERSION)
    if isinstance(version, bool) or version not in c.SCHEMA_VERSIONS:
        known = " or ".join(map(str, c.SCHEMA_VERSIONS))
        raise PoisonMessage(f"unknown schema version {version!r} (expected {known})")
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
        fingerprint=_fingerprint(headers) if version != 1 else "",
    )
    # Line 1 is a record in a header-less file (dialect header: false).
    if batch.first_line < 1 or batch.last_line < batch.first_line:
        raise PoisonMessage(f"bad line range {batch.first_line}-{batch.last_line}")
    return batch
