"""The independent checker and the data generator, tested on their own.

Unit tests: ``expected()`` on small hand-written files (each rule, line numbers, hard input)
and ``scripts/gendata.py`` (determinism, every kind of dirty input present). Integration tests:
``check()`` on a hand-made database state, exact and then tampered with.
"""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from uuid import UUID, uuid4

import asyncpg
import pytest
import yaml

from tests import checker_rules
from tests.checker import (
    DATABASE_REJECTED,
    DUPLICATE_KEY,
    INVALID_DATE,
    INVALID_EMAIL,
    INVALID_ENCODING,
    INVALID_NUMBER,
    INVALID_TIMESTAMP,
    MALFORMED_CSV,
    REASONS,
    WRONG_COLUMN_COUNT,
    CsvDialect,
    Expected,
    FileRules,
    Invalid,
    Report,
    Row,
    assert_exact,
    check,
    expected,
    iter_records,
    parse_email,
    parse_number,
    parse_timestamp,
    read_header,
)
from tests.checker_rules import (
    INVALID_BOOLEAN,
    INVALID_CNPJ,
    INVALID_CPF,
    INVALID_UUID,
    MISSING_VALUE,
    NOT_IN_ENUM,
    OUT_OF_RANGE,
    PATTERN_MISMATCH,
    TOO_LONG,
)

ROOT = Path(__file__).resolve().parents[1]
GENDATA = ROOT / "scripts" / "gendata.py"
HEADER = b"email,first_name,last_name,phone,birth_date,city,country,signup_at,balance"
OK = b"ok@x.io,Ann,Lee,+33 1,1990-01-02,Paris,FR,2024-01-01T10:00:00Z,12.50"
CSV_LIMIT = 131072

unit = pytest.mark.unit


def write(path: Path, *lines: bytes, header: bytes = HEADER, end: bytes = b"\n") -> Path:
    """A file of ``header`` and ``lines``, each followed by ``end`` (the last one too)."""
    path.write_bytes(b"".join(line + end for line in (header, *lines)))
    return path


def outcomes(exp: Expected, file_index: int = 0) -> dict[int, str]:
    """Line number -> reason, or "ok" for a loaded row, for one file."""
    found = {line: why for (index, line), why in exp.rejects.items() if index == file_index}
    found.update({row.line_no: "ok" for row in exp.rows.values()
                  if row.file_index == file_index})
    return found


# --- expected(): the rules ------------------------------------------------------------------

RULE_CASES: list[tuple[bytes, str]] = [
    (OK, "ok"),
    (b"few@x.io,a,b", WRONG_COLUMN_COUNT),
    (b"many@x.io,a,b,c,,,,,,extra", WRONG_COLUMN_COUNT),
    (b'odd@x.io,"a"b",c",1,,,,,', MALFORMED_CSV),  # a closing quote before 'b'
    (b'lone@x.io,Wilson"s Mills,O"Neil,1,,,,,', "ok"),  # a quote inside a field is text
    (b'bs@x.io,a,"O\\"Jones",1,,,,,', MALFORMED_CSV),  # a MySQL \" is no escape
    (b"cr@x.io,a\rb,c,1,,,,,", "ok"),  # a lone CR is data
    (b'enc3@x.io,"\xff"x,b,1,,,,,', INVALID_ENCODING),  # encoding is checked before syntax
    (b"enc@x.io,\xff\xfe,b,1,,,,,", INVALID_ENCODING),
    (b"enc2@x.io,a,Lef\xe8vre,1,,,,,", INVALID_ENCODING),
    (b"nul@x.io,a\x00b,b,1,,,,,", INVALID_ENCODING),
    (b"both@x.io,\xff,too,few", INVALID_ENCODING),  # encoding is checked before the count
    (b"no-at,a,b,1,1990-02-30,,,,", INVALID_EMAIL),  # the e-mail is checked before the date
    (b"no-at.x.io,a,b,1,,,,,", INVALID_EMAIL),
    (b"two@@x.io,a,b,1,,,,,", INVALID_EMAIL),
    (b"a@b@x.io,a,b,1,,,,,", INVALID_EMAIL),
    (b"@x.io,a,b,1,,,,,", INVALID_EMAIL),
    (b"nodot@xio,a,b,1,,,,,", INVALID_EMAIL),
    (b"sp ace@x.io,a,b,1,,,,,", INVALID_EMAIL),
    (b"tab@x.\tio,a,b,1,,,,,", INVALID_EMAIL),
    (b",a,b,1,,,,,", INVALID_EMAIL),
    (b"feb30@x.io,a,b,1,2023-02-30,,,,", INVALID_DATE),
    (b"m13@x.io,a,b,1,2023-13-01,,,,", INVALID_DATE),
    (b"slash@x.io,a,b,1,1990/01/02,,,,", INVALID_DATE),
    (b"short@x.io,a,b,1,1990-1-2,,,,", INVALID_DATE),
    (b"dt@x.io,a,b,1,1990-01-02T00:00,,,,", INVALID_DATE),
    (b"leap@x.io,a,b,1, 2024-02-29 ,,,,", "ok"),
    (b"word@x.io,a,b,1,,,,yesterday,", INVALID_TIMESTAMP),
    (b"tm13@x.io,a,b,1,,,,2024-13-01T00:00:00,", INVALID_TIMESTAMP),
    (b"h25@x.io,a,b,1,,,,2024-01-01T25:00:00Z,", INVALID_TIMESTAMP),
    (b"frac7@x.io,a,b,1,,,,2024-01-01T10:00:00.1234567Z,", "ok"),  # 1-9 digits (.NET, Go)
    (b"frac10@x.io,a,b,1,,,,2024-01-01T10:00:00.1234567891Z,", INVALID_TIMESTAMP),
    ("fw@x.io,a,b,1,,,,,\uff11\uff12.\uff15".encode(), INVALID_NUMBER),  # ASCII digits only
    ("ar@x.io,a,b,1,١٩٩٠-01-15,,,,".encode(), INVALID_DATE),
    ("fwt@x.io,a,b,1,,,,\uff12\uff10\uff12\uff11-03-04T10:00:00Z,".encode(), INVALID_TIMESTAMP),
    (b"tdot@example.org.,a,b,1,,,,,", INVALID_EMAIL),  # a trailing dot in the domain
    (b"twodots@x..io,a,b,1,,,,,", INVALID_EMAIL),
    ("nbsp@x.io\u00a0,a,b,1,,,,,".encode(), "ok"),  # Unicode whitespace is trimmed
    (b"NBSP@X.IO,a,b,1,,,,,", DUPLICATE_KEY),
    ("jose\u0301@x.io,a,b,1,,,,,".encode(), "ok"),  # NFD: the key is NFC
    ("jos\u00e9@x.io,a,b,1,,,,,".encode(), DUPLICATE_KEY),
    (b"lowz@x.io,a,b,1,,,,2024-01-01T10:00:00z,", INVALID_TIMESTAMP),
    (b"nosec@x.io,a,b,1,,,,2024-01-01T10:00.5,", INVALID_TIMESTAMP),
    (b"comma@x.io,a,b,1,,,,,\"12,50\"", INVALID_NUMBER),
    (b"big@x.io,a,b,1,,,,,1234567890123", INVALID_NUMBER),
    (b"dec3@x.io,a,b,1,,,,,1.234", INVALID_NUMBER),
    (b"exp@x.io,a,b,1,,,,,1e3", INVALID_NUMBER),
    (b"dot@x.io,a,b,1,,,,,5.", "ok"),  # PostgreSQL's numeric reads 5. and .5
    (b"lead@x.io,a,b,1,,,,,0000000000001.00", "ok"),  # leading zeros are not digits of p
    (b"eod@x.io,a,b,1,,,,2024-01-01T24:00,", "ok"),  # ISO 8601 end of day
    (b"leap60@x.io,a,b,1,,,,2016-12-31T23:59:60Z,", "ok"),  # a leap second
    (b"off99@x.io,a,b,1,,,,2024-01-01T10:00:00+15:99,", INVALID_TIMESTAMP),
    (b"off1460@x.io,a,b,1,,,,2024-01-01T10:00:00+14:60,", INVALID_TIMESTAMP),
    (b"ovf@x.io,a,b,1,,,,0001-01-01T00:00:00+16:00,", INVALID_TIMESTAMP),
    ("zwsp@x.io\u200b,a,b,1,,,,,".encode(), INVALID_EMAIL),  # invisible: no second key
    (b"max@x.io,a,b,1,,,,,-999999999999.99", "ok"),
    (b"  Case@X.IO  ,a,b,1,,,,,", "ok"),
    (b"case@x.io,dup,b,1,,,,,", DUPLICATE_KEY),
    (b"CASE@x.io,dup,b,1,2023-02-30,,,,", INVALID_DATE),  # invalid beats duplicate
]


