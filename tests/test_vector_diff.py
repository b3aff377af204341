"""The differential test of issue 15: the vector validation path (libs/validate_vector.py)
against the row path (libs/validate.py), the reference.

For each batch both paths validate the same bytes; they must give the same rows, rejects (line,
reason, raw text and bytes, detail), in-batch duplicates and "plain" flag, in both key modes
(first line wins: insert; every version kept: upsert and merge), and the vector path's COPY
payload must be the bytes ``copy_payload`` makes of the row path's rows, with 0, 1 or 2
lineage values cut (what the loaders send). The inputs:

- every generated file shape (scripts/gendata.py: clean, clean with CRLF, dirty with every
  kind of gendata_dirty.py, and any ``--shape`` it offers), several seeds, in batches of
  5,000 and of 173 records; and the same records as JSON Lines and Parquet;
- the field cases of ../shared/field-cases (as the producer cuts them; case 12's CR-only file
  is refused before any batch);
- every bundled dataset (datasets/*.yaml) with its sample in data/;
- every value of the row validator's own tables (tests/test_schema_values.py), a batch per
  field, and hypothesis: random CSV bodies of the customers dataset (the tokens of
  tests/test_csv_properties.py) and random records of a dataset with every type, format and
  constraint (values drawn near the edges of each form: calendar days, zones, fractions,
  signs, digits outside ASCII, whitespace, case, missing tokens);
- the kernels themselves: a value a kernel accepts is one the field's closure returns as it is.

Then one dirty file through the real producer, RabbitMQ, consumer (--validation vector) and
PostgreSQL, checked by tests/checker.py.
"""

from __future__ import annotations

import gc
import json
import re
import subprocess
import sys
import weakref
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from libs import arrow
from libs.constants import DEFAULT_BATCH_BYTES
from libs.errors import UserError
from libs.formats import Position, Reader, reader_for, with_overrides
from libs.load.payload import copy_payload
from libs.messages import Batch
from libs.schema import from_file
from libs.schema.compile import Plan, plan
from libs.schema.model import Dataset, Dialect
from libs.schema.vector import vector_plan
from libs.schema.vector_forms import translate
from libs.validate import prepare
from libs.validate_vector import prepare_vector
from tests import test_csv_properties, test_schema_values
from tests.pipeline import FIELD_CASES, ROOT, assert_loaded_exactly, consume_burst, gendata, produce

pytestmark = pytest.mark.unit
SEEDS = (1, 2, 3)


def assert_same(batch: Batch, mapped: Plan, reader: Reader) -> None:
    """Both paths give the same Prepared and payload (see the module)."""
    for first_wins in (True, False):
        row = prepare(batch, mapped, reader, first_wins=first_wins)
        vector = prepare_vector(batch, mapped, reader, first_wins=first_wins)
        where = f"batch {batch.seq} (lines {batch.first_line}-{batch.last_line})"
        assert vector.rows == row.rows, where
        assert vector.rejects == row.rejects, where
        assert vector.duplicates == row.duplicates, where
        assert vector.plain == row.plain, where
        assert vector.copy_data is not None, f"{where}: the vector path was not taken"
        if vector.copy_order is not None:  # a permutation of the rows, in their key's order
            assert sorted(vector.copy_order) == list(range(len(row.rows))), where
            key = mapped.columns.index(mapped.dataset.primary_key[0])
            keys = [row.rows[place][key] for place in vector.copy_order]
            assert keys == sorted(keys), where
        # Some of the rows in another order (a loader may COPY a part of the batch).
        some = [place for place in range(len(row.rows)) if place % 3 != 1][::-1]
        for strip in (0, 1, 2):
            rows = [r[: len(r) - strip] for r in row.rows]
            assert vector.copy_data(strip, None) == copy_payload(rows, row.plain), (where, strip)
            assert vector.copy_data(strip, some) == copy_payload(
                [rows[place] for place in some], row.plain), (where, strip, "some")


