"""The default dialect through libs/formats gives what main's code gave (issue 10's syntax).

The digests below were computed with main's libs/csvfile.py, producer/chunks.py and
consumer/parse.py (commit 9c862f7, before the reader seam) on the generated files and the
field cases: every batch (numbers, lines, positions, bytes) and every prepared batch (rows,
and rejects with line, reason, raw text and detail). The readers must give byte-identical
batches and the same records and rejects.

Issue 11 retired libs/dataset.py's validator: the digests were recomputed with the same
readers and the customers rules of libs.schema (datasets/customers.yaml). Only two changed
(the dirty file, case 05): their rows and their rejects' lines, reasons and raw texts were
checked equal to the old validator's; libs.schema words some details differently.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys

import pytest

from consumer.parse import prepare
from libs.errors import UserError
from libs.formats import Position, reader_for
from libs.messages import Batch
from libs.schema import from_file
from libs.schema.compile import plan as make_plan
from tests.pipeline import FIELD_CASES, ROOT

pytestmark = pytest.mark.unit

GENERATED = {
    ("--rows", "20000"): "8ddf3c6e7e5cd46a4f16c15f98fae6bf3780b24d1f280988f23815cb94421542",
    ("--rows", "20000", "--dirty"):
        "25bfe2116b756b0fcae11b3085477da5a53a9744a8bd599f8cfe8529632e2e46",
    ("--rows", "5000", "--crlf"):
        "bd074fd518391a68d49e906a6a3f4c16fcad27f7a7dd5468ebddbab1baf1d4e0",
}
CASES = {
    "01-lone-quote.csv": "9147c59c6164899b82c9b35bb55dcd2b8eddc9991b9d332a37ecc592b260b40d",
    "02-unescaped-inner-quotes.csv":
        "cde794db301bb2e1f09afd4c3f28a2307c0c763f4b647f1a288040d89047f2c0",
    "03-mysql-backslash-escapes.csv":
        "1fbec7536895034d53288bb40a86f8f9ff35e1e458c94991ca7482f73762aafa",
    "05-unicode-digits.csv": "edcd9f925648f50e6c35bd13f484fdb3fe638b2ea7eb8e2c8b9c39e3a0d56942",
    "08-fraction-digits.csv": "96970daec61ee9a896e1616567c26e4585cdaeee202b977ec26c5eb99748186e",
    "13-excel-trailing-comma.csv":
        "e4c7041ea947fe113038313d0acb508a7f06f51557a4dc6dda51d6a390a5a319",
    "20-email-normalization.csv":
        "f0812f6d2adeb6b8e2e0e3ad755aad4f8ce77ad010f89a4427296de55be2c461",
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
        h.update(repr((p.rows, [(r.line_no, r.reason, r.raw, r.detail)
                                for r in p.rejects])).encode())
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