@unit
def test_each_rule_first_failing_wins(tmp_path: Path) -> None:
    path = write(tmp_path / "rules.csv", *(data for data, _ in RULE_CASES))
    exp = expected([path])
    assert outcomes(exp) == {line: why for line, (_, why) in enumerate(RULE_CASES, start=2)}
    assert exp.records == [len(RULE_CASES)]
    assert exp.rows["case@x.io"].line_no == RULE_CASES.index((b"  Case@X.IO  ,a,b,1,,,,,",
                                                              "ok")) + 2


@unit
def test_typed_values(tmp_path: Path) -> None:
    path = write(tmp_path / "values.csv", OK,
                 b"z@x.io,  Sp  ,,,,,,2024-03-05 10:11:12.5+02:00, -3 ",
                 b"u@x.io,a,b,c,2000-12-31,d,e,2024-03-05T10:11,+7.5",
                 b"o@x.io,a,b,c,,d,e,2024-03-05T23:30:00-0130,0",
                 b"h@x.io,a,b,c,,d,e,2024-03-05T10:11:12-05,1")
    rows = expected([path]).rows
    ok = rows["ok@x.io"]
    assert (ok.file_index, ok.line_no, ok.email, ok.first_name, ok.last_name, ok.phone) == (
        0, 2, "ok@x.io", "Ann", "Lee", "+33 1")
    assert (ok.birth_date, ok.city, ok.country) == (date(1990, 1, 2), "Paris", "FR")
    assert (ok.signup_at, ok.balance) == (datetime(2024, 1, 1, 10, tzinfo=UTC), Decimal("12.50"))
    z = rows["z@x.io"]
    assert (z.first_name, z.last_name, z.phone, z.birth_date) == ("  Sp  ", None, None, None)
    assert z.signup_at == datetime(2024, 3, 5, 8, 11, 12, 500000, tzinfo=UTC)
    assert z.balance == Decimal(-3)
    assert rows["u@x.io"].signup_at == datetime(2024, 3, 5, 10, 11, tzinfo=UTC)  # no zone: UTC
    assert rows["u@x.io"].balance == Decimal("7.5")
    assert rows["o@x.io"].signup_at == datetime(2024, 3, 6, 1, 0, tzinfo=UTC)
    assert rows["h@x.io"].signup_at == datetime(2024, 3, 5, 15, 11, 12, tzinfo=UTC)


@unit
def test_line_numbers_count_blank_lines_and_lines_inside_quotes(tmp_path: Path) -> None:
    body = (b"\xef\xbb\xbf" + HEADER + b"\r\n"                      # 1
            + b"a@x.io,a,b,1,,,,,\n"                                 # 2
            + b"\n"                                                  # 3 blank
            + b"\r\n"                                                # 4 blank (CRLF)
            + b'q@x.io,"two\nlines",b,1,,"crlf\r\ninside",,,\n'      # 5-7
            + b'e@x.io,"\n\n",b,1,,,,,\r\n'                          # 8-10 (blank lines quoted)
            + b"r@x.io,a,b,1,,,,,\r\n"                               # 11
            + b'd@x.io,"O""Brien, Jr",b,1,,"a,b",,,\n'               # 12
            + b"\n\n"                                                # 13, 14
            + b"last@x.io,a,b,1,,,,,")                               # 15, no line end
    path = tmp_path / "lines.csv"
    path.write_bytes(body)
    exp = expected([path])
    assert {row.email: row.line_no for row in exp.rows.values()} == {
        "a@x.io": 2, "q@x.io": 5, "e@x.io": 8, "r@x.io": 11, "d@x.io": 12, "last@x.io": 15}
    assert exp.records == [6]
    assert not exp.rejects
    assert exp.rows["q@x.io"].first_name == "two\nlines"
    assert exp.rows["q@x.io"].city == "crlf\r\ninside"
    assert exp.rows["e@x.io"].first_name == "\n\n"
    assert exp.rows["r@x.io"].balance is None  # the CR went with the line end
    assert (exp.rows["d@x.io"].first_name, exp.rows["d@x.io"].city) == ('O"Brien, Jr', "a,b")


@unit
def test_an_unclosed_quote_ends_its_record_after_10000_lines(tmp_path: Path) -> None:
    good = [f"g{i}@x.io,a,b,1,,,,,".encode() for i in range(10_020)]
    path = write(tmp_path / "open.csv", b'open@x.io,a,b,1,,,,,"', *good,
                 b'late@x.io,a,"never closed', b"x@x.io,1")
    exp = expected([path])
    # Lines 2-10001 are one record; the last one swallows the line after it (end of the data).
    assert exp.rejects == {(0, 2): MALFORMED_CSV, (0, 10_023): MALFORMED_CSV}
    assert sorted(row.line_no for row in exp.rows.values()) == list(range(10_002, 10_023))
    assert exp.records == [1 + 21 + 1]


@unit
def test_iter_records_bounds_and_blank_lines() -> None:
    lines = [b"h\n", b"\r\n", b'"a""\n', *[b"x\n"] * 10_050, b"\r"]
    got = list(iter_records(iter(lines)))
    assert [line for line, _ in got] == [1, 3, *range(10_003, 10_054)]
    assert got[1][1].count(b"\n") == 9_999
    assert got[-1] == (10_053, b"x")  # a last line of only a CR is blank, like "\r\n"
    big = [b'a,"' + b"z" * 60 + b"\n", *[b"y" * 30 + b"\n"] * 5]
    with_limit = list(iter_records(iter(big)))
    assert len(with_limit) == 1  # under 16 MiB: one record to the end of the data


@unit
def test_header_names_empty_ignored_duplicates_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "e.csv", b",ok@x.io,a,b,1,,,,,,,", header=b"," + HEADER + b",,")
    exp = expected([path])
    assert exp.rows["ok@x.io"].first_name == "a"
    with pytest.raises(ValueError, match="city twice"):
        expected([write(tmp_path / "d.csv", b"x", header=HEADER + b",City")])


@unit
def test_iter_records_splits_on_quotes_and_keeps_the_last_line(tmp_path: Path) -> None:
    lines = [b'h\n', b'a,"x\n', b'y",b\r\n', b'\r\n', b'c,""""\n', b'"unclosed\n', b'tail']
    assert list(iter_records(iter(lines))) == [
        (1, b"h"), (2, b'a,"x\ny",b'), (5, b'c,""""'), (6, b'"unclosed\ntail')]


