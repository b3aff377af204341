"""The independent checker: what the database must hold after loading some files, and a diff.

It reads the files with its own code, written from the rules of the spec (never with libs/,
producer/ or consumer/), so that a bug in the product cannot hide itself in the answer.

- :func:`expected` computes, for files of one dataset loaded in order as jobs, every record's
  outcome: a row of the dataset's table (typed values) or a reject with its reason, by (file
  index, line number). ``customers`` has its rules here; ``user_purchase`` and ``suppliers``
  theirs in ``tests/checker_rules.py`` (same independence).
- :func:`check` compares that with the table and ``ingest_rejects`` and lists what is lost,
  duplicated, unexpected, of wrong content or rejected for a wrong reason, with line numbers.
  Each row's job and line come from the table's own ``job_id`` and ``line_no`` columns when it
  has both, else from the tool's side table ``ingest_keys`` (target, key, job_id, line_no); a
  table without a key has no lineage, and its rows are compared as a multiset.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import asyncpg

from tests import checker_rules
from tests.checker_rules import Invalid, Rules

BOM: Final = b"\xef\xbb\xbf"
REQUIRED: Final = ("email", "first_name", "last_name", "phone", "birth_date", "city", "country",
                   "signup_at", "balance")
TEXT_COLUMNS: Final = ("first_name", "last_name", "phone", "city", "country")

INVALID_ENCODING: Final = "invalid_encoding"
MALFORMED_CSV: Final = "malformed_csv"
WRONG_COLUMN_COUNT: Final = "wrong_column_count"
INVALID_EMAIL: Final = "invalid_email"
INVALID_DATE: Final = "invalid_date"
INVALID_TIMESTAMP: Final = "invalid_timestamp"
INVALID_NUMBER: Final = "invalid_number"
DUPLICATE_KEY: Final = "duplicate_key"
DATABASE_REJECTED: Final = "database_rejected"
REASONS: Final = (INVALID_ENCODING, MALFORMED_CSV, WRONG_COLUMN_COUNT, INVALID_EMAIL,
                  INVALID_DATE, INVALID_TIMESTAMP, INVALID_NUMBER, DUPLICATE_KEY,
                  DATABASE_REJECTED)

DATE_FORM: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
TIMESTAMP_FORM: Final = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})"
    r"(?:[T ](?P<h>[0-9]{2}):(?P<m>[0-9]{2})(?::(?P<s>[0-9]{2})(?P<fraction>\.[0-9]{1,9})?)?"
    r"(?P<zone>Z|(?P<sign>[+-])(?P<zh>[0-9]{2})(?::?(?P<zm>[0-9]{2}))?)?)?"
)
NUMBER_FORM: Final = re.compile(r"[+-]?(?P<int>[0-9]*)(?:\.(?P<frac>[0-9]*))?")
BALANCE_DIGITS: Final = (12, 2)  # numeric(14,2): integer and fraction digits
INVISIBLE: Final = ("Cc", "Cf")  # control and format (zero-width, BOM) characters
SHOWN: Final = 20  # entries of each list that str(report) shows


@dataclass(frozen=True, slots=True)
class ExpectedRow:
    """A customers row as the rules make it: typed values, None for NULL."""

    file_index: int
    line_no: int
    email: str
    first_name: str | None
    last_name: str | None
    phone: str | None
    birth_date: date | None
    city: str | None
    country: str | None
    signup_at: datetime | None
    balance: Decimal | None

    def get(self, column: str) -> Any:
        return getattr(self, column)


@dataclass(frozen=True, slots=True)
class Row:
    """A row of another dataset: typed values by column, None for NULL."""

    file_index: int
    line_no: int
    values: dict[str, Any]

    def get(self, column: str) -> Any:
        return self.values[column]


AnyRow = ExpectedRow | Row
CUSTOMERS_COLUMNS: Final = ("email", *TEXT_COLUMNS, "birth_date", "signup_at", "balance")


@dataclass
class Expected:
    """Every record's outcome, for files of one dataset loaded in the order given.

    ``rows`` are keyed by the key's value (customers: the normalized e-mail; a tuple for a
    composite key), or by (file index, line number) for a table without a key.
    """

    paths: list[Path]
    rows: dict[Any, AnyRow] = field(default_factory=dict)
    rejects: dict[tuple[int, int], str] = field(default_factory=dict)  # (file, line) -> reason
    records: list[int] = field(default_factory=list)  # records per file
    table: str = "customers"
    columns: tuple[str, ...] = CUSTOMERS_COLUMNS
    key: tuple[str, ...] = ("email",)

    @property
    def loaded(self) -> dict[tuple[int, int], AnyRow]:
        """The rows by (file index, line number)."""
        return {(row.file_index, row.line_no): row for row in self.rows.values()}

    def key_text(self, row: AnyRow) -> str:
        """How a row is named in a report: ``email 'a@x.io'``."""
        return " ".join(f"{name} {row.get(name)!r}" for name in self.key) or "(no key)"

    def reasons(self) -> Counter[str]:
        return Counter(self.rejects.values())


# --- reading files --------------------------------------------------------------------------
#
# The record syntax of the spec, as an automaton over one character at a time (the product uses
# regular expressions; this is deliberately another way to the same rules):
# - a quote opens a quoted field only as the first character of a field, elsewhere it is text;
# - in a quoted field "" is a quote, LF and CRLF are data, a quote before "," or the line end
#   (or the end of the data) closes it; a quote before anything else is malformed, and the
#   record then ends at that line's end;
# - a quoted field still open ends its record after MAX_LINES lines, or at the first line end
#   past MAX_BYTES bytes, or at the end of the file; LF or CRLF end lines, a lone CR is data; a
#   line that is only its line end is no record, nor is a last line that is only a CR;
# - a physical line longer than MAX_BYTES (without its LF) makes the file refused (TooLong).

MAX_LINES: Final = 10_000
MAX_BYTES: Final = 16 * 1024 * 1024
FIELD_START, UNQUOTED, QUOTED, QUOTE_SEEN, BROKEN, ESCAPED = range(6)


@dataclass(frozen=True)
class CsvDialect:
    """The dialect of the files: the same rules with another delimiter and quote; with an
    escape character, in a quoted field it takes the next character literally (an escaped
    quote or escape is that character, anything else keeps both); the encoding of records."""

    delimiter: str = ","
    quote: str = '"'
    escape: str | None = None
    encoding: str = "utf-8"


CSV: Final = CsvDialect()


def _step(state: int, char: int, dialect: CsvDialect = CSV) -> int:
    """The automaton's next state for one character (as its code point)."""
    quote, delimiter = ord(dialect.quote), ord(dialect.delimiter)
    if state == ESCAPED:
        return QUOTED
    if state == QUOTED:
        if dialect.escape is not None and char == ord(dialect.escape):
            return ESCAPED
        return QUOTE_SEEN if char == quote else QUOTED
    if state == QUOTE_SEEN:
        if char == quote:
            return QUOTED
        return FIELD_START if char == delimiter else BROKEN
    if char == delimiter:
        return FIELD_START
    if state == FIELD_START and char == quote:
        return QUOTED
    return UNQUOTED


