"""The default dialect through libs/formats gives what main's code gave (issue 10's syntax).

The digests below were computed with main's libs/csvfile.py, producer/chunks.py and
consumer/parse.py (commit 9c862f7, before the reader seam) on the generated files and the
field cases: every batch (numbers, lines, positions, bytes) and every prepared batch (rows,
and rejects with line, reason, raw text and detail). The readers must give byte-identical
batches and the same records and rejects.

Issue 11 retired libs/dataset.py's validator and words details differently, so the digests
cover rows and each reject's line, reason and raw text, not its detail; they were computed
from commit 9c862f7's code (libs/csvfile.py, producer/chunks.py, consumer/parse.py,
libs/dataset.py) and the readers and libs.schema give the same.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys

import pytest

from libs.errors import UserError
from libs.formats import Position, reader_for
from libs.messages import Batch
from libs.schema import from_file
from libs.schema.compile import plan as make_plan
from libs.validate import prepare
from tests.pipeline import FIELD_CASES, ROOT

pytestmark = pytest.mark.unit

GENERATED = {
    ("--rows", "20000"): "8ddf3c6e7e5cd46a4f16c15f98fae6bf3780b24d1f280988f23815cb94421542",
    ("--rows", "20000", "--dirty"):
        "9df3e33f9a7ebb2d0b59dc7930f62a6eb60b4b159e192e0c067262d081b7492c",
    ("--rows", "5000", "--crlf"):
        "bd074fd518391a68d49e906a6a3f4c16fcad27f7a7dd5468ebddbab1baf1d4e0",
}
CASES = {
    "01-lone-quote.csv":
        "9147c59c6164899b82c9b35bb55dcd2b8eddc9991b9d332a37ecc592b260b40d",
    "02-unescaped-inner-quotes.csv":
        "687dacf6e3d390794efda77cb0ffb7e2361f3d59c1e7ffda035d4563f413057d",
    "03-mysql-backslash-escapes.csv":
        "723d51559afa4d839004a0c649be38ad75106aac21b199de6bf064b77ac954be",
    "05-unicode-digits.csv":
        "e25c4c33d483e26304adba1d1075708d48ffab44ad733599ec1b0babb8e243b3",
    "08-fraction-digits.csv":
        "96970daec61ee9a896e1616567c26e4585cdaeee202b977ec26c5eb99748186e",
    "13-excel-trailing-comma.csv":
        "e4c7041ea947fe113038313d0acb508a7f06f51557a4dc6dda51d6a390a5a319",
    "20-email-normalization.csv":
        "3217fef2b60e35499600b5ea9b729af7767ca80db3cb003e176ef75fb896bc04",
}
CUSTOMERS = from_file.load("customers")
READER = reader_for(CUSTOMERS, 1 << 20)


def digest(data: bytes) -> str:
    """sha256 over every batch and its prepared outcome (see the module)."""
    h = hashlib.sha256()
    handle = io.BytesIO(data)
    header = READER.read_header(handle)
    handle.seek(header.end_offset)
    plan = make_plan(CUSTOMERS, header.columns)
    for c in READER.iter_chunks(handle, Position(0, header.end_offset, 2, 0), 1000, 1 << 18):
        h.update(repr((c.seq, c.first_line, c.last_line, c.records, c.start, c.end)).encode()
                 + c.body)
        batch = Batch("j", "customers", c.seq, c.first_line, c.last_line, c.records,
                      header.columns, "f", c.body)
        p = prepare(batch, plan, READER)
        h.update(repr((p.rows, [(r.line_no, r.reason, r.raw) for r in p.rejects])).encode())
    return h.hexdigest()


@pytest.mark.parametrize("args", list(GENERATED))
def test_generated_files_as_on_main(args: tuple[str, ...]) -> None:
    data = subprocess.run([sys.executable, str(ROOT / "scripts" / "gendata.py"), *args,
                           "--out", "-"], capture_output=True, check=True).stdout
    assert digest(data) == GENERATED[args]


@pytest.mark.parametrize("name", list(CASES))
def test_field_cases_as_on_main(name: str) -> None:
    assert digest((FIELD_CASES / name).read_bytes()) == CASES[name]


def test_cr_only_field_case_still_refused() -> None:
    with pytest.raises(UserError, match="CR-only"):
        READER.read_header(io.BytesIO((FIELD_CASES / "12-mac-cr-only.csv").read_bytes()))