@unit
def test_header_any_order_extra_columns_case_and_spaces(tmp_path: Path) -> None:
    header = b"\xef\xbb\xbf NOTES,Balance, Signup_At ,country,city,birth_date,phone,last_name," \
             b"first_name,EMAIL"
    path = write(tmp_path / "h.csv", b"free text,1.50,,FR,Paris,,555,Lee,Ann, A@X.IO",
                 b"x,1.50,,FR,Paris,,555,Lee,Ann,a@x.io,one too many",
                 b'"a, b",1.5.0,,FR,Paris,,555,Lee,Ann,b@x.io', header=header, end=b"\r\n")
    exp = expected([path])
    row = exp.rows["a@x.io"]
    assert (row.first_name, row.last_name, row.phone, row.city, row.country, row.balance) == (
        "Ann", "Lee", "555", "Paris", "FR", Decimal("1.50"))
    assert exp.rejects == {(0, 3): WRONG_COLUMN_COUNT, (0, 4): INVALID_NUMBER}
    assert read_header(header)[0] == "notes"


@unit
def test_header_without_a_required_column_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.csv", b"a@x.io", header=b"email,first_name")
    with pytest.raises(ValueError, match="header lacks"):
        expected([path])


@unit
def test_field_above_the_csv_module_limit(tmp_path: Path) -> None:
    big = b"z" * (CSV_LIMIT + 10)
    path = write(tmp_path / "big.csv", b"p@x.io,a,b,1,," + big + b",,,",
                 b'q@x.io,a,"' + big + b',\n",1,,,,,')
    exp = expected([path])
    assert exp.rows["p@x.io"].city == big.decode()
    assert len(exp.rows["q@x.io"].last_name or "") == len(big) + 2
    assert not exp.rejects


@unit
def test_duplicates_across_files_earliest_valid_line_wins(tmp_path: Path) -> None:
    first = write(tmp_path / "a.csv", b"bad@x.io,a,b,1,2023-02-30,,,,",   # 2: invalid
                  b"one@x.io,first,b,1,,,,,",                              # 3
                  b"one@x.io,again,b,1,,,,,")                               # 4: duplicate
    second = write(tmp_path / "b.csv", b" ONE@x.io ,later,b,1,,,,,",      # 2: duplicate
                   b"bad@x.io,now,b,1,,,,,",                               # 3: loaded
                   b"two@x.io,a,b,1,,,,,")                                 # 4
    exp = expected([first, second])
    assert exp.rejects == {(0, 2): INVALID_DATE, (0, 4): DUPLICATE_KEY,
                           (1, 2): DUPLICATE_KEY}
    assert {e: (r.file_index, r.line_no) for e, r in exp.rows.items()} == {
        "one@x.io": (0, 3), "bad@x.io": (1, 3), "two@x.io": (1, 4)}
    assert exp.rows["one@x.io"].first_name == "first"
    assert exp.records == [3, 3]
    reversed_exp = expected([second, first])
    assert reversed_exp.rows["one@x.io"].first_name == "later"


@unit
def test_fraction_digits_rounded_to_microseconds_and_email_keys(tmp_path: Path) -> None:
    path = write(tmp_path / "values.csv",
                 b"a@x.io,a,b,c,,d,e,2006-01-02T15:04:05.9999999-07:00,1",
                 b"b@x.io,a,b,c,,d,e,2020-05-12T23:41:10.061774001Z,1",
                 b"c@x.io,a,b,c,,d,e,2024-12-31 23:59:59.99999951,1",
                 "  D@B\u00dcCHER.example\u00a0,a,b,c,,d,e,,1".encode(),
                 "e@bu\u0308cher.example,a,b,c,,d,e,,1".encode())
    rows = expected([path]).rows
    assert rows["a@x.io"].signup_at == datetime(2006, 1, 2, 22, 4, 6, tzinfo=UTC)
    assert rows["b@x.io"].signup_at == datetime(2020, 5, 12, 23, 41, 10, 61774, tzinfo=UTC)
    assert rows["c@x.io"].signup_at == datetime(2025, 1, 1, tzinfo=UTC)  # carried into 2025
    assert "d@b\u00fccher.example" in rows
    assert "e@b\u00fccher.example" in rows  # NFD spelling, NFC key


@unit
def test_file_rules_raise_invalid_with_the_reason() -> None:
    rules = FileRules(read_header(HEADER), 0)
    with pytest.raises(Invalid) as caught:
        rules.row(2, b"x@y.io,a,b,1,,,,,1,2")
    assert caught.value.reason == WRONG_COLUMN_COUNT


# --- the generator --------------------------------------------------------------------------


def gendata(path: Path, rows: int, seed: int, *extra: str) -> Path:
    subprocess.run([sys.executable, str(GENDATA), "--rows", str(rows), "--seed", str(seed),
                    "--out", str(path), *extra], check=True, capture_output=True)
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def dirty_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return gendata(tmp_path_factory.mktemp("gen") / "dirty.csv", 4000, 11, "--dirty")


@unit
@pytest.mark.parametrize("mode", [(), ("--dirty",)])
def test_gendata_is_deterministic(tmp_path: Path, mode: tuple[str, ...]) -> None:
    one = gendata(tmp_path / "one.csv", 20_000, 7, *mode)
    two = gendata(tmp_path / "two.csv", 20_000, 7, *mode)
    other = gendata(tmp_path / "other.csv", 20_000, 8, *mode)
    assert sha256(one) == sha256(two)
    assert sha256(one) != sha256(other)
    piped = subprocess.run([sys.executable, str(GENDATA), "--rows", "20000", "--seed", "7",
                            "--out", "-", *mode], check=True, capture_output=True)
    assert hashlib.sha256(piped.stdout).hexdigest() == sha256(one)


@unit
def test_gendata_clean_file_is_all_valid(tmp_path: Path) -> None:
    path = gendata(tmp_path / "clean.csv", 30_000, 3)
    data = path.read_bytes()
    assert data.startswith(HEADER + b"\n")
    assert data.endswith(b"\n")
    assert b"\r" not in data
    exp = expected([path])
    assert exp.records == [30_000]
    assert len(exp.rows) == 30_000
    assert not exp.rejects
    crlf = gendata(tmp_path / "crlf.csv", 100, 3, "--crlf").read_bytes()
    assert crlf.count(b"\r\n") == crlf.count(b"\n") == 101


@unit
def test_gendata_dirty_file_holds_every_kind_of_bad_input(dirty_file: Path) -> None:
    data = dirty_file.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert not data.endswith(b"\n")
    assert b"\r\n" in data
    assert data.count(b"\n") > data.count(b"\r\n")  # LF line ends too
    assert b"\n\n" in data
    assert b"\n\r\n" in data  # a blank CRLF line
    assert b"\x00" in data
    assert max(len(line) for line in data.split(b"\n")) > CSV_LIMIT
    exp = expected([dirty_file])
    assert exp.records == [4000]
    reasons = exp.reasons()
    assert set(reasons) == set(REASONS) - {DATABASE_REJECTED}  # what the file rules give
    assert 0.03 <= len(exp.rejects) / 4000 <= 0.10, reasons  # the rest of the 7% is hard
    # A quoted field over the limit spans many lines: the loaded rows are not all one-liners.
    assert any(len((row.last_name or "") + (row.city or "")) > CSV_LIMIT
               for row in exp.rows.values())


@unit
def test_gendata_dirty_header_is_shuffled_with_an_extra_column(dirty_file: Path) -> None:
    first = dirty_file.read_bytes().split(b"\r\n", 1)[0]
    names = read_header(first)
    assert "notes" in names
    assert names != [*HEADER.decode().split(","), "notes"]
    assert first[3:].decode() != first[3:].decode().lower()  # mixed case on the header


def record_emails(path: Path) -> dict[int, str]:
    """Line number -> normalized e-mail of every record whose e-mail field parses."""
    records = iter_records(iter(path.read_bytes().splitlines(keepends=True)))
    rules = FileRules(read_header(next(records)[1]), 0)
    emails = {}
    for line, record in records:
        try:
            fields = record.decode("utf-8").split(",")
            emails[line] = fields[rules.index["email"]].strip().lower()
        except (UnicodeDecodeError, IndexError):
            continue
    return emails