def _state_after(content: bytes, state: int, dialect: CsvDialect = CSV) -> int:
    for char in content:
        state = _step(state, char, dialect)
        if state == BROKEN:
            break
    return state


class TooLong(ValueError):
    """A physical line longer than MAX_BYTES: the producer refuses the file (exit 2)."""

    def __init__(self, line_no: int) -> None:
        super().__init__(f"line {line_no} is longer than {MAX_BYTES} bytes")
        self.line_no = line_no


def iter_records(data: Iterator[bytes], dialect: CsvDialect = CSV) -> Iterator[tuple[int, bytes]]:
    """(line number, record bytes without its line end) from physical lines (with their LF)."""
    line_no = start = lines = size = 0
    parts: list[bytes] = []
    state = FIELD_START
    quote = dialect.quote.encode()
    for line in data:
        line_no += 1
        if len(line) - line.endswith(b"\n") > MAX_BYTES:
            raise TooLong(line_no)
        if not parts:
            if line in (b"\n", b"\r\n", b"\r"):  # b"\r": only as the data's last line
                continue
            start, lines, size, state = line_no, 0, 0, FIELD_START
        parts.append(line)
        lines += 1
        size += len(line)
        content = _without_line_end(line)
        state = _state_after(content, state, dialect) if quote in content else (
            QUOTED if state in (QUOTED, ESCAPED) else FIELD_START)
        if state == ESCAPED:
            state = QUOTED  # the escape takes the line end: still in the quoted field
        still_open = state == QUOTED and line.endswith(b"\n")
        if not still_open or lines >= MAX_LINES or size > MAX_BYTES:
            yield start, _without_line_end(b"".join(parts))
            parts = []
    if parts:
        yield start, _without_line_end(b"".join(parts))