def batches(path: Path, dataset: Dataset, size: int) -> Iterator[tuple[Batch, Plan, Reader]]:
    """The file cut as the producer cuts it, with the consumer's plan and reader."""
    reader = reader_for(dataset)
    with path.open("rb") as handle:
        header = reader.read_header(handle)
        handle.seek(header.end_offset)
        start = Position(0, header.end_offset, header.next_line, 0)
        mapped = plan(dataset, header.columns, partial=True)
        for chunk in reader.iter_chunks(handle, start, size, DEFAULT_BATCH_BYTES):
            yield (Batch("job-1", dataset.name, chunk.seq, chunk.first_line, chunk.last_line,
                         chunk.records, header.columns, path.name, chunk.body), mapped, reader)


def assert_file(path: Path, dataset: Dataset, size: int = 5000) -> int:
    """Every batch of the file; returns how many records were compared."""
    records = 0
    for batch, mapped, reader in batches(path, dataset, size):
        assert_same(batch, mapped, reader)
        records += batch.records
    return records


# --- generated files ----------------------------------------------------------------------

def gendata_shapes() -> list[tuple[str, ...]]:
    """The shapes scripts/gendata.py offers: clean, CRLF, dirty, and each ``--shape``."""
    shapes: list[tuple[str, ...]] = [(), ("--crlf",), ("--dirty",)]
    usage = subprocess.run([sys.executable, str(ROOT / "scripts" / "gendata.py"), "--help"],
                           capture_output=True, text=True, check=True).stdout
    found = re.search(r"--shape \{([a-z0-9_,-]+)\}", usage)
    for shape in found.group(1).split(",") if found else []:
        shapes += [("--shape", shape), ("--shape", shape, "--dirty")]
    return shapes


@pytest.mark.parametrize("shape", gendata_shapes(), ids=" ".join)
@pytest.mark.parametrize("seed", SEEDS)
def test_generated_files(tmp_path: Path, shape: tuple[str, ...], seed: int) -> None:
    path = gendata(tmp_path / "g.csv", 4000, seed, *shape)
    dataset = from_file.load("customers")
    assert assert_file(path, dataset) == 4000
    assert assert_file(path, dataset, size=173) == 4000


@pytest.mark.parametrize("converted", ["jsonl", "parquet-typed", "parquet-strings"])
@pytest.mark.parametrize("shape", [(), ("--dirty",)], ids=["clean", "dirty"])
def test_generated_files_in_other_formats(tmp_path: Path, converted: str,
                                          shape: tuple[str, ...]) -> None:
    """The same records as JSON Lines (scripts/convert_sample.py) and Parquet
    (scripts/to_parquet.py, typed columns or strings), read by their layouts' readers."""
    source = gendata(tmp_path / "g.csv", 3000, 5, *shape)
    script = ROOT / "scripts" / ("convert_sample.py" if converted == "jsonl" else "to_parquet.py")
    if converted == "jsonl":
        args = [str(source), "--out-dir", str(tmp_path), "--to", "jsonl", "--same-lines"]
        path = tmp_path / "g.jsonl"
    else:
        path = tmp_path / "g.parquet"
        args = ["--in", str(source), "--out", str(path), "--types", converted.split("-")[1]]
    subprocess.run([sys.executable, str(script), *args], check=True, capture_output=True)
    dataset = with_overrides(from_file.load("customers"), layout=converted.split("-")[0])
    assert assert_file(path, dataset) > 2900
    assert assert_file(path, dataset, size=97) > 2900