@unit
def test_gendata_dirty_duplicates_near_far_and_of_invalid_records(dirty_file: Path) -> None:
    exp = expected([dirty_file])
    emails = record_emails(dirty_file)
    gaps = [line - exp.rows[emails[line]].line_no
            for (_, line), why in exp.rejects.items() if why == DUPLICATE_KEY]
    assert min(gaps) < 50
    assert max(gaps) > 1000
    # A valid record whose e-mail an earlier invalid record had: invalid records take none.
    first_seen: dict[str, int] = {}
    for line, email in sorted(emails.items()):
        first_seen.setdefault(email, line)
    assert any(first_seen[email] < row.line_no for email, row in exp.rows.items()
               if email in first_seen)
    # The same invalid record repeated later: rejected both times for the same reason.
    by_text: dict[bytes, list[int]] = {}
    for line, record in iter_records(iter(dirty_file.read_bytes().splitlines(keepends=True))):
        by_text.setdefault(record, []).append(line)
    repeats = [lines for lines in by_text.values() if len(lines) > 1]
    assert any(all((0, line) in exp.rejects for line in lines) for lines in repeats)


# --- check() against a real database --------------------------------------------------------

JOBS = ["job-a", "job-b"]


@pytest.fixture
def two_files(tmp_path: Path) -> Expected:
    first = write(tmp_path / "a.csv", OK,
                  b"bad@x.io,a,b,1,2023-02-30,,,,",
                  b'm@x.io,"multi\nline",b,+1,,"a,b",DE,2024-03-05 10:11:12+02:00,-3',
                  b"ok@x.io,dup,b,1,,,,,",
                  b"e@x.io,,,,,,,,")
    second = write(tmp_path / "b.csv", b" OK@X.IO ,again,b,1,,,,,",
                   b"bad@x.io,now,b,1,,,,,",
                   b"few,fields")
    return expected([first, second])


async def load_state(conn: asyncpg.Connection, exp: Expected) -> None:
    """Write exactly the expected state, as a correct loader would."""
    await conn.executemany(
        "INSERT INTO customers (email, first_name, last_name, phone, birth_date, city, country,"
        " signup_at, balance, job_id, line_no) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
        [(r.email, r.first_name, r.last_name, r.phone, r.birth_date, r.city, r.country,
          r.signup_at, r.balance, JOBS[r.file_index], r.line_no) for r in exp.rows.values()])
    await conn.executemany(
        "INSERT INTO ingest_rejects (job_id, line_no, reason, raw, detail)"
        " VALUES ($1, $2, $3, '', '')",
        [(JOBS[index], line, why) for (index, line), why in exp.rejects.items()])


@pytest.fixture
async def conn(database_url: str, clean_tables: None) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database_url)
    try:
        yield connection
    finally:
        await connection.close()


@pytest.mark.integration
async def test_check_reports_ok_for_the_exact_state(conn: asyncpg.Connection,
                                                    two_files: Expected) -> None:
    assert outcomes(two_files, 0) == {2: "ok", 3: INVALID_DATE, 4: "ok", 6: DUPLICATE_KEY,
                                      7: "ok"}
    assert outcomes(two_files, 1) == {2: DUPLICATE_KEY, 3: "ok", 4: WRONG_COLUMN_COUNT}
    await load_state(conn, two_files)
    report = await check(conn, two_files, JOBS)
    assert report.ok, str(report)
    assert_exact(report)
    assert (report.found_rows, report.found_rejects) == (4, 4)
    assert "OK" in str(report)


TAMPERING: list[tuple[str, str, str]] = [
    ("DELETE FROM customers WHERE line_no = 4", "lost", "job job-a line 4"),
    ("DELETE FROM ingest_rejects WHERE job_id = 'job-b' AND line_no = 4", "lost",
     "job job-b line 4"),
    ("INSERT INTO ingest_rejects (job_id, line_no, reason) VALUES ('job-a', 2, 'invalid_email')",
     "duplicated", "job job-a line 2"),
    ("INSERT INTO customers (email, job_id, line_no) VALUES ('other@x.io', 'job-b', 3)",
     "duplicated", "job job-b line 3: 2 times"),
    ("INSERT INTO ingest_rejects (job_id, line_no, reason) VALUES ('job-a', 5, 'invalid_date')",
     "unexpected", "job-a line 5"),
    ("INSERT INTO customers (email, job_id, line_no) VALUES ('zz@x.io', 'job-z', 2)",
     "unexpected", "job job-z"),
    ("UPDATE customers SET city = 'Lyon' WHERE email = 'ok@x.io'", "wrong_content",
     "job job-a line 2 email 'ok@x.io': city is 'Lyon', expected 'Paris'"),
    ("UPDATE customers SET signup_at = signup_at + interval '1 hour' WHERE email = 'm@x.io'",
     "wrong_content", "line 4 email 'm@x.io': signup_at"),
    ("UPDATE customers SET balance = 12.51 WHERE email = 'ok@x.io'", "wrong_content",
     "balance is Decimal('12.51'), expected Decimal('12.50')"),
    ("UPDATE customers SET first_name = '' WHERE email = 'e@x.io'", "wrong_content",
     "first_name is '', expected None"),
    ("UPDATE customers SET line_no = 6 WHERE email = 'ok@x.io'", "wrong_reason",
     "job job-a line 6: expected reject duplicate_key, but loaded as 'ok@x.io'"),
    ("UPDATE ingest_rejects SET reason = 'invalid_email' WHERE line_no = 3", "wrong_reason",
     "job job-a line 3: expected reject invalid_date, found reject invalid_email"),
    ("DELETE FROM customers WHERE email = 'bad@x.io';"
     "INSERT INTO ingest_rejects (job_id, line_no, reason) VALUES ('job-b', 3, 'duplicate_key')",
     "wrong_reason", "job job-b line 3: expected loaded as 'bad@x.io', but rejected"),
]


@pytest.mark.integration
@pytest.mark.parametrize(("tamper", "kind", "needle"), TAMPERING,
                         ids=[f"{kind}-{n}" for n, (_, kind, _) in enumerate(TAMPERING)])
async def test_check_reports_each_difference_with_its_line(
        conn: asyncpg.Connection, two_files: Expected, tamper: str, kind: str,
        needle: str) -> None:
    await load_state(conn, two_files)
    await conn.execute(tamper)
    report = await check(conn, two_files, JOBS)
    assert not report.ok
    entries: list[str] = getattr(report, kind)
    assert any(needle in entry for entry in entries), str(report)
    with pytest.raises(AssertionError, match=kind):
        assert_exact(report)


@pytest.mark.integration
async def test_check_counts_rows_of_other_jobs_and_wrong_job_count(
        conn: asyncpg.Connection, two_files: Expected) -> None:
    await load_state(conn, two_files)
    report = await check(conn, two_files, ["job-a", "job-c"])
    assert not report.ok
    assert any("job job-b is none of the checked jobs" in e for e in report.unexpected)
    assert any("job job-c line 4" in e for e in report.lost)
    with pytest.raises(ValueError, match="job ids"):
        await check(conn, two_files, JOBS[:1])


@unit
def test_report_text_shows_counts_and_the_first_entries() -> None:
    report = Report(lost=[f"file 0 (a.csv) job j line {n}: lost" for n in range(30)])
    text = str(report)
    assert "lost 30" in text
    assert "line 19: lost" in text
    assert "line 20: lost" not in text
    assert "and 10 more" in text
    assert not report.ok