def _without_line_end(record: bytes) -> bytes:
    if record.endswith(b"\n"):
        return record[:-2] if record.endswith(b"\r\n") else record[:-1]
    return record


def decode(record: bytes, dialect: CsvDialect = CSV) -> str:
    try:
        text = record.decode(dialect.encoding)
    except UnicodeDecodeError:
        raise Invalid(INVALID_ENCODING) from None
    if "\x00" in text:
        raise Invalid(INVALID_ENCODING)
    return text


def split_fields(text: str, dialect: CsvDialect = CSV) -> list[str]:
    """The record's fields by the automaton; Invalid(MALFORMED_CSV) if it breaks the syntax."""
    if dialect.quote not in text:
        return text.split(dialect.delimiter)
    fields: list[str] = []
    value: list[str] = []
    state = FIELD_START
    for char in text:
        after = _step(state, ord(char), dialect)
        if after == BROKEN:
            raise Invalid(MALFORMED_CSV)
        if after == FIELD_START:
            fields.append("".join(value))
            value = []
        elif state == ESCAPED:  # the escaped character: itself if a quote or escape
            value.append(char if char in (dialect.quote, dialect.escape) else
                         f"{dialect.escape}{char}")
        elif after == UNQUOTED or (after == QUOTED and state != FIELD_START):
            value.append(char)  # text, or a quote's second half, or a quoted character
        state = after
    if state == ESCAPED:
        value.append(dialect.escape or "")
        state = QUOTED
    if state == QUOTED:
        raise Invalid(MALFORMED_CSV)  # never closed
    fields.append("".join(value))
    return fields


def read_header(record: bytes) -> list[str]:
    """The names (trimmed, lowercased; empty ones kept, they are ignored columns)."""
    if record.startswith(BOM):
        record = record[len(BOM):]
    names = [name.strip().lower() for name in split_fields(decode(record))]
    named = [name for name in names if name]
    twice = sorted({name for name in named if named.count(name) > 1})
    if twice:
        raise ValueError(f"header names {', '.join(twice)} twice: {names}")
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise ValueError(f"header lacks {', '.join(missing)}: {names}")
    return names


# --- the rules ------------------------------------------------------------------------------


def parse_email(value: str) -> str:
    """The key: NFC, trimmed with str.strip (Unicode whitespace, NBSP too, and U+001C-U+001F),
    str.lower, no IDNA. One '@', a local part, and a domain of two or more labels, none empty
    (so no trailing dot); no whitespace, control (Cc) or invisible format (Cf: U+200B, U+FEFF)
    character anywhere."""
    email = unicodedata.normalize("NFC", value).strip().lower()
    if any(ch.isspace() or unicodedata.category(ch) in INVISIBLE for ch in email):
        raise Invalid(INVALID_EMAIL)
    parts = email.split("@")
    if len(parts) != 2 or parts[0] == "":
        raise Invalid(INVALID_EMAIL)
    labels = parts[1].split(".")
    if len(labels) < 2 or "" in labels:
        raise Invalid(INVALID_EMAIL)
    return email


