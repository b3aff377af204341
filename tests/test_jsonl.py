"""JSON Lines input (``libs.formats.jsonl``): the reader's rules, then real loads.

The loads compare a JSON Lines file made from a CSV file (scripts/convert_sample.py) with the
CSV file's own load, which the independent checker verifies: the same table and the same
rejects by line and reason (tests/format_loads.py).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from pathlib import Path

import pytest

from libs.errors import UserError
from libs.formats import reader_for, with_overrides
from libs.formats.base import Position
from libs.formats.jsonl import JsonlReader
from libs.schema import from_file
from libs.schema.compile import Reject
from libs.schema.model import Dataset, Field, Table
from tests.format_loads import convert, load
from tests.pipeline import ROOT, assert_loaded_exactly, gendata, produce, run_cli

CUSTOMERS = from_file.load("customers", ROOT / "datasets")
SAMPLE = ROOT / "data" / "customers_sample.csv"


def reader(dataset: Dataset = CUSTOMERS) -> JsonlReader:
    found = reader_for(with_overrides(dataset, layout="jsonl"))
    assert isinstance(found, JsonlReader)
    return found


def read(body: bytes, dataset: Dataset = CUSTOMERS, first_line: int = 1) -> dict[int, object]:
    return dict(reader(dataset).records(body, first_line))


def kinds_dataset(**extra: object) -> Dataset:
    fields = (Field("id", "integer"), Field("doc", "object"), Field("tags", "array"),
              Field("meta", "any", column_type="jsonb"), Field("note", "string"),
              Field("ok", "boolean", **extra),  # type: ignore[arg-type]
              Field("price", "number", decimal_char=",", group_char="."))
    return Dataset("kinds", Table("kinds"), fields, primary_key=("id",),
                   missing_values=("NA", ""))


@pytest.mark.unit
def test_null_and_missing_keys_take_the_first_missing_value() -> None:
    got = read(b'{"id": 1, "note": null}\n{"id": 2}\n', kinds_dataset())
    assert got == {1: ["1", "NA", "NA", "NA", "NA", "NA", "NA"],
                   2: ["2", "NA", "NA", "NA", "NA", "NA", "NA"]}
    assert read(b'{"email": "a@b.io", "phone": null}\n')[1] == ["a@b.io", *[""] * 8]
    # One key twice: its last value, as JSON parsers and jsonb read it.
    assert read(b'{"email": "a@b.io", "email": "b@b.io"}\n')[1] == ["b@b.io", *[""] * 8]


@pytest.mark.unit
def test_numbers_keep_their_text_as_written() -> None:
    line = (b'{"email": 7, "first_name": 1.50, "last_name": -0, "phone": 1E+5, '
            b'"city": 123456789012345678901234567890.000000000000000000001}\n')
    assert read(line)[1][:6] == ["7", "1.50", "-0", "1E+5", "", "123456789012345678901234567890"
                                 ".000000000000000000001"]
    # A number field with a decimal comma reads a JSON number's point as its decimal mark.
    assert read(b'{"id": 1, "price": 1234.5}\n', kinds_dataset())[1][6] == "1234,5"
    assert read(b'{"id": 1, "price": "1.234,5"}\n', kinds_dataset())[1][6] == "1.234,5"


@pytest.mark.unit
def test_booleans() -> None:
    assert read(b'{"id": 1, "ok": true, "note": false}\n', kinds_dataset())[1][4:6] == \
        ["false", "true"]
    custom = kinds_dataset(true_values=("1", "Y"), false_values=("0",))
    assert read(b'{"id": 1, "ok": true}\n{"id": 2, "ok": false}\n', custom) == {
        1: ["1", "NA", "NA", "NA", "NA", "1", "NA"], 2: ["2", "NA", "NA", "NA", "NA", "0", "NA"]}


@pytest.mark.unit
def test_nested_values_are_compact_json_for_json_fields() -> None:
    line = ('{"id": 1, "doc": {"b": [1.50, true, null], "a": "é\\"x"}, "tags": [ "x" , 2e3 ],'
            ' "meta": {"k": {"deep": [[]]}}}\n').encode()
    got = read(line, kinds_dataset())[1]
    assert got[1:4] == ['{"b":[1.50,true,null],"a":"é\\"x"}', '["x",2e3]', '{"k":{"deep":[[]]}}']


@pytest.mark.unit
def test_nested_values_for_other_fields_are_rejected_with_the_fields_reason() -> None:
    got = read(b'{"id": 1, "note": {"a": 1}}\n{"email": ["x"]}\n{"signup_at": {}}\n'
               b'{"id": [1]}\n', kinds_dataset())
    assert got[1] == Reject("invalid_string", "note: a JSON object was given (only fields of "
                            "type object, array or a json/jsonb column take one)")
    got = read(b'{"email": ["x"]}\n{"signup_at": {}}\n')
    assert isinstance(got[1], Reject)
    assert got[1].reason == "invalid_email"
    assert "email: a JSON array was given" in got[1].detail
    assert isinstance(got[2], Reject)
    assert got[2].reason == "invalid_timestamp"


@pytest.mark.unit
@pytest.mark.parametrize(("line", "detail"), [
    (b"not json", "not valid JSON: Expecting value at column 1"),
    (b'{"email": "a"', "not valid JSON: Expecting ',' delimiter at column 14"),
    (b'{"email": "a"} x', "not valid JSON: Extra data at column 16"),
    (b"[1, 2]", "a JSON array, not an object"),
    (b'"a,b,c"', "a JSON string, not an object"),
    (b"42", "a JSON number, not an object"),
    (b"null", "a JSON null, not an object"),
    (b'{"balance": NaN}', "not valid JSON: NaN is not a JSON value"),
    (b"   ", "not valid JSON: Expecting value at column 4"),
    (b"[" * 100_000, "not readable JSON: nested too deeply"),
    (b'{"Email": "a@b.io", "EMAIL": "b@b.io"}', "keys 'Email' and 'EMAIL' both fill column "
                                                "email"),
])
def test_lines_that_are_no_object_are_malformed_json(line: bytes, detail: str) -> None:
    assert read(line + b"\n", first_line=7) == {7: Reject("malformed_json", detail)}


@pytest.mark.unit
def test_bom_crlf_blank_lines_and_line_numbers() -> None:
    data = (b'\xef\xbb\xbf{"email": "a@b.io"}\r\n\r\n\n{"email": "b@b.io"}\n   \n'
            b'{"email": "c@b.io"}')
    r = reader()
    header = r.read_header(io.BytesIO(data))
    assert (header.columns, header.end_offset, header.next_line) == (
        CUSTOMERS.field_names, 3, 1)
    handle = io.BytesIO(data)
    handle.seek(3)
    chunks = list(r.iter_chunks(handle, Position(0, 3, 1, 0), 2, 1 << 20))
    assert [(c.first_line, c.last_line, c.records) for c in chunks] == [(1, 4, 2), (5, 6, 2)]
    assert b"".join(c.body for c in chunks) == data[3:]
    got = {line: value if isinstance(value, Reject) else value[0]
           for c in chunks for line, value in r.records(c.body, c.first_line)}
    assert got == {1: "a@b.io", 4: "b@b.io", 5: Reject("malformed_json", "not valid JSON: "
                   "Expecting value at column 4"), 6: "c@b.io"}
    assert r.raw(chunks[0].body, 1) == {1: b'{"email": "a@b.io"}', 4: b'{"email": "b@b.io"}'}


@pytest.mark.unit
def test_keys_match_columns_as_header_names_do() -> None:
    line = b'{" EMAIL ": "a@b.io", "First Name": "Ann", "LAST_NAME": "Lee", "zzz": 1}\n'
    assert read(line)[1][:3] == ["a@b.io", "Ann", "Lee"]
    found = reader().read_header(io.BytesIO(line + b'{"yyy": 2, "email": "x"}\nnot json\n'))
    assert found.ignored == ("zzz", "yyy")


@pytest.mark.unit
def test_encoding_faults_are_invalid_encoding() -> None:
    got = read(b'{"email": "\xff"}\n{"email": "a\x00"}\n{"email": "a\\u0000b"}\n'
               b'{"email": "\\ud800"}\n{"email": "\\ud83d\\ude00", "zzz": "\\u0000"}\n')
    assert got[1] == Reject("invalid_encoding", "byte 0xff at offset 11 is not UTF-8")
    assert got[2] == Reject("invalid_encoding", "NUL character at offset 12")
    assert got[3] == Reject("invalid_encoding", "email: NUL character (\\u0000) at offset 1")
    assert got[4] == Reject("invalid_encoding", "email: lone surrogate \\ud800 at offset 0 is "
                                                "not a character")
    assert got[5] == ["\U0001f600", *[""] * 8]  # a surrogate pair is one character


@pytest.mark.unit
def test_empty_file_and_other_encodings_are_user_errors() -> None:
    for data in (b"", b"\xef\xbb\xbf", b"\n\r\n"):
        with pytest.raises(UserError, match="the file holds no line"):
            reader().read_header(io.BytesIO(data))
    with pytest.raises(UserError, match="JSON Lines are UTF-8"):
        reader(replace(CUSTOMERS, encoding="latin-1"))


@pytest.mark.unit
def test_resume_from_any_batch_end_cuts_the_same_batches() -> None:
    lines = [json.dumps({"email": f"u{i}@x.io", "city": "c" * (i % 50)}) for i in range(500)]
    data = ("\n".join(lines[:200]) + "\n\n" + "\n".join(lines[200:])).encode()
    r = reader()
    whole = list(r.iter_chunks(io.BytesIO(data), Position(0, 0, 1, 0), 37, 4000))
    middle = whole[5].end
    handle = io.BytesIO(data)
    handle.seek(middle.byte)
    assert list(r.iter_chunks(handle, middle, 37, 4000)) == whole[6:]
    assert sum(c.records for c in whole) == 500
    assert all(len(c.body) <= 4000 for c in whole)


@pytest.mark.unit
def test_values_for_the_export_keep_nested_values_as_json() -> None:
    r = reader()
    assert r.values(b'{"email": "a", "city": {"x": 1.0}}') == ["a", "", "", "", "", '{"x":1.0}',
                                                               "", "", ""]
    assert r.values(b"[1]") is None
    assert r.values(b'{"email": "\\u0000"}') is None


async def test_sample_and_dirty_file_as_jsonl_load_as_the_csv_does(
        tmp_path: Path, service_env: dict[str, str], database_url: str,
        clean_tables: None) -> None:
    dirty = gendata(tmp_path / "dirty.csv", 6000, 23, "--dirty")
    for source in (SAMPLE, dirty):
        jsonl = convert(source, tmp_path, "jsonl")["jsonl"]
        as_csv = await load(source, service_env, database_url)
        await assert_loaded_exactly(database_url, [source], [as_csv.job_id])
        as_jsonl = await load(jsonl, service_env, database_url)
        assert as_jsonl.rows == as_csv.rows
        assert as_jsonl.json_rejects() == as_csv.json_rejects()
        assert as_jsonl.consumed["rejects_by_reason"] == dict(as_jsonl.by_reason())
        assert as_jsonl.produced["rows_read"] == as_csv.produced["rows_read"]
        if source == SAMPLE:
            assert as_jsonl.by_reason() == {"malformed_json": 1, "invalid_email": 1,
                                            "invalid_date": 1, "invalid_timestamp": 1,
                                            "invalid_number": 1, "duplicate_key": 1}
            assert len(as_jsonl.rows) == 34
        else:  # the dirty file has every kind of bad record, and a notes column
            assert {"malformed_json", "invalid_encoding", "duplicate_key"} <= set(
                as_jsonl.by_reason())
            assert "keys that fill no column ignored" in as_jsonl.produced_log


async def test_rejects_of_a_jsonl_job_export_as_csv_and_jsonl(
        tmp_path: Path, service_env: dict[str, str], database_url: str,
        clean_tables: None) -> None:
    lines = [b'{"email": "ok@x.io", "balance": 1.5}', b'{"email": "bad", "city": "Z"}',
             b"not json, a,b", b'{"email": "n@x.io", "city": {"a": [1, 2.50]}}', b"",
             b'{"email": "e@x.io", "first_name": "\xff"}', b'["x", "y"]',
             b'{"email": "q@x.io", "city": "a,\\"b\\"\\nc", "balance": "12,50"}']
    path = tmp_path / "r.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    loaded = await load(path, service_env, database_url)
    assert loaded.rejects == [(2, "invalid_email"), (3, "malformed_json"),
                              (4, "invalid_string"), (6, "invalid_encoding"),
                              (7, "malformed_json"), (8, "invalid_number")]
    out = tmp_path / "rejects.jsonl"
    run = run_cli("ingest", "rejects", loaded.job_id, "--format", "jsonl", "--out", str(out),
                  env=service_env)
    assert run.rc == 0, run.stderr
    objects = [json.loads(line) for line in out.read_text().splitlines()]
    assert [o["line"] for o in objects] == [2, 3, 4, 6, 7, 8]
    for o in objects:
        raw = lines[o["line"] - 1]
        if o["line"] == 6:
            assert o["raw_base64"]
            assert o["fields"] is None
        else:
            assert o["raw"].encode() == raw
    assert objects[0]["fields"]["email"] == "bad"

    out = tmp_path / "rejects.csv"
    run = run_cli("ingest", "rejects", loaded.job_id, "--format", "csv", "--out", str(out),
                  env=service_env)
    assert run.rc == 0, run.stderr
    rows = list(csv.reader(io.StringIO(out.read_text("utf-8"), newline="")))
    assert rows[0] == ["_line", "_reason", "_detail", *CUSTOMERS.field_names]
    by_line = {int(row[0]): row for row in rows[1:]}
    assert sorted(by_line) == [2, 3, 4, 6, 7, 8]
    assert by_line[2][3:] == ["bad", "", "", "", "", "Z", "", "", ""]
    assert by_line[3][3:] == ["not json, a,b"]  # no fields: the line as one field
    assert by_line[4][8] == '{"a":[1,2.50]}'  # read, though its field refused it
    assert by_line[6][3:] == ['{"email": "e@x.io", "first_name": "\ufffd"}']
    assert by_line[7][3:] == ['["x", "y"]']
    assert by_line[8][8] == 'a,"b"\nc'
    assert by_line[8][11] == "12,50"


def test_producer_warns_about_unknown_keys_and_refuses_an_empty_file(
        tmp_path: Path, service_env: dict[str, str]) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"\xef\xbb\xbf\n")
    run = produce(empty, service_env)
    assert run.rc == 2
    errors = [line for line in run.lines if line.startswith("error:")]
    assert errors == ["error: the file holds no line (empty, or only blank lines): expected "
                      "JSON objects, one per line"]
    assert "Traceback" not in run.stderr
    path = tmp_path / "keys.json"  # no .jsonl suffix: --format says it
    path.write_text('{"email": "a@x.io", "extra": 1, "Other Key": 2}\n')
    run = produce(path, service_env, "--format", "jsonl")
    assert run.rc == 0, run.stderr
    warning = next(json.loads(line) for line in run.lines if "fill no column" in line)
    assert warning["keys"] == ["extra", "Other Key"]
    assert run.summary["rows_read"] == 1