@pytest.mark.integration
async def test_fraction_rounding_agrees_with_postgresql(database_url: str) -> None:
    """The checker's rounding of 1-9 fraction digits, against PostgreSQL's own reading."""
    rng = random.Random(8)
    ties = ("9999995", "9999994", "0000005", "0000015", "0000025", "123456500", "9", "999999999")
    values = [f"2024-02-29T23:59:59.{d}+05:30" for d in ties]
    values += [f"20{rng.randint(10, 30)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T"
               f"{rng.randint(10, 23)}:{rng.randint(10, 59)}:{rng.randint(10, 59)}."
               + "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 9)))
               + rng.choice(["Z", "", "-07:00", "+0545"]) for _ in range(3000)]
    connection = await asyncpg.connect(database_url, server_settings={"timezone": "UTC"})
    try:
        stored = await connection.fetch("SELECT v::timestamptz AS t FROM unnest($1::text[]) v",
                                        values)
    finally:
        await connection.close()
    for value, rec in zip(values, stored, strict=True):
        assert parse_timestamp(value) == rec["t"], value
# --- the other bundled datasets: user_purchase (aligned) and suppliers ----------------------


UP_SAMPLE = ROOT / "data" / "user_purchase_sample.txt"
SUPPLIERS_SAMPLE = ROOT / "data" / "suppliers_sample.csv"


@unit
def test_user_purchase_sample_outcomes() -> None:
    exp = expected([UP_SAMPLE], dataset="user_purchase")
    assert exp.records == [6]
    assert outcomes(exp) == {2: "ok", 3: "ok", 4: "ok", 5: INVALID_CPF, 6: INVALID_DATE,
                             7: "ok"}
    assert (exp.table, exp.key) == ("user_purchase", ("cpf",))
    assert exp.rows["15881399803"].values == {
        "cpf": "15881399803", "private": False, "incompleto": False,
        "data_da_ultima_compra": None, "ticket_medio": None, "ticket_da_ultima_compra": None,
        "loja_mais_frequente": None, "loja_da_ultima_compra": None}
    row = exp.rows["76804571746"].values
    assert row["ticket_medio"] == Decimal("1234567.89")
    assert row["ticket_da_ultima_compra"] == Decimal("99.90")
    assert row["data_da_ultima_compra"] == date(2013, 4, 2)
    assert (row["loja_mais_frequente"], row["loja_da_ultima_compra"]) == (
        "84726714000171", None)
    assert exp.rows["69879730917"].values["ticket_medio"] == Decimal("1090.00")


@unit
def test_suppliers_sample_outcomes() -> None:
    exp = expected([SUPPLIERS_SAMPLE], dataset="suppliers")
    assert exp.records == [21]
    # Lines 14-22 update, delete and bring back keys of lines 2-13 (the merge-mode sample);
    # in insert mode each is a later duplicate, except line 21's new key.
    assert outcomes(exp) == {
        2: "ok", 3: "ok", 4: "ok", 5: "ok", 6: INVALID_UUID, 7: PATTERN_MISMATCH,
        8: MISSING_VALUE, 9: INVALID_BOOLEAN, 10: NOT_IN_ENUM, 11: WRONG_COLUMN_COUNT,
        12: MISSING_VALUE, 13: "ok", 21: "ok",
        **{line: DUPLICATE_KEY for line in (14, 15, 16, 17, 18, 19, 20, 22)}}
    upper = exp.rows[UUID("6f9619ff-8b86-d011-b42d-00c04fc964ff")].values
    assert upper["name"] == "Bolts & Nuts, Ltda"
    assert (upper["active"], upper["preferred"], upper["blocked"], upper["op"]) == (
        True, True, False, "I")


UP_HEADER = ("CPF                PRIVATE     INCOMPLETO  DATA DA ÚLTIMA COMPRA TICKET MÉDIO"
             "            TICKET DA ÚLTIMA COMPRA   LOJA MAIS FREQUÊNTE LOJA DA ÚLTIMA COMPRA")
UP_STARTS = (0, 19, 31, 43, 65, 89, 115, 135)


def aligned_line(*values: str) -> str:
    ends = [*UP_STARTS[1:], None]
    cells = [value.ljust((end or len(value) + start) - start) for value, start, end in
             zip(values, UP_STARTS, ends, strict=True)]
    return "".join(cells).rstrip()


@unit
def test_user_purchase_rules_each_reason_and_duplicates(tmp_path: Path) -> None:
    ok = ("158.813.998-03", "0", "1", "2013-05-13", "1,5", "0,00", "11.417.075/0001-99", "NULL")
    lines = [
        aligned_line(*ok),                                                    # 2
        "",                                                                   # 3 blank
        aligned_line("158.813.998-04", *ok[1:]),                              # 4
        aligned_line("15881399803", *ok[1:]),                                 # 5 duplicate
        aligned_line("698.797.309-17", "2", *ok[2:]),                         # 6
        aligned_line("518.844.729-07", "NULL", *ok[2:]),                      # 7
        aligned_line("486.488.766-72", *ok[1:4], "1.2345,00", *ok[5:]),       # 8
        aligned_line("768.045.717-46", *ok[1:4], "-1,00", *ok[5:]),           # 9
        aligned_line("11144477735", *ok[1:4], "1,234", *ok[5:]),              # 10
        aligned_line("52998224725", *ok[1:6], "11.417.075/0001-98", "NULL"),  # 11
        aligned_line("NULL", *ok[1:]),                                        # 12
        aligned_line("39053344705", *ok[1:3], "13/05/2013", *ok[4:]),         # 13
    ]
    path = tmp_path / "up.txt"
    path.write_text("\n".join([UP_HEADER, *lines]) + "\r\n", encoding="utf-8")
    exp = expected([path], dataset="user_purchase")
    assert exp.records == [11]
    assert outcomes(exp) == {2: "ok", 4: INVALID_CPF, 5: DUPLICATE_KEY, 6: INVALID_BOOLEAN,
                             7: MISSING_VALUE, 8: INVALID_NUMBER, 9: OUT_OF_RANGE,
                             10: INVALID_NUMBER, 11: INVALID_CNPJ, 12: MISSING_VALUE,
                             13: INVALID_DATE}
    assert exp.rows["15881399803"].values["ticket_medio"] == Decimal("1.5")


@unit
def test_aligned_header_names_with_single_spaces_between_columns() -> None:
    names = checker_rules.USER_PURCHASE.names
    starts = checker_rules.aligned_starts(UP_HEADER, names)
    assert tuple(starts[name] for name in names) == UP_STARTS
    with pytest.raises(ValueError, match="starts no column"):
        checker_rules.aligned_starts(UP_HEADER + " EXTRA", names)
    with pytest.raises(ValueError, match="header lacks"):
        checker_rules.aligned_starts(UP_HEADER.replace("PRIVATE ", ""), names)


FULLWIDTH_CPF = "".join(chr(0xFF10 + int(d)) for d in "52998224725")


@unit
@pytest.mark.parametrize(("value", "stored"), [
    ("529.982.247-25", "52998224725"), ("52998224725", "52998224725"),
    (" 111.444.777-35 ", "11144477735"), ("529.982.247-24", None), ("5299822472", None),
    ("529.982.247-2x", None), ("000.000.000-00", None),
    pytest.param(FULLWIDTH_CPF, None, id="fullwidth"),
])
def test_cpf_check_digits(value: str, stored: str | None) -> None:
    if stored is None:
        with pytest.raises(Invalid) as caught:
            checker_rules.cpf(value)
        assert caught.value.reason == INVALID_CPF
    else:
        assert checker_rules.cpf(value) == stored