def parse_date(value: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    if not DATE_FORM.fullmatch(value):
        raise Invalid(INVALID_DATE)
    try:
        return date(int(value[:4]), int(value[5:7]), int(value[8:]))
    except ValueError:
        raise Invalid(INVALID_DATE) from None


def parse_timestamp(value: str) -> datetime | None:
    """The instant in UTC, as PostgreSQL reads the text (its DecodeDateTime): hour 00-24,
    minute 00-59, second 00-60, a fraction of 1-9 digits rounded to microseconds (its
    ParseFractionalSecond: rint of the double strtod(fraction) * 1e6), the time of day at most
    24:00:00 after that (``T24:00`` and ``23:59:60`` are the next 00:00); a zone's minutes
    00-59 and hours 00-23. PostgreSQL reads zones up to 15:59; a larger one is converted to UTC
    by the loader, so the instant must then lie in the years 0001-9999."""
    value = value.strip()
    if not value:
        return None
    form = TIMESTAMP_FORM.fullmatch(value)
    if not form:
        raise Invalid(INVALID_TIMESTAMP)
    try:
        day = date.fromisoformat(form["date"])
    except ValueError:
        raise Invalid(INVALID_TIMESTAMP) from None
    hour, minute, second = (int(form[name] or 0) for name in ("h", "m", "s"))
    micro = round(float(form["fraction"]) * 1e6) if form["fraction"] else 0
    since_midnight = timedelta(hours=hour, minutes=minute, seconds=second, microseconds=micro)
    if hour > 24 or minute > 59 or second > 60 or since_midnight > timedelta(days=1):
        raise Invalid(INVALID_TIMESTAMP)
    offset = timedelta(0)
    if form["sign"]:
        zone_hours, zone_minutes = int(form["zh"]), int(form["zm"] or 0)
        if zone_hours > 23 or zone_minutes > 59:
            raise Invalid(INVALID_TIMESTAMP)
        offset = timedelta(hours=zone_hours, minutes=zone_minutes)
        if form["sign"] == "-":
            offset = -offset
    try:
        return datetime(day.year, day.month, day.day, tzinfo=UTC) + since_midnight - offset
    except OverflowError:
        if abs(offset) >= timedelta(hours=16):
            raise Invalid(INVALID_TIMESTAMP) from None
        raise  # PostgreSQL stores it (year 10000 or 1 BC), Python cannot: no test uses one


def parse_number(value: str) -> Decimal | None:
    """A decimal with a dot (``.5``, ``5.``, ``+.5`` too, as PostgreSQL's numeric reads them)
    that numeric(14,2) holds without rounding: at most 12 integer digits not counting leading
    zeros, at most 2 fraction digits not counting trailing zeros."""
    value = value.strip()
    if not value:
        return None
    form = NUMBER_FORM.fullmatch(value)
    if not form or not (form["int"] or form["frac"]):
        raise Invalid(INVALID_NUMBER)
    whole, fraction = form["int"].lstrip("0"), (form["frac"] or "").rstrip("0")
    if len(whole) > BALANCE_DIGITS[0] or len(fraction) > BALANCE_DIGITS[1]:
        raise Invalid(INVALID_NUMBER)
    return Decimal(value)


class FileRules:
    """The rules for the records of one file, given its header."""

    def __init__(self, header: list[str], file_index: int) -> None:
        self.width = len(header)
        self.index = {name: header.index(name) for name in REQUIRED}
        self.file_index = file_index

    def row(self, line_no: int, record: bytes) -> ExpectedRow:
        """The typed row, or :class:`Invalid` for the first broken rule (rules 1-7)."""
        fields = split_fields(decode(record))
        if len(fields) != self.width:
            raise Invalid(WRONG_COLUMN_COUNT)
        at = self.index
        email = parse_email(fields[at["email"]])
        birth = parse_date(fields[at["birth_date"]])
        signup = parse_timestamp(fields[at["signup_at"]])
        balance = parse_number(fields[at["balance"]])
        texts = [fields[at[name]] or None for name in TEXT_COLUMNS]
        first, last, phone, city, country = texts
        return ExpectedRow(self.file_index, line_no, email, first, last, phone, birth, city,
                           country, signup, balance)


def _lines(path: Path) -> Iterator[bytes]:
    with path.open("rb", buffering=1 << 20) as handle:
        yield from handle


DATASETS: Final = ("customers", *checker_rules.RULES)


def expected(paths: Sequence[Path], dataset: str | Rules = "customers",
             dialect: CsvDialect = CSV) -> Expected:
    """What loading ``paths`` of ``dataset`` in this order (one job each) must leave.

    ``dataset``: a bundled dataset's name, or a test's own ``checker_rules.Rules`` (e.g. for a
    user's table: its columns in field order, each with a parser written in the test).
    ``dialect``: the delimiter, quote, escape and encoding of delimited files other than
    customers (a file read with ``--delimiter ';' --encoding latin-1``, or its dataset's).
    """
    if dataset == "customers":
        result = Expected([Path(p) for p in paths])
        for file_index, path in enumerate(result.paths):
            result.records.append(_read_file(result, file_index, path))
        return result
    if isinstance(dataset, str) and dataset not in checker_rules.RULES:
        raise ValueError(f"the checker has no rules for dataset {dataset!r} ({DATASETS})")
    rules = checker_rules.RULES[dataset] if isinstance(dataset, str) else dataset
    result = Expected([Path(p) for p in paths], table=rules.table, columns=rules.names,
                      key=rules.key)
    for file_index, path in enumerate(result.paths):
        records = (_aligned(path, rules) if rules.layout == "aligned"
                   else _delimited(path, rules, dialect))
        result.records.append(_outcomes(result, rules, file_index, records))
    return result


Values = dict[str, str] | Invalid


def _delimited(path: Path, rules: Rules,
               dialect: CsvDialect = CSV) -> Iterator[tuple[int, Values]]:
    """Each record's values by column (issue 10's CSV syntax in ``dialect``). A column takes
    the header name equal to it, else the one equal to it once both are normalized (a user's
    column ``Sales Channel`` is filled by ``SALES  CHANNEL``)."""
    records = iter_records(_lines(path), dialect)
    first = next(records, None)
    if first is None:
        raise ValueError(f"{path}: no header")
    header = first[1][len(BOM):] if first[1].startswith(BOM) else first[1]
    names = split_fields(decode(header, dialect), dialect)
    loose = [checker_rules.normalize(name) for name in names]
    at = {column: names.index(column) if column in names
          else loose.index(checker_rules.normalize(column))
          for column in rules.names if column in names or checker_rules.normalize(column) in loose}
    missing = [name for name in rules.names if name not in at]
    if missing:
        raise ValueError(f"{path}: header lacks {', '.join(missing)}: {names}")
    for line_no, record in records:
        try:
            fields = split_fields(decode(record, dialect), dialect)
            if len(fields) != len(names):
                raise Invalid(WRONG_COLUMN_COUNT)
        except Invalid as bad:
            yield line_no, bad
            continue
        yield line_no, {name: fields[at[name]] for name in rules.names}


def _aligned(path: Path, rules: Rules) -> Iterator[tuple[int, Values]]:
    """Each non-blank line's values: cut where the header's column names start, stripped."""
    lines = enumerate(_lines(path), start=1)
    header = next(lines, None)
    if header is None:
        raise ValueError(f"{path}: no header")
    text = _without_line_end(header[1])
    starts = checker_rules.aligned_starts(decode(text[len(BOM):] if text.startswith(BOM)
                                                 else text), rules.names)
    order = sorted(starts, key=starts.__getitem__)
    for line_no, line in lines:
        content = _without_line_end(line)
        if not content.strip():
            continue
        try:
            values = checker_rules.aligned_fields(decode(content),
                                                  [starts[name] for name in order])
        except Invalid as bad:
            yield line_no, bad
            continue
        yield line_no, dict(zip(order, values, strict=True))


def _outcomes(result: Expected, rules: Rules, file_index: int,
              records: Iterator[tuple[int, Values]]) -> int:
    """Each record's outcome into ``result``: the first valid record of a key wins."""
    count = 0
    for line_no, values in records:
        count += 1
        try:
            if isinstance(values, Invalid):
                raise values
            row = Row(file_index, line_no, rules.row(values))
        except Invalid as bad:
            result.rejects[(file_index, line_no)] = bad.reason
            continue
        key = tuple(row.values[name] for name in rules.key)
        identity: Any = (file_index, line_no) if not key else key[0] if len(key) == 1 else key
        if identity in result.rows:
            result.rejects[(file_index, line_no)] = DUPLICATE_KEY
        else:
            result.rows[identity] = row
    return count


def _read_file(result: Expected, file_index: int, path: Path) -> int:
    records = iter_records(_lines(path))
    first = next(records, None)
    if first is None:
        raise ValueError(f"{path}: no header")
    rules = FileRules(read_header(first[1]), file_index)
    count = 0
    for line_no, record in records:
        count += 1
        try:
            row = rules.row(line_no, record)
        except Invalid as bad:
            result.rejects[(file_index, line_no)] = bad.reason
            continue
        if row.email in result.rows:
            result.rejects[(file_index, line_no)] = DUPLICATE_KEY
        else:
            result.rows[row.email] = row
    return count


# --- comparing with the database ------------------------------------------------------------


@dataclass
class Report:
    """Differences between the expected state and the tables; empty lists mean exact."""

    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    wrong_content: list[str] = field(default_factory=list)
    wrong_reason: list[str] = field(default_factory=list)
    expected_rows: int = 0
    expected_rejects: int = 0
    found_rows: int = 0
    found_rejects: int = 0

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.unexpected or self.wrong_content
                    or self.wrong_reason)

    def __str__(self) -> str:
        lines = [f"checker: {'OK' if self.ok else 'MISMATCH'}: expected {self.expected_rows} "
                 f"rows + {self.expected_rejects} rejects, found {self.found_rows} rows + "
                 f"{self.found_rejects} rejects; lost {len(self.lost)}, duplicated "
                 f"{len(self.duplicated)}, unexpected {len(self.unexpected)}, wrong_content "
                 f"{len(self.wrong_content)}, wrong_reason {len(self.wrong_reason)}"]
        for name in ("lost", "duplicated", "unexpected", "wrong_content", "wrong_reason"):
            entries: list[str] = getattr(self, name)
            if entries:
                lines.append(f"{name} ({len(entries)}):")
                lines.extend(f"  {entry}" for entry in entries[:SHOWN])
                if len(entries) > SHOWN:
                    lines.append(f"  ... and {len(entries) - SHOWN} more")
        return "\n".join(lines)


