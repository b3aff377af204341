"""``multipart/form-data`` read as it arrives: the ``file`` part streamed into a Spool (never
held in memory, never in /tmp), the other parts as short text fields."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from api.problems import Problem
from api.storage import Spool, Stored, safe_name, spooled

FILE_FIELD: Final = "file"
MAX_FIELDS: Final = 32
MAX_FIELD_BYTES: Final = 4096


def _bad(detail: str) -> Problem:
    return Problem(400, f"malformed multipart body: {detail}", "malformed-body")


@dataclass
class _Part:
    name: str = ""
    filename: str | None = None
    data: bytearray = field(default_factory=bytearray)


class _Events:
    """python-multipart's callbacks, queued: the async side writes them out after each chunk."""

    def __init__(self) -> None:
        self.queue: list[tuple[str, bytes]] = []
        self._header = b""
        self._value = b""
        self.disposition = b""
        self.ended = False  # the closing boundary was read

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {"on_part_begin": lambda: self.queue.append(("begin", b"")),
                "on_part_data": lambda d, s, e: self.queue.append(("data", bytes(d[s:e]))),
                "on_part_end": lambda: self.queue.append(("end", b"")),
                "on_header_field": self._on_field, "on_header_value": self._on_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": lambda: self.queue.append(("headers", self.disposition)),
                "on_end": self._on_end}

    def _on_end(self) -> None:
        self.ended = True

    def _on_field(self, data: bytes, start: int, end: int) -> None:
        self._header += data[start:end]

    def _on_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _on_header_end(self) -> None:
        if self._header.lower() == b"content-disposition":
            self.disposition = self._value
        self._header = self._value = b""


class FormReader:
    """Reads one form: ``fields`` (name -> text) and the stored ``file``."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool
        self.fields: dict[str, str] = {}
        self.part = _Part()
        self.has_file = False

    async def handle(self, kind: str, data: bytes) -> None:
        if kind == "begin":
            self.part = _Part()
        elif kind == "headers":
            self._start_part(data)
        elif kind == "data" and self.part.filename is not None:
            await self.spool.write(data)
        elif kind == "data":
            self.part.data += data
            if len(self.part.data) > MAX_FIELD_BYTES:
                raise Problem(413, f"form field {self.part.name!r} is longer than "
                                   f"{MAX_FIELD_BYTES} bytes", "too-large")
        elif kind == "end" and self.part.filename is None:
            self.fields[self.part.name] = self.part.data.decode("utf-8", "replace")

    def _start_part(self, disposition: bytes) -> None:
        _, options = parse_options_header(disposition)
        name = options.get(b"name")
        if name is None:
            raise _bad("a part has no name")
        self.part.name = name.decode("utf-8", "replace")
        if self.part.name == FILE_FIELD:
            if self.has_file:
                raise _bad("more than one file part")
            self.has_file = True
            self.part.filename = options.get(b"filename", b"").decode("utf-8", "replace")
            self.spool.name = safe_name(self.part.filename)
        elif self.part.name in self.fields or len(self.fields) >= MAX_FIELDS:
            raise _bad(f"field {self.part.name!r} repeated, or more than {MAX_FIELDS} fields")


async def read_form(content_type: str, body: AsyncIterator[bytes], folder: Path,
                    limit: int) -> tuple[dict[str, str], Stored]:
    """The form's text fields and its ``file`` part stored in ``folder`` (at most ``limit``
    bytes: TooLarge, nothing left). 400 problem for a malformed body (one cut short before its
    closing boundary too: nothing of it is kept), 422 without a file."""
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise _bad("no boundary in Content-Type")
    events = _Events()
    parser = MultipartParser(boundary, events.callbacks())  # type: ignore[arg-type]
    async with spooled(folder, limit, "") as spool:
        form = FormReader(spool)
        async for chunk in body:
            try:
                parser.write(chunk)
            except MultipartParseError as exc:
                raise _bad(str(exc)) from exc
            for kind, data in events.queue:
                await form.handle(kind, data)
            events.queue.clear()
        parser.finalize()
        if not events.ended:  # python-multipart's finalize() does not check it
            raise _bad("the body ends before its closing boundary (an upload cut short?)")
        if not form.has_file:
            raise Problem(422, "the form has no 'file' part", "invalid-request")
        return form.fields, await spool.finish()