@unit
@pytest.mark.parametrize(("value", "stored"), [
    ("11.222.333/0001-81", "11222333000181"), ("11222333000181", "11222333000181"),
    ("12.ABC.345/01DE-35", "12ABC34501DE35"),  # the Receita's alphanumeric example
    ("12.abc.345/01de-35", "12ABC34501DE35"), ("11.222.333/0001-80", None),
    ("00.000.000/0000-00", None), ("12.ABC.345/01DE-3A", None), ("1122233300018", None),
])
def test_cnpj_check_digits(value: str, stored: str | None) -> None:
    if stored is None:
        with pytest.raises(Invalid) as caught:
            checker_rules.cnpj(value)
        assert caught.value.reason == INVALID_CNPJ
    else:
        assert checker_rules.cnpj(value) == stored


@unit
def test_cpf_and_cnpj_agree_with_python_stdnum() -> None:
    """The checker's digits come from the definition; stdnum (what the product uses) agrees."""
    from stdnum.br import cnpj, cpf

    rng = random.Random(11)
    for _ in range(3000):
        number = f"{rng.randrange(10**11):011d}"
        expected_ok = cpf.is_valid(number)
        try:
            checker_rules.cpf(number)
            ok = True
        except Invalid:
            ok = False
        assert ok == expected_ok, number
        [valid] = [v for v in (f"{number[:9]}{d:02d}" for d in range(100)) if cpf.is_valid(v)]
        assert checker_rules.cpf(cpf.format(valid)) == valid
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    for _ in range(3000):
        base = "".join(rng.choice(alphabet) for _ in range(12))
        number = base + cnpj.calc_check_digits(base + "00")
        assert checker_rules.cnpj(number) == number
        wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
        with pytest.raises(Invalid):
            checker_rules.cnpj(wrong)


@unit
def test_suppliers_rules_agree_with_frictionless() -> None:
    """frictionless-py (an oracle sharing no code with the pipeline) flags the same records
    of the sample, for the same kinds of rules, with the schema of datasets/suppliers.yaml."""
    from frictionless import Resource, Schema

    descriptor = yaml.safe_load((ROOT / "datasets" / "suppliers.yaml").read_text())
    fields = [{k: v for k, v in f.items() if k != "x-ingest"}
              for f in descriptor["schema"]["fields"]]
    schema = Schema.from_descriptor({"fields": fields,
                                     "primaryKey": descriptor["schema"]["primaryKey"]})
    resource = Resource(path=str(SUPPLIERS_SAMPLE.relative_to(ROOT)), basepath=str(ROOT),
                        schema=schema)
    found: dict[int, str] = {}
    for error in resource.validate().tasks[0].errors:
        if error.type == "missing-cell":  # the record is short: that comes first
            found[error.row_number] = WRONG_COLUMN_COUNT
        elif error.type == "type-error":
            found.setdefault(error.row_number, {"id": INVALID_UUID,
                                                "active": INVALID_BOOLEAN}[error.field_name])
        elif error.type == "constraint-error":
            constraint = error.message.split('constraint "')[1].split('"')[0]
            found.setdefault(error.row_number, {"required": MISSING_VALUE,
                                                "pattern": PATTERN_MISMATCH,
                                                "enum": NOT_IN_ENUM}[constraint])
        else:
            assert error.type == "primary-key", error.message  # of a row refused already
    mine = expected([SUPPLIERS_SAMPLE], dataset="suppliers").rejects
    # duplicate_key is insert mode's rule (frictionless reports them as primary-key errors)
    assert found == {line: reason for (_, line), reason in mine.items()
                     if reason != DUPLICATE_KEY}


# --- check() on tables without lineage columns: ingest_keys ---------------------------------

SIDE_TABLES = """
CREATE TABLE suppliers (
    id uuid PRIMARY KEY, code varchar(8) NOT NULL, name varchar(100) NOT NULL,
    active boolean NOT NULL, preferred boolean NOT NULL, blocked boolean NOT NULL,
    op char(1) NOT NULL);
CREATE TABLE user_purchase (
    cpf varchar(11) PRIMARY KEY, private boolean NOT NULL, incompleto boolean NOT NULL,
    data_da_ultima_compra date, ticket_medio numeric(14, 2), ticket_da_ultima_compra
    numeric(14, 2), loja_mais_frequente varchar(14), loja_da_ultima_compra varchar(14));
CREATE TABLE ingest_rejects (id bigserial PRIMARY KEY, job_id text NOT NULL,
    line_no integer NOT NULL, reason text NOT NULL, raw text, detail text);
CREATE TABLE ingest_keys (target {target_type} NOT NULL, key text NOT NULL,
    job_id text NOT NULL, line_no integer NOT NULL, PRIMARY KEY (target, key));
"""


@pytest.fixture(params=["oid", "regclass", "text"])
async def side_conn(request: pytest.FixtureRequest,
                    database_url: str) -> AsyncIterator[tuple[asyncpg.Connection, str]]:
    """A connection whose search_path is a schema of its own: the example tables without
    job_id/line_no, ingest_rejects, and ingest_keys with ``target`` of the parameter's type."""
    schema = f"side_{uuid4().hex[:10]}"
    connection = await asyncpg.connect(database_url)
    await connection.execute(f"CREATE SCHEMA {schema}; SET search_path = {schema}")
    await connection.execute(SIDE_TABLES.format(target_type=request.param))
    try:
        yield connection, request.param
    finally:
        await connection.execute(f"DROP SCHEMA {schema} CASCADE")
        await connection.close()


TARGETS = {"oid": lambda table: f"'{table}'::regclass::oid",
           "regclass": lambda table: f"'{table}'::regclass",
           "text": lambda table: f"'{table}'"}


async def load_side_state(conn: asyncpg.Connection, target_type: str, exp: Expected,
                          jobs: list[str]) -> None:
    """Write exactly the expected state, lineage in ingest_keys, as a correct loader would."""
    columns = ", ".join(exp.columns)
    marks = ", ".join(f"${i}" for i in range(1, len(exp.columns) + 1))
    await conn.executemany(f"INSERT INTO {exp.table} ({columns}) VALUES ({marks})",
                           [tuple(r.get(c) for c in exp.columns) for r in exp.rows.values()])
    target = TARGETS[target_type](exp.table)
    await conn.executemany(
        f"INSERT INTO ingest_keys (target, key, job_id, line_no) VALUES ({target}, $1, $2, $3)",
        [(str(r.get(exp.key[0])), jobs[r.file_index], r.line_no) for r in exp.rows.values()])
    await conn.executemany(
        "INSERT INTO ingest_rejects (job_id, line_no, reason) VALUES ($1, $2, $3)",
        [(jobs[index], line, why) for (index, line), why in exp.rejects.items()])


@pytest.mark.integration
async def test_check_reads_lineage_from_ingest_keys(
        side_conn: tuple[asyncpg.Connection, str]) -> None:
    conn, target_type = side_conn
    suppliers = expected([SUPPLIERS_SAMPLE], dataset="suppliers")
    purchases = expected([UP_SAMPLE, UP_SAMPLE], dataset="user_purchase")
    await load_side_state(conn, target_type, suppliers, ["sup-1"])
    await load_side_state(conn, target_type, purchases, ["up-1", "up-2"])
    assert outcomes(purchases, 1) == {line: DUPLICATE_KEY for line in (2, 3, 4, 7)} | {
        5: INVALID_CPF, 6: INVALID_DATE}
    report = await check(conn, suppliers, ["sup-1"], ignore_jobs=["up-1", "up-2"])
    assert report.ok, str(report)
    assert (report.found_rows, report.found_rejects) == (6, 15)
    report = await check(conn, purchases, ["up-1", "up-2"], ignore_jobs=["sup-1"])
    assert report.ok, str(report)
    assert (report.found_rows, report.found_rejects) == (4, 8)
    unscoped = await check(conn, purchases, ["up-1", "up-2"])
    assert any("job sup-1 is none of the checked jobs" in e for e in unscoped.unexpected)