REJECTS_SQL: Final = "SELECT id, job_id, line_no, reason FROM ingest_rejects"
LOADED: Final = "loaded"
TABLE_SQL: Final = """
SELECT c.oid::regclass::text AS sql_name,
       ARRAY[c.oid::text, c.oid::regclass::text, n.nspname || '.' || c.relname,
             quote_ident(n.nspname) || '.' || quote_ident(c.relname), c.relname] AS spellings,
       ARRAY(SELECT a.attname FROM pg_catalog.pg_attribute a
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS names,
       ARRAY(SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS types
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = $1::regclass
"""


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def rows_query(conn: asyncpg.Connection, exp: Expected,
                     table: str | None = None) -> tuple[str, list[Any], str]:
    """(SQL, arguments, lineage source) reading the table's rows with their job and line.

    The lineage source is ``columns`` (the table has ``job_id`` and ``line_no``), ``ingest_keys``
    (the side table, matched on the key cast to the column types; ``target`` may hold the
    table's oid, its regclass text or its name), or ``none`` (no key, or no side table).
    """
    found = await conn.fetchrow(TABLE_SQL, table or exp.table)
    types = dict(zip(found["names"], found["types"], strict=True))
    columns = ", ".join(f"t.{_quote(name)}" for name in exp.columns)
    source = found["sql_name"]
    if "job_id" in types and "line_no" in types:
        return f"SELECT {columns}, t.job_id, t.line_no FROM {source} t", [], "columns"
    side = await conn.fetchval("SELECT to_regclass('ingest_keys') IS NOT NULL")
    if not exp.key or not side:
        return (f"SELECT {columns}, NULL::text AS job_id, NULL::integer AS line_no "
                f"FROM {source} t", [], "none")
    if len(exp.key) == 1:
        match = f"t.{_quote(exp.key[0])} = CAST(k.key AS {types[exp.key[0]]})"
    else:
        match = " AND ".join(f"t.{_quote(name)} = CAST(k.key::jsonb ->> {i} AS {types[name]})"
                             for i, name in enumerate(exp.key))
    sql = (f"WITH k AS MATERIALIZED (SELECT key, job_id, line_no FROM ingest_keys "
           f"WHERE target::text = ANY($1::text[])) "
           f"SELECT {columns}, k.job_id, k.line_no FROM {source} t LEFT JOIN k ON {match}")
    return sql, [list(found["spellings"])], "ingest_keys"