def test_clean_records_never_reach_the_row_validator(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path covers the generated clean file whole: not one record falls back."""
    path = gendata(tmp_path / "c.csv", 4000, 7)
    calls: list[int] = []
    original = Plan.validate
    monkeypatch.setattr(Plan, "validate", lambda self, *a: calls.append(1) or original(self, *a))
    for batch, mapped, reader in batches(path, from_file.load("customers"), 5000):
        prepared = prepare_vector(batch, mapped, reader)
        assert len(prepared.rows) == batch.records
    assert calls == []


# --- field cases, bundled datasets --------------------------------------------------------

@pytest.mark.parametrize("name", sorted(p.name for p in FIELD_CASES.glob("*.csv")))
def test_field_cases(name: str) -> None:
    path, dataset = FIELD_CASES / name, from_file.load("customers")
    if name.startswith("12-"):  # CR-only line ends: the producer refuses it before any batch
        with pytest.raises(UserError, match="CR-only"):
            assert_file(path, dataset)
        return
    assert assert_file(path, dataset) + assert_file(path, dataset, size=2) > 0


def test_field_case_18_wide_records(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    subprocess.run([sys.executable, str(FIELD_CASES / "18-wide-batch.py"), str(path)],
                   check=True)
    assert assert_file(path, from_file.load("customers")) == 1000


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "datasets").glob("*.yaml")))
def test_bundled_datasets_with_their_samples(name: str) -> None:
    dataset = from_file.load(name)
    samples = sorted((ROOT / "data").glob(f"{name}_sample.*"))
    assert samples, f"no sample of {name} in data/"
    for size in (5000, 3, 1):
        assert assert_file(samples[0], dataset, size) > 0


# --- the row validator's own value tables, and random inputs ------------------------------

def csv_field(value: str) -> str:
    if value[:1] == '"' or any(char in value for char in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def one_field_batch(field: dict[str, Any], schema: dict[str, Any], values: list[str]
                    ) -> tuple[Batch, Plan, Reader]:
    descriptor = {"name": "t", "schema": {"fields": [{"name": "v", **field}], **schema}}
    dataset = Dataset.from_descriptor(descriptor, "test")
    body = "".join(csv_field(value) + "\n" for value in values).encode("utf-8",
                                                                       "surrogatepass")
    batch = Batch("job-1", "t", 0, 2, 1 + len(values), len(values), ("v",), "t.csv", body)
    return batch, plan(dataset, ("v",), partial=True), reader_for(dataset)


def test_a_batch_with_rejects_is_freed_without_the_cycle_collector() -> None:
    """A closure's exception raised while it handled another (``json``'s, here) holds the
    frames of the validator in its context; the validator keeps the reject, not the
    exception, so a batch is freed by reference counting alone (such a cycle once kept the
    batches' arrow buffers and took consumer RSS to ~500 MB)."""
    batch, mapped, reader = one_field_batch({"type": "object"}, {}, ["{}", "nope", "[1]"])
    gc.collect()
    gc.disable()
    try:
        prepared = prepare_vector(batch, mapped, reader)
        assert [(r.line_no, r.reason) for r in prepared.rejects] == [
            (3, "invalid_object"), (4, "invalid_object")]
        freed = weakref.ref(prepared)
        del prepared
        assert freed() is None
    finally:
        gc.enable()


def schema_value_tables() -> dict[str, tuple[dict[str, Any], dict[str, Any], list[str]]]:
    """(field, schema, values) of every parametrized table of tests/test_schema_values.py."""
    groups: dict[str, tuple[dict[str, Any], dict[str, Any], list[str]]] = {}
    for name in dir(test_schema_values):
        marks = getattr(getattr(test_schema_values, name), "pytestmark", [])
        cases: list[dict[str, Any]] = [{}]
        for mark in (m for m in marks if m.name == "parametrize"):
            names = [n.strip() for n in (mark.args[0].split(",") if isinstance(
                mark.args[0], str) else mark.args[0])]
            rows = [row if len(names) > 1 else (row,) for row in mark.args[1]]
            cases = [{**case, **dict(zip(names, row, strict=True))}
                     for case in cases for row in rows]
        for case in cases:
            if "value" in case and isinstance(case.get("field"), dict):
                field, schema = case["field"], case.get("schema", {})
                key = json.dumps([field, schema], sort_keys=True)
                groups.setdefault(key, (field, schema, []))[2].append(case["value"])
    return groups


def test_every_value_of_the_row_validators_tables() -> None:
    groups = schema_value_tables()
    assert len(groups) > 60
    for field, schema, values in groups.values():
        # twice over: the second copy of each value hits the memo and in-batch duplicates
        assert_same(*one_field_batch(field, schema, values * 2))
        keyed = {**schema, "primaryKey": "v"}
        assert_same(*one_field_batch(field, keyed, values * 2))


CUSTOMERS_HEADER = test_csv_properties.HEADER


@settings(max_examples=400, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(test_csv_properties.TOKENS), max_size=40).map(b"".join))
def test_random_csv_bodies(body: bytes) -> None:
    dataset = from_file.load("customers")
    columns = tuple(CUSTOMERS_HEADER.decode().strip().split(","))
    batch = Batch("job-1", "customers", 0, 2, 2 + body.count(b"\n"), 1, columns, "p.csv", body)
    assert_same(batch, plan(dataset, columns, partial=True), reader_for(dataset))