SIDE_TAMPERING: list[tuple[str, str, str]] = [
    ("UPDATE suppliers SET name = 'Acme' WHERE code = 'ACM-0001'", "wrong_content",
     "line 2 id UUID('0b6c1c8e-4f5a-4d2b-9a51-3f1e2d7c8b90'): name is 'Acme', expected "
     "'Acme Parts'"),
    ("UPDATE suppliers SET op = 'D' WHERE code = 'LUM-0012'", "wrong_content",
     "op is 'D', expected 'U'"),
    ("DELETE FROM ingest_keys WHERE line_no = 3", "unexpected",
     "suppliers row id UUID('6f9619ff-8b86-d011-b42d-00c04fc964ff') (job None, line None)"),
    ("DELETE FROM suppliers WHERE code = 'CAS-0003'", "lost",
     "line 4: expected loaded as UUID('3d2f0a8e-1b7c-4e6d-8f9a-0c1b2d3e4f50'), found in "
     "neither suppliers nor ingest_rejects"),
    ("UPDATE ingest_keys SET line_no = 6 WHERE line_no = 5", "wrong_reason",
     "line 6: expected reject invalid_uuid, but loaded as UUID('a1b2c3d4"),
    ("UPDATE ingest_rejects SET reason = 'too_long' WHERE line_no = 7", "wrong_reason",
     "line 7: expected reject pattern_mismatch, found reject too_long"),
    ("INSERT INTO ingest_rejects (job_id, line_no, reason) VALUES ('sup-1', 13, 'invalid_uuid')",
     "duplicated", "line 13: 2 times"),
]


@pytest.mark.integration
@pytest.mark.parametrize(("tamper", "kind", "needle"), SIDE_TAMPERING,
                         ids=[f"{kind}-{n}" for n, (_, kind, _) in enumerate(SIDE_TAMPERING)])
async def test_check_with_ingest_keys_reports_each_difference(
        side_conn: tuple[asyncpg.Connection, str], tamper: str, kind: str,
        needle: str) -> None:
    conn, target_type = side_conn
    suppliers = expected([SUPPLIERS_SAMPLE], dataset="suppliers")
    await load_side_state(conn, target_type, suppliers, ["sup-1"])
    await conn.execute(tamper)
    report = await check(conn, suppliers, ["sup-1"])
    entries: list[str] = getattr(report, kind)
    assert any(needle in entry for entry in entries), str(report)


@pytest.mark.integration
async def test_check_a_keyless_table_compares_rows_as_a_multiset(
        side_conn: tuple[asyncpg.Connection, str], tmp_path: Path) -> None:
    """No key, no lineage: the rows must be the valid records' rows, each as often."""
    conn, _ = side_conn
    await conn.execute("ALTER TABLE suppliers DROP CONSTRAINT suppliers_pkey")
    path = tmp_path / "twice.csv"
    # the sample's first 12 records (its later ones repeat keys for merge mode), each twice
    body = b"".join(SUPPLIERS_SAMPLE.read_bytes().splitlines(keepends=True)[:13])
    path.write_bytes(body + body.split(b"\n", 1)[1])
    keyed = expected([path], dataset="suppliers")
    assert len(keyed.rows) == 5
    exp = expected([path], dataset="suppliers")
    exp.key = ()
    exp.rows = {(r.file_index, r.line_no): r for r in keyed.loaded.values()}
    again = {(0, line + 12): Row(0, line + 12, keyed.loaded[(0, line)].values)
             for (_, line) in keyed.loaded}
    exp.rows.update(again)
    for key in again:
        del exp.rejects[key]
    await conn.executemany(
        "INSERT INTO suppliers VALUES ($1, $2, $3, $4, $5, $6, $7)",
        [tuple(r.get(c) for c in exp.columns) for r in exp.rows.values()])
    await conn.executemany("INSERT INTO ingest_rejects (job_id, line_no, reason) "
                           "VALUES ('j', $1, $2)",
                           [(line, why) for (_, line), why in exp.rejects.items()])
    report = await check(conn, exp, ["j"])
    assert report.ok, str(report)
    assert report.found_rows == 10
    await conn.execute("DELETE FROM suppliers WHERE ctid = "
                       "(SELECT ctid FROM suppliers WHERE code = 'ACM-0001' LIMIT 1)")
    report = await check(conn, exp, ["j"])
    assert any("'ACM-0001'" in entry and "1 missing" in entry for entry in report.lost)


ORDER_RULES = checker_rules.Rules(
    name="orders", table="orders", key=("region", "order_no"), layout="delimited",
    missing=("",), columns=(
        checker_rules.Column("region", checker_rules.text(max_length=3), is_string=True),
        checker_rules.Column("order_no", int),
        checker_rules.Column("placed_on", checker_rules.iso_date, required=True),
    ))


@pytest.mark.integration
async def test_check_a_composite_key_from_ingest_keys_json(
        side_conn: tuple[asyncpg.Connection, str], tmp_path: Path) -> None:
    """A test's own rules (a user's table); the side table holds the key as a JSON array."""
    conn, target_type = side_conn
    await conn.execute("CREATE TABLE orders (region varchar(3), order_no integer, "
                       "placed_on date NOT NULL, PRIMARY KEY (region, order_no))")
    path = tmp_path / "orders.csv"
    path.write_text("Region,Order No,Placed On\nBR,1,2024-01-02\nBR,2,\nBR,1,2024-01-03\n"
                    "US,1,2024-01-04\nLONG,3,2024-01-05\n")
    exp = expected([path], dataset=ORDER_RULES)
    assert outcomes(exp) == {2: "ok", 3: MISSING_VALUE, 4: DUPLICATE_KEY, 5: "ok", 6: TOO_LONG}
    assert set(exp.rows) == {("BR", 1), ("US", 1)}
    await conn.executemany("INSERT INTO orders VALUES ($1, $2, $3)",
                           [tuple(r.get(c) for c in exp.columns) for r in exp.rows.values()])
    await conn.executemany(
        f"INSERT INTO ingest_keys VALUES ({TARGETS[target_type]('orders')}, $1, 'o-1', $2)",
        [(json.dumps([r.get("region"), r.get("order_no")]), r.line_no)
         for r in exp.rows.values()])
    await conn.executemany("INSERT INTO ingest_rejects (job_id, line_no, reason) "
                           "VALUES ('o-1', $1, $2)",
                           [(line, why) for (_, line), why in exp.rejects.items()])
    report = await check(conn, exp, ["o-1"])
    assert report.ok, str(report)
    await conn.execute("UPDATE ingest_keys SET line_no = 4 WHERE key = '[\"US\", 1]'")
    report = await check(conn, exp, ["o-1"])
    assert any("line 4: expected reject duplicate_key, but loaded as ('US', 1)" in entry
               for entry in report.wrong_reason), str(report)


@unit
def test_delimited_files_in_another_dialect_and_quoted_column_names(tmp_path: Path) -> None:
    """``dialect``: another delimiter and encoding (a byte that does not decode is
    invalid_encoding); a column takes its exact header name, else the normalized one."""
    rules = checker_rules.Rules(
        name="t", table="t", key=("id",), layout="delimited", missing=("",), columns=(
            checker_rules.Column("id", int),
            checker_rules.Column("Nome Completo", checker_rules.text(), is_string=True),
            checker_rules.Column("cidade", checker_rules.text(), is_string=True)))
    path = tmp_path / "t.csv"
    path.write_bytes("ID;NOME  COMPLETO;Cidade\n1;José;São Paulo\n2;\"A; B\";x\n".encode("cp1252")
                     + b"3;Bad\x81;y\n4;z\n")
    exp = expected([path], dataset=rules, dialect=CsvDialect(";", encoding="cp1252"))
    assert outcomes(exp) == {2: "ok", 3: "ok", 4: INVALID_ENCODING, 5: WRONG_COLUMN_COUNT}
    assert exp.rows[1].get("Nome Completo") == "José"
    assert exp.rows[1].get("cidade") == "São Paulo"
    assert exp.rows[2].get("Nome Completo") == "A; B"
    exact = tmp_path / "exact.csv"  # the exact name wins over a normalized twin
    exact.write_text("id,nome_completo,Nome Completo,cidade\n1,no,yes,c\n")
    assert expected([exact], dataset=rules).rows[1].get("Nome Completo") == "yes"