@dataclass
class _Diff:
    exp: Expected
    job_ids: list[str]
    report: Report
    loaded: dict[tuple[int, int], AnyRow]
    seen: dict[tuple[int, int], list[str]] = field(default_factory=lambda: defaultdict(list))

    def where(self, key: tuple[int, int]) -> str:
        file_index, line_no = key
        return (f"file {file_index} ({self.exp.paths[file_index].name}) job "
                f"{self.job_ids[file_index]} line {line_no}")

    def outcome(self, key: tuple[int, int]) -> str | None:
        """``LOADED``, a reason code, or None where the files hold no record."""
        if key in self.loaded:
            return LOADED
        return self.exp.rejects.get(key)

    def label(self, row: AnyRow | asyncpg.Record) -> str:
        """A row as a report names it: its key's value (``'a@x.io'``), or its values."""
        names = self.exp.key or self.exp.columns
        values = tuple(_value(row, name) for name in names)
        return repr(values[0] if len(values) == 1 else values)

    def key_of(self, job_id: str | None, line_no: int | None, what: str) -> tuple[int, int] | None:
        if job_id not in self.job_ids or line_no is None:
            self.report.unexpected.append(f"{what}: job {job_id} is none of the checked jobs")
            return None
        key = (self.job_ids.index(job_id), line_no)
        if self.outcome(key) is None:
            self.report.unexpected.append(f"{what}: {self.where(key)} holds no record")
            return None
        return key

    def row(self, rec: asyncpg.Record) -> None:
        named = " ".join(f"{name} {rec[name]!r}" for name in self.exp.key) or self.label(rec)
        what = f"{self.exp.table} row {named} (job {rec['job_id']}, line {rec['line_no']})"
        key = self.key_of(rec["job_id"], rec["line_no"], what)
        if key is None:
            return
        self.seen[key].append(f"{self.exp.table} row {self.label(rec)}")
        want = self.outcome(key)
        if want != LOADED:
            self.report.wrong_reason.append(f"{self.where(key)}: expected reject {want}, "
                                            f"but loaded as {self.label(rec)}")
            return
        diffs = _differences(self.exp.columns, self.loaded[key], rec)
        if diffs:
            self.report.wrong_content.append(f"{self.where(key)} {named}: " + "; ".join(diffs))

    customer = row  # the name of the customers-only checker

    def reject(self, rec: asyncpg.Record) -> None:
        what = f"reject id {rec['id']} {rec['reason']} (job {rec['job_id']}, line {rec['line_no']})"
        key = self.key_of(rec["job_id"], rec["line_no"], what)
        if key is None:
            return
        self.seen[key].append(f"reject {rec['reason']}")
        want = self.outcome(key)
        if want == LOADED:
            self.report.wrong_reason.append(
                f"{self.where(key)}: expected loaded as {self.label(self.loaded[key])}, "
                f"but rejected as {rec['reason']}")
        elif want != rec["reason"]:
            self.report.wrong_reason.append(f"{self.where(key)}: expected reject {want}, "
                                            f"found reject {rec['reason']}")

    def unattributed_rows(self, rows: list[asyncpg.Record]) -> None:
        """A table without lineage (no key): its rows against the expected ones, as multisets;
        the loaded lines count as seen, the rows say nothing of lines."""
        want = Counter(tuple(row.get(name) for name in self.exp.columns)
                       for row in self.loaded.values())
        have = Counter(tuple(rec[name] for name in self.exp.columns) for rec in rows)
        for values, n in sorted((want - have).items(), key=repr):
            self.report.lost.append(f"{self.exp.table} row {values!r}: {n} missing")
        for values, n in sorted((have - want).items(), key=repr):
            self.report.unexpected.append(f"{self.exp.table} row {values!r}: {n} too many")
        for key in self.loaded:
            self.seen[key].append(f"{self.exp.table} row")

    def finish(self) -> None:
        for key, found in sorted(self.seen.items()):
            if len(found) > 1:
                self.report.duplicated.append(f"{self.where(key)}: {len(found)} times: "
                                              + ", ".join(found))
        for key in sorted([*self.loaded, *self.exp.rejects]):
            if key not in self.seen:
                want = self.outcome(key)
                shown = (f"loaded as {self.label(self.loaded[key])}" if want == LOADED
                         else f"reject {want}")
                self.report.lost.append(f"{self.where(key)}: expected {shown}, found in "
                                        f"neither {self.exp.table} nor ingest_rejects")