DIGITS = st.sampled_from("0123456789")


def digits(low: int, high: int) -> st.SearchStrategy[str]:
    return st.lists(DIGITS, min_size=low, max_size=high).map("".join)


def near(parts: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A value of a form, sometimes bent: padded, cased, cut, or a character swapped for one
    that looks alike (full-width or Arabic-Indic digit, NBSP)."""
    odd = st.sampled_from([" ", "\u00a0", "\t", "\uff11", "\u0663", "x", "-", ".", "+", "Z",
                           "'", '"', ",", "\\", "\r", "\n", ""])
    return st.one_of(
        parts,
        st.tuples(odd, parts, odd).map("".join),
        st.tuples(parts, st.integers(0, 40), odd).map(
            lambda t: t[0][: t[1]] + t[2] + t[0][t[1] + 1:]),
        parts.map(str.upper), parts.map(str.lower))


def two(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda n: f"{n:02d}")


YEARS = st.one_of(digits(4, 4), st.sampled_from(["0000", "2000", "1900", "2024", "2023",
                                                 "0004", "0400", "9999", "0001"]))
DAYS = st.tuples(YEARS, two(0, 13), two(0, 32)).map("-".join)
CLOCK = st.tuples(st.sampled_from(["T", " ", "t"]), two(0, 25), st.just(":"), two(0, 61),
                  st.one_of(st.just(""), two(0, 61).map(lambda s: ":" + s)),
                  st.one_of(st.just(""), digits(0, 11).map(lambda f: "." + f))).map("".join)
ZONES = st.one_of(st.sampled_from(["", "Z", "z", "+00:00", "-05:00", "+05:30", "+0530", "+05",
                                   "+15:59", "+16:00", "-16", "+23:59", "+24:00", "+15:60"]),
                  st.tuples(st.sampled_from("+-"), two(0, 25),
                            st.sampled_from(["", ":"]), two(0, 61)).map("".join))
STAMPS = st.tuples(DAYS, st.one_of(st.just(""), st.tuples(CLOCK, ZONES).map("".join))).map(
    "".join)
NUMBERS = st.tuples(st.sampled_from(["", "-", "+"]), digits(0, 15),
                    st.sampled_from(["", "."]), digits(0, 4),
                    st.sampled_from(["", "", "e3", "E-2"])).map("".join)
HEX = st.lists(st.sampled_from("0123456789abcdefABCDEF"), min_size=32, max_size=32).map(
    "".join)
UUIDS = HEX.map(lambda h: f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
LOCAL = st.text("abcXYZ09._%+'-\u00e9 ", min_size=0, max_size=8)
EMAILS = st.tuples(LOCAL, st.sampled_from(["@", "@@", "", "\uff20"]),
                   st.text("abc-.09\u00fc", min_size=0, max_size=8),
                   st.sampled_from([".com", ".co.uk", "", "."])).map("".join)
CODES = st.tuples(st.text("ABCXYZabc\u00c9", min_size=2, max_size=4), st.just("-"),
                  digits(3, 5)).map("".join)

FIELDS: list[tuple[dict[str, Any], st.SearchStrategy[str]]] = [
    ({"name": "email", "type": "string", "format": "email"}, EMAILS),
    ({"name": "d", "type": "date", "constraints": {"minimum": "1900-01-01",
                                                    "maximum": "2030-12-31"}}, DAYS),
    ({"name": "ts", "type": "datetime", "x-ingest": {"columnType": "timestamptz"}}, STAMPS),
    ({"name": "naive", "type": "datetime", "x-ingest": {"columnType": "timestamp"}}, STAMPS),
    ({"name": "amount", "type": "number", "constraints": {"minimum": -1000, "maximum": 1e9},
      "x-ingest": {"columnType": "numeric(14,2)"}}, NUMBERS),
    ({"name": "ratio", "type": "number"}, NUMBERS),
    ({"name": "qty", "type": "integer", "constraints": {"minimum": -5, "maximum": 10**12},
      "x-ingest": {"columnType": "bigint"}}, NUMBERS),
    ({"name": "small", "type": "integer", "x-ingest": {"columnType": "smallint"}}, NUMBERS),
    ({"name": "level", "type": "integer", "constraints": {"enum": [1, 2, 3]}}, NUMBERS),
    ({"name": "zero_missing", "type": "integer", "missingValues": ["", "0"]}, NUMBERS),
    ({"name": "code", "type": "string", "constraints": {"pattern": "[A-Z]{3}-[0-9]{4}"},
      "x-ingest": {"columnType": "varchar(8)"}}, CODES),
    ({"name": "word", "type": "string", "constraints": {"minLength": 2, "maxLength": 4}},
     LOCAL),
    ({"name": "op", "type": "string", "constraints": {"required": True,
                                                      "enum": ["I", "U", "D"]}},
     st.sampled_from(["I", "U", "D", "i", "X", "", " I", "NA"])),
    ({"name": "flag", "type": "boolean", "trueValues": ["1", "S"], "falseValues": ["0"]},
     st.sampled_from(["1", "0", "S", "s", "", "true", " 1", "NA"])),
    ({"name": "born", "type": "year", "constraints": {"minimum": 1900}}, digits(3, 5)),
    ({"name": "at", "type": "time"}, CLOCK.map(lambda s: s[1:])),
    ({"name": "uid", "type": "string", "format": "uuid"}, near(UUIDS)),
    ({"name": "day_br", "type": "date", "format": "%d/%m/%Y"},
     DAYS.map(lambda d: "/".join(reversed(d.split("-"))))),
    ({"name": "note", "type": "any"}, st.text(max_size=6)),
]
RANDOM_DATASET = Dataset.from_descriptor({
    "name": "every", "schema": {"fields": [f for f, _ in FIELDS], "primaryKey": ["email"],
                                "missingValues": ["", "NA"]}}, "test")
RANDOM_HEADER = RANDOM_DATASET.field_names
RECORDS = st.lists(st.tuples(*(near(values) for _, values in FIELDS)), min_size=1, max_size=25)


@settings(max_examples=300, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(RECORDS, st.booleans())
def test_random_records_of_every_type(records: list[tuple[str, ...]], repeat: bool) -> None:
    records = records + records[:3] if repeat else records  # in-batch duplicates
    lines = [",".join(csv_field(value) for value in record) for record in records]
    body = "".join(line + "\n" for line in lines).encode()
    batch = Batch("job-1", "every", 0, 2, 1 + len(lines), len(lines), RANDOM_HEADER, "r.csv",
                  body)
    assert_same(batch, plan(RANDOM_DATASET, RANDOM_HEADER), reader_for(RANDOM_DATASET))


DIALECTS = [("utf-8", Dialect(delimiter=";")), ("latin-1", Dialect(delimiter=";")),
            ("cp1252", Dialect(delimiter="|", escape_char="\\")),
            ("utf-16", Dialect(delimiter="\t"))]  # utf-16: batches carry its UTF-8 transcoding


@settings(max_examples=150, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(RECORDS, st.sampled_from(DIALECTS))
def test_random_records_in_other_dialects_and_encodings(
        records: list[tuple[str, ...]], dialect: tuple[str, Dialect]) -> None:
    encoding, syntax = dialect
    dataset = replace(RANDOM_DATASET, encoding=encoding, dialect=syntax)
    reader = reader_for(dataset)
    quote, delimiter = syntax.quote_char, syntax.delimiter
    lines = [delimiter.join(quote + value.replace(quote, quote * 2) + quote
                            if any(c in value for c in (delimiter, quote, "\r", "\n"))
                            else value for value in record) for record in records]
    body = "".join(line + "\n" for line in lines).encode(reader.wire_encoding, "replace")
    batch = Batch("job-1", "every", 0, 2, 1 + len(lines), len(lines), RANDOM_HEADER, "r.csv",
                  body)
    assert_same(batch, plan(dataset, RANDOM_HEADER), reader)


@settings(max_examples=300, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(*(near(values) for _, values in FIELDS)), min_size=1, max_size=40))
def test_what_a_kernel_accepts_the_closure_keeps(records: list[tuple[str, ...]]) -> None:
    """The kernels' one promise: a value accepted is one the closure returns unchanged."""
    compiled = vector_plan(plan(RANDOM_DATASET, RANDOM_HEADER))
    for check in compiled.checks:
        if check.accept is None:
            continue
        values = [record[check.at] for record in records]
        try:
            accepted = arrow.true_positions(check.accept(arrow.strings(values)))
        except arrow.ArrowError:
            continue
        for place in accepted:
            assert check.cell(values[place]) == values[place], (check.name, values[place])


PATTERNS = ["[A-Z]{3}-[0-9]{4}", "(ab|c)*d?", "[^,]+", "a.c", "x{2,5}y+?", "[a-f0-9-]{36}",
            "é[ü-ÿ]?", "(?:[A-Z][a-z]+ ?)+", "[]a]", "[^\n]*"]
UNREAD = ["\\d+", "\\w", "\\s", "\\bx", "^a$", "a(?=b)", "(a)\\1", "(?i)a", "a{1001}", "a*+"]


@pytest.mark.parametrize("pattern", UNREAD)
def test_patterns_re2_may_read_otherwise_are_not_translated(pattern: str) -> None:
    assert translate(pattern) is None


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.lists(st.text("ABCXYZabcdfxy019-, \n\u00e9\u00fc]", max_size=12), max_size=30))
def test_translated_patterns_match_what_python_matches(values: list[str]) -> None:
    for pattern in PATTERNS:
        translated = translate(pattern)
        assert translated is not None, pattern
        found = arrow.fullmatch(arrow.strings(values), translated).to_pylist()
        assert found == [re.fullmatch(pattern, value) is not None for value in values], pattern


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.lists(st.text(',"\r\n\\ab\u00e9\u20ac', max_size=6), max_size=30),
       st.integers(0, 5))
