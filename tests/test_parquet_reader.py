"""The Parquet reader (libs/formats/parquet.py) without services: header, type mapping,
positions, batches identical from every resume point, bounded memory, bad files.

The expectations are written out by hand (texts the validator reads, reasons a CSV file of the
same values gets); the cut is checked against a plain re-implementation of the greedy rule.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import sys
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from libs.errors import PoisonMessage, UserError
from libs.formats import parquet, reader_for
from libs.formats.base import Chunk, Position
from libs.formats.delimited import DelimitedReader
from libs.messages import Batch
from libs.schema import from_file
from libs.schema.compile import Reject, plan
from libs.schema.model import Dataset, Field, Table
from libs.validate import prepare

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
CUSTOMERS = from_file.load("customers", ROOT / "datasets")


def reader(dataset: Dataset = CUSTOMERS) -> Any:
    return reader_for(replace(dataset, layout="parquet"))


def parquet_bytes(table: pa.Table, **options: Any) -> io.BytesIO:
    out = io.BytesIO()
    pq.write_table(table, out, **options)
    out.seek(0)
    return out


def chunks(handle: io.BytesIO, start: Position, size: int, nbytes: int,
           dataset: Dataset = CUSTOMERS) -> list[Chunk]:
    handle.seek(start.byte)
    return list(reader(dataset).iter_chunks(handle, start, size, nbytes))


def rows_of(table: pa.Table, dataset: Dataset = CUSTOMERS) -> list[tuple[int, Any]]:
    """Every record the reader gives for ``table`` (one batch)."""
    handle = parquet_bytes(table)
    r = reader(dataset)
    return [rec for ch in chunks(handle, Position(0, 0, 1, 0), 10**6, 1 << 30, dataset)
            for rec in r.records(ch.body, ch.first_line)]


def test_header_is_the_schema_names_as_a_csv_header_reads_them() -> None:
    table = pa.table({" Email ": ["a@b.io"], "First_Name": ["A"], "": ["x"]})
    handle = parquet_bytes(table, row_group_size=1)
    r = reader()
    header = r.read_header(handle)
    assert header.columns == ("email", "first_name", "")
    assert (header.end_offset, header.next_line) == (0, 1)
    assert r.extent(handle, 123) == 1
    assert r.dataset.encoding == "utf-8"


BOOLS = Dataset("b", Table("b"), (Field("flag", "boolean", true_values=("Y",),
                                        false_values=("N",)), Field("other")))


@pytest.mark.parametrize(("array", "texts"), [
    (pa.array([1, None, -3], pa.int8()), ["1", "", "-3"]),
    (pa.array([2**64 - 1], pa.uint64()), ["18446744073709551615"]),
    (pa.array([0.1, 1e20, float("nan"), float("-inf"), None]),
     ["0.1", "1e+20", "nan", "-inf", ""]),
    (pa.array([0.1], pa.float32()), ["0.1"]),
    (pa.array([Decimal("12.50"), Decimal("-0.01")], pa.decimal128(14, 2)), ["12.50", "-0.01"]),
    (pa.array([Decimal("1.2345")], pa.decimal256(40, 4)), ["1.2345"]),
    (pa.array([dt.date(2024, 2, 29), dt.date(1, 1, 1)]), ["2024-02-29", "0001-01-01"]),
    (pa.array([dt.datetime(2024, 1, 31, 12, 0, 5)], pa.timestamp("s")),  # Parquet: ms
     ["2024-01-31T12:00:05.000"]),
    (pa.array([dt.datetime(2024, 1, 31, 12, 0, 5, 123000)], pa.timestamp("ms")),
     ["2024-01-31T12:00:05.123"]),
    (pa.array([dt.datetime(2024, 1, 31, 12, tzinfo=dt.UTC)], pa.timestamp("us", tz="UTC")),
     ["2024-01-31T12:00:00.000000Z"]),
    (pa.array([dt.datetime(2024, 1, 31, 12, tzinfo=dt.UTC)],  # Parquet keeps ms
              pa.timestamp("s", tz="America/Sao_Paulo")), ["2024-01-31T12:00:00.000Z"]),
    (pa.array([dt.time(1, 2, 3, 4000)], pa.time64("us")), ["01:02:03.004000"]),
    (pa.array([True, False, None]), ["true", "false", ""]),
    (pa.array(["a,b", "", None, "ü"]), ["a,b", "", "", "ü"]),
    (pa.array(["x"], pa.large_string()), ["x"]),
    (pa.array([b"text", None], pa.binary()), ["text", ""]),
    (pa.array(["a", "b", "a"]).dictionary_encode(), ["a", "b", "a"]),
    (pa.array([None, None], pa.null()), ["", ""]),
    (pa.array([dt.timedelta(seconds=5)], pa.duration("s")), ["5"]),
    (pa.array([[1, 2], [], None]), ["[1,2]", "[]", ""]),
    (pa.array([{"a": 1, "b": "é"}, None], pa.struct([("a", pa.int64()), ("b", pa.string())])),
     ['{"a":1,"b":"é"}', ""]),
    (pa.array([[("k", 1)], []], pa.map_(pa.string(), pa.int64())), ['{"k":1}', "{}"]),
    (pa.array([[Decimal("1.50")]], pa.list_(pa.decimal128(5, 2))), ['["1.50"]']),
    (pa.array([[dt.date(2024, 1, 2)]], pa.list_(pa.date32())), ['["2024-01-02"]']),
])
def test_each_arrow_type_is_the_text_the_validator_reads(array: pa.Array,
                                                         texts: list[str]) -> None:
    got = rows_of(pa.table({"other": array}), BOOLS)
    assert [fields for _, fields in got] == [[t] for t in texts]
    assert [line for line, _ in got] == list(range(1, len(texts) + 1))


def test_a_boolean_field_gets_its_own_true_and_false_values() -> None:
    got = rows_of(pa.table({"Flag": [True, False, None]}), BOOLS)
    assert [fields for _, fields in got] == [["Y"], ["N"], [""]]


def test_bytes_that_are_not_utf8_and_nul_are_invalid_encoding_as_in_a_csv_file() -> None:
    table = pa.table({"a": pa.array(["ok", "x\x00y", "ok", "ok"]),
                      "b": pa.array([b"ok", b"ok", b"\xffbad", b"z\x00"], pa.binary())})
    got = rows_of(table, BOOLS)
    assert got[0] == (1, ["ok", "ok"])
    assert got[1] == (2, Reject("invalid_encoding", "a: NUL character at offset 1"))
    assert got[2][1].reason == "invalid_encoding"  # type: ignore[union-attr]
    assert "b: bytes that are not UTF-8 at offset 0" in got[2][1].detail  # type: ignore[union-attr]
    assert got[3] == (4, Reject("invalid_encoding", "b: NUL character at offset 1"))


def customers_csv(rows: list[list[str]]) -> bytes:
    head = "email,first_name,last_name,phone,birth_date,city,country,signup_at,balance\n"
    return (head + "".join(",".join(r) + "\n" for r in rows)).encode()


def outcomes(handle: io.BytesIO, r: Any) -> list[tuple[int, str]]:
    """(line, reason or "ok") of every record, validated as the consumer does."""
    header = r.read_header(handle)
    mapped = plan(r.dataset, header.columns)
    handle.seek(header.end_offset)
    found: list[tuple[int, str]] = []
    for ch in r.iter_chunks(handle, Position(0, header.end_offset, header.next_line, 0),
                            1000, 1 << 20):
        batch = Batch("j", "customers", ch.seq, ch.first_line, ch.last_line, ch.records,
                      header.columns, "t", ch.body)
        done = prepare(batch, mapped, r)
        found += [(int(row[-1]), "ok") for row in done.rows]
        found += [(rej.line_no, rej.reason) for rej in done.rejects]
    return sorted(found)


def test_typed_values_get_the_reasons_their_csv_text_gets() -> None:
    """The same values as typed Parquet columns and as CSV text: the same outcome per record
    (the Parquet row r is the CSV line r + 1)."""
    utc = dt.UTC
    rows = [  # email, balance, birth_date, signup_at
        ("a@x.io", Decimal("12.5000"), dt.date(1990, 1, 31), dt.datetime(2024, 1, 1, tzinfo=utc)),
        ("b@x.io", Decimal("1.2345"), dt.date(1990, 1, 31), None),  # too many fraction digits
        (None, Decimal("1"), None, None),  # no email: invalid_email (its legacy code)
        ("c@x.io", Decimal("1234567890123.0000"), None, None),  # 13 integer digits
        ("A@X.IO", Decimal("0"), None, None),  # the key of line 1, normalized
        ("d@x.io", None, dt.date(1, 1, 1), dt.datetime(1, 1, 1, tzinfo=utc)),
        ("not an email", None, None, None),
    ]
    emails, balances, births, stamps = (list(col) for col in zip(*rows, strict=True))
    table = pa.table({
        "email": emails, "first_name": ["F"] * 7, "last_name": ["L"] * 7, "phone": [None] * 7,
        "birth_date": pa.array(births, pa.date32()), "city": ["C"] * 7, "country": ["FR"] * 7,
        "signup_at": pa.array(stamps, pa.timestamp("us", tz="UTC")),
        "balance": pa.array(balances, pa.decimal128(20, 4))})
    csv = customers_csv([[email or "", "F", "L", "", birth.isoformat() if birth else "", "C",
                          "FR", stamp.isoformat() if stamp else "",
                          "" if balance is None else str(balance)]
                         for email, balance, birth, stamp in rows])
    text = [(line - 1, reason) for line, reason in
            outcomes(io.BytesIO(csv), DelimitedReader(CUSTOMERS))]
    typed = outcomes(parquet_bytes(table), reader())
    assert typed == text
    assert dict(typed) == {1: "ok", 2: "invalid_number", 3: "invalid_email", 4: "invalid_number",
                           5: "duplicate_key", 6: "ok", 7: "invalid_email"}


def varied_table(n: int) -> pa.Table:
    """Rows of very different sizes (a few larger than a small batch_bytes on their own)."""
    return pa.table({
        "email": [f"user{i}@example.com" for i in range(n)],
        "notes": ["x" * ((i * 37) % 300 + (2000 if i % 97 == 5 else 0)) for i in range(n)],
        "tags": [[j for j in range(i % 5)] if i % 7 else None for i in range(n)],
        "n": list(range(n))})


def expected_cuts(sizes: list[int], size: int, nbytes: int) -> list[tuple[int, int]]:
    """(first row index, rows) of each batch, by the greedy rule written plainly."""
    cuts, start, count, total = [], 0, 0, 0
    for i, s in enumerate(sizes):
        if count and (count == size or total + s > nbytes):
            cuts.append((start, count))
            start, count, total = i, 0, 0
        count, total = count + 1, total + s
    if count:
        cuts.append((start, count))
    return cuts


@pytest.mark.parametrize("read_rows", [5, 1000])
def test_batches_are_the_same_from_the_start_and_from_every_batch_end(
        monkeypatch: pytest.MonkeyPatch, read_rows: int) -> None:
    table = varied_table(600)
    handle = parquet_bytes(table, row_group_size=83)
    monkeypatch.setattr(parquet, "READ_ROWS", read_rows)
    size, nbytes = 25, 1500
    whole = chunks(handle, Position(0, 0, 1, 0), size, nbytes)
    sizes = parquet.row_sizes(table.combine_chunks().to_batches()[0])
    assert [(ch.start.byte, ch.records) for ch in whole] == expected_cuts(sizes, size, nbytes)
    r = reader()
    seen = []
    for i, ch in enumerate(whole):
        assert ch.seq == i
        assert ch.start == Position(i, ch.first_line - 1, ch.first_line, ch.first_line - 1)
        assert ch.end == Position(i + 1, ch.last_line, ch.last_line + 1, ch.last_line)
        assert ch.records == ch.last_line - ch.first_line + 1 <= size
        got = list(r.records(ch.body, ch.first_line))
        assert [line for line, _ in got] == list(range(ch.first_line, ch.last_line + 1))
        seen += [int(fields[3]) for _, fields in got]
        if ch.records > 1:
            assert sum(sizes[ch.start.byte:ch.end.byte]) <= nbytes
    assert seen == list(range(600))
    for i, ch in enumerate(whole):
        assert chunks(handle, ch.end, size, nbytes) == whole[i + 1:], f"resumed after {i}"


def test_row_sizes_do_not_depend_on_how_the_file_is_sliced() -> None:
    table = varied_table(200).combine_chunks()
    table = table.append_column("d", pa.array(["a", "bb", None, "ccc"] * 50).dictionary_encode())
    table = table.append_column("s", pa.array(
        [{"k": "v" * i, "l": [i] * (i % 3)} if i % 4 else None for i in range(200)]))
    table = table.append_column("m", pa.array(
        [[("k", "v" * (i % 9))] if i % 5 else None for i in range(200)],
        pa.map_(pa.string(), pa.string())))
    batch = table.to_batches()[0]
    sizes = parquet.row_sizes(batch)
    for start, length in [(0, 200), (1, 50), (37, 100), (199, 1), (120, 80)]:
        assert parquet.row_sizes(batch.slice(start, length)) == sizes[start:start + length]
    assert len(set(sizes)) > 50


def test_a_row_over_the_record_limit_stops_after_the_batches_before_it() -> None:
    table = pa.table({"email": ["a", "b", "c" * 5000, "d"]})
    handle = parquet_bytes(table)
    r = reader_for(replace(CUSTOMERS, layout="parquet"), 1000)
    got: list[int] = []

    def read() -> None:
        got.extend(ch.first_line for ch in r.iter_chunks(handle, Position(0, 0, 1, 0), 1,
                                                         10**6))

    with pytest.raises(UserError, match="row 3 holds about 5004 bytes, more than the record"):
        read()
    assert got == [1, 2]


def test_raw_is_a_json_object_that_reads_back_as_the_same_fields() -> None:
    table = pa.table({"Email": ["a@b.io", None], "n": pa.array([1, 2], pa.int16()),
                      "tags": pa.array([["x"], None]), "b": pa.array([b"\xff", b"ok"])})
    handle = parquet_bytes(table)
    r = reader()
    (ch,) = chunks(handle, Position(0, 0, 1, 0), 10, 1 << 20)
    raw = r.raw(ch.body, ch.first_line)
    assert json.loads(raw[1]) == {"Email": "a@b.io", "n": "1", "tags": ["x"], "b": "\\xff"}
    assert json.loads(raw[2]) == {"Email": None, "n": "2", "tags": None, "b": "ok"}
    assert r.printable(raw[2]) == '{"Email":null,"n":"2","tags":null,"b":"ok"}'
    fields = dict(r.records(ch.body, ch.first_line))
    assert list(r.records(raw[2], 2)) == [(2, fields[2])]
    assert list(r.records(raw[1], 1)) == [(1, ["a@b.io", "1", '["x"]', "\\xff"])]


@pytest.mark.parametrize("content", [b"", b"email\na@b.io\n", b"PAR1" + b"\0" * 50 + b"PAR1"])
def test_a_file_that_is_not_parquet_is_one_clear_user_error(content: bytes) -> None:
    with pytest.raises(UserError) as caught:
        reader().read_header(io.BytesIO(content))
    assert str(caught.value).startswith("the file is not a readable Parquet file: ")
    assert "\n" not in str(caught.value)


def test_a_body_that_is_not_arrow_is_a_poison_message() -> None:
    with pytest.raises(PoisonMessage, match="not an Arrow IPC stream"):
        list(reader().records(b"\xff\xff\xff\xffgarbage", 1))


MEASURE = """
import resource, sys
from dataclasses import replace
from pathlib import Path
from libs.formats import reader_for
from libs.formats.base import Position
from libs.schema import from_file
import pyarrow.parquet
r = reader_for(replace(from_file.load("customers", Path("datasets")), layout="parquet"))
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
rows = 0
with open(sys.argv[1], "rb") as handle:
    for chunk in r.iter_chunks(handle, Position(0, 0, 1, 0), 5000, 8 << 20):
        rows += chunk.records
print(rows, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) // 1024)
"""


def test_one_huge_row_group_is_streamed_not_loaded_whole(tmp_path: Path) -> None:
    """A 90 MB row group (incompressible text, no compression): the reader's peak memory
    above its start stays far below it (reading the column chunk whole would add it all)."""
    path = tmp_path / "one-group.parquet"
    rows = 300_000
    notes = pa.array([os.urandom(150).hex() for _ in range(rows)])
    pq.write_table(pa.table({"email": notes, "n": pa.array(range(rows))}), path,
                   row_group_size=rows, compression="none")
    meta = pq.ParquetFile(path).metadata
    assert meta.num_row_groups == 1
    size_mb = meta.row_group(0).total_byte_size >> 20
    assert size_mb > 85
    run = subprocess.run([sys.executable, "-c", MEASURE, str(path)], cwd=ROOT, check=True,
                         capture_output=True, text=True)
    read, grew_mb = map(int, run.stdout.split())
    assert read == rows
    assert grew_mb < size_mb / 3, f"grew {grew_mb} MB reading a {size_mb} MB row group"