def _value(row: AnyRow | asyncpg.Record, name: str) -> Any:
    return row.get(name) if isinstance(row, ExpectedRow | Row) else row[name]


def _differences(columns: Sequence[str], want: AnyRow, rec: asyncpg.Record) -> list[str]:
    """The columns whose stored value is not the expected one (instants, Decimals)."""
    diffs = []
    for name in columns:
        have: Any = rec[name]
        wanted: Any = want.get(name)
        if have != wanted:
            diffs.append(f"{name} is {_short(have)}, expected {_short(wanted)}")
    return diffs


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}...({len(text)} chars)"


async def check(conn: asyncpg.Connection, exp: Expected, job_ids: list[str], *,
                table: str | None = None, ignore_jobs: Sequence[str] = ()) -> Report:
    """Compare the tables with ``exp``; ``job_ids[i]`` is the job of ``exp.paths[i]``.

    ``table``: where the rows are, when not ``exp.table`` (SQL text such as ``s.t``);
    ``ignore_jobs``: rejects of these jobs (other datasets loaded alongside) are left out.
    """
    if len(job_ids) != len(exp.paths):
        raise ValueError(f"{len(job_ids)} job ids for {len(exp.paths)} files")
    report = Report(expected_rows=len(exp.rows), expected_rejects=len(exp.rejects))
    diff = _Diff(exp, list(job_ids), report, exp.loaded)
    sql, args, lineage = await rows_query(conn, exp, table)
    rows = await conn.fetch(sql, *args)
    rejects = [rec for rec in await conn.fetch(REJECTS_SQL) if rec["job_id"] not in ignore_jobs]
    report.found_rows, report.found_rejects = len(rows), len(rejects)
    if lineage == "none" and not exp.key:
        diff.unattributed_rows(rows)
    else:
        for rec in rows:
            diff.row(rec)
    for rec in rejects:
        diff.reject(rec)
    diff.finish()
    return report


def assert_exact(report: Report) -> None:
    if not report.ok:
        raise AssertionError(str(report))