def test_the_values_holding_a_special_byte_are_found_by_search(values: list[str],
                                                              skip: int) -> None:
    """``arrow.holding_any`` (the payload's search for values that need quoting) finds the
    values Python finds, in a slice of an array too (an offset into its buffers)."""
    array = arrow.as_array(arrow.strings(["x,y", *values]).slice(min(skip, len(values)) + 1))
    kept = values[min(skip, len(values)):]
    needles = tuple(char.encode() for char in ',"\r\n\\')
    expected = [at for at, value in enumerate(kept)
                if any(char in value for char in ',"\r\n\\')]
    assert arrow.holding_any(array, needles) == expected


def test_the_fast_path_covers_the_common_types() -> None:
    """Which fields have a kernel (the rest are decided by their closure, value by value)."""
    compiled = vector_plan(plan(RANDOM_DATASET, RANDOM_HEADER))
    kernels = {check.name for check in compiled.checks if check.accept is not None}
    assert kernels == {"email", "d", "ts", "naive", "amount", "ratio", "qty", "small", "level",
                       "code", "word", "op", "born", "at", "uid", "note"}


# --- the real pipeline --------------------------------------------------------------------

@pytest.mark.integration
@pytest.mark.usefixtures("clean_tables")
async def test_dirty_file_end_to_end_with_the_vector_path(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    path = gendata(tmp_path / "dirty.csv", 6000, 11, "--dirty")
    env = {**service_env, "CONSUMER_VALIDATION": "vector"}
    produced = produce(path, env, "--batch-size", "1000")
    assert produced.rc == 0, produced.stderr
    consumed = consume_burst(env)
    assert consumed.rc == 0, consumed.stderr
    assert consumed.summary["status"] == "ok"
    assert consumed.summary["records"] == 6000
    assert any('"validation": "vector"' in line for line in consumed.lines)
    await assert_loaded_exactly(database_url, [path], [produced.summary["job_id"]])