# --- issue 10 findings F1, F3, F9, F10: the checker's own rules -----------------------------


@unit
@pytest.mark.parametrize(("value", "stored"), [
    ("2020-01-01T24:00", datetime(2020, 1, 2, tzinfo=UTC)),  # end of day: the next 00:00
    ("2020-01-01T24:00:00Z", datetime(2020, 1, 2, tzinfo=UTC)),
    ("2020-01-01T23:59:60Z", datetime(2020, 1, 2, tzinfo=UTC)),  # leap second
    ("2020-01-01T10:59:60.5Z", datetime(2020, 1, 1, 11, 0, 0, 500000, tzinfo=UTC)),
    ("2020-01-01T10:00:00+15:59", datetime(2019, 12, 31, 18, 1, tzinfo=UTC)),
    ("2020-01-01T10:00:00+16:00", datetime(2019, 12, 31, 18, tzinfo=UTC)),  # converted
    ("2020-01-01T10:00:00.9999995+16:00", datetime(2019, 12, 31, 18, 0, 1, tzinfo=UTC)),
    ("0001-01-01T00:00:00+16:00", INVALID_TIMESTAMP),  # F1: out of range once converted
    ("9999-12-31T23:59:59-16:00", INVALID_TIMESTAMP),
    ("9999-12-31T23:59:59.9999999-16:00", INVALID_TIMESTAMP),
    ("2020-01-01T10:00:00+15:99", INVALID_TIMESTAMP),  # F3: minutes 00-59
    ("2020-01-01T10:00:00-15:75", INVALID_TIMESTAMP),
    ("2020-01-01T10:00:00+16:60", INVALID_TIMESTAMP),
    ("2020-01-01T10:00:00+14:60", INVALID_TIMESTAMP),
    ("2020-01-01T10:00:00+24:00", INVALID_TIMESTAMP),
    ("2020-01-01T24:00:00.5Z", INVALID_TIMESTAMP),
    ("2020-01-01T23:59:60.000001Z", INVALID_TIMESTAMP),
    ("2020-01-01T23:60Z", INVALID_TIMESTAMP),
])
def test_f_timestamp_values(value: str, stored: datetime | str) -> None:
    if isinstance(stored, str):
        with pytest.raises(Invalid) as caught:
            parse_timestamp(value)
        assert caught.value.reason == stored
    else:
        assert parse_timestamp(value) == stored


@unit
@pytest.mark.parametrize(("value", "stored"), [
    (".5", Decimal("0.5")), ("5.", Decimal(5)), ("-.5", Decimal("-0.5")), ("+.5", Decimal("0.5")),
    ("0000000000001.00", Decimal(1)), ("1.230", Decimal("1.23")), ("999999999999.99",
                                                                    Decimal("999999999999.99")),
    (".", INVALID_NUMBER), ("1.234", INVALID_NUMBER), ("1234567890123", INVALID_NUMBER),
    ("1e3", INVALID_NUMBER), ("+-1", INVALID_NUMBER), ("\uff11.00", INVALID_NUMBER),
])
def test_f9_number_values(value: str, stored: Decimal | str) -> None:
    if isinstance(stored, str):
        with pytest.raises(Invalid) as caught:
            parse_number(value)
        assert caught.value.reason == stored
    else:
        assert parse_number(value) == stored


@unit
@pytest.mark.parametrize(("value", "key"), [
    ("m1@x.org\u200b", None), ("\ufeffm1@x.org", None), ("m\u00adx@x.org", None),
    ("a\x00b@x.org", None), ("a\x1fb@x.org", None), ("m2\uff20x.org", None),
    ("\x1fm5@x.org", "m5@x.org"), ("\u00a0M4@x.org\u2003", "m4@x.org"),
])
def test_f10_email_values(value: str, key: str | None) -> None:
    if key is None:
        with pytest.raises(Invalid):
            parse_email(value)
    else:
        assert parse_email(value) == key


@unit
def test_decimal_comma_forms_postgresql_reads() -> None:
    decimal_comma = checker_rules.decimal_comma
    assert decimal_comma(",5") == Decimal("0.5")
    assert decimal_comma("5,") == Decimal(5)
    assert decimal_comma("0.000.000.000.001,00") == Decimal(1)
    assert decimal_comma("1,230") == Decimal("1.23")
    for bad in ("1,234", "1.5", ",", "1.234.567.890.123"):
        with pytest.raises(Invalid):
            decimal_comma(bad)


def _customers_values() -> list[tuple[str, str]]:
    """(column, value) pairs of the kinds issue 10's tester tried, and more of them."""
    stamps = [f"2020-01-01T{h}:{m}{s}{z}" for h in ("00", "23", "24", "25")
              for m in ("00", "59", "60") for s in ("", ":60", ":60.5", ":59.9999995")
              for z in ("", "Z", "+15:59", "+16:00", "-23:59", "+14:60", "+15:99", "+24:00")]
    stamps += ["0001-01-01T00:00:00+16:00", "9999-12-31T23:59:59-16:00", "2020-13-01",
               "2021-02-29T10:00Z", "0000-01-01T00:00Z", "2020-01-01t10:00z", "2020-01-01.5"]
    numbers = [".5", "5.", "-.5", "+.5", "0000000000001.00", "1.230", "1e3", "NaN", ".", "+-1",
               "1_000", "\uff11.00", "\u0663.00", "1234567890123", "999999999999.99", " 12.50 "]
    dates = ["2000-02-29", "1900-02-29", "0000-01-01", "2020-13-01", "2020-W01-1", "2020-001",
             "+2020-01-01", " 2020-01-01", "2020-1-1"]
    emails = ["m1@x.org\u200b", "\ufeffm1@x.org", "\x1fm5@x.org", "a\x1fb@x.org", "a\x7f@x.org",
              "m\u00adx@x.org", "M3@X.ORG", "JOSE\u0301@X.ORG", "a@b.co.", "a@b..co", "@b.co"]
    return ([("signup_at", v) for v in stamps] + [("balance", v) for v in numbers]
            + [("birth_date", v) for v in dates] + [("email", v) for v in emails])


@unit
def test_checker_and_product_agree_on_the_value_kinds() -> None:
    """The checker's rules (its own code) and libs/schema's customers plan give the same
    outcome: the reason, or a row. Imported here, in the test, never by the checker."""
    from libs.schema import from_file
    from libs.schema.compile import Reject, plan

    names = ["email", "first_name", "last_name", "phone", "birth_date", "city", "country",
             "signup_at", "balance"]
    product = plan(from_file.load(str(ROOT / "datasets" / "customers.yaml")), names)
    rules = FileRules(names, 0)
    base = {"email": "k@x.org", "birth_date": "", "signup_at": "", "balance": ""}
    disagree = []
    for column, value in _customers_values():
        fields = [{**base, column: value}.get(name, "t") for name in names]
        ours = product.validate(fields)
        ours_reason = ours.reason if isinstance(ours, Reject) else "row"
        try:
            rules.row(2, ",".join(f'"{f}"' for f in fields).encode())
            theirs = "row"
        except Invalid as exc:
            theirs = exc.reason
        if ours_reason != theirs:
            disagree.append(f"{column} {value!r}: product {ours_reason}, checker {theirs}")
    assert not disagree, "\n".join(disagree)
