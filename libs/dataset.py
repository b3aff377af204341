"""Declarative description of a target table: columns, types, validators, unique key.

The consumer loop knows nothing about customers; it asks the dataset to validate a record and
to name its table and columns. Another dataset is one more ``Dataset(...)`` in ``DATASETS``.
Names are checked against an allow-list pattern here, and quoted wherever SQL is built.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final

from libs.errors import UserError

IDENTIFIER: Final = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

INVALID_ENCODING: Final = "invalid_encoding"
WRONG_COLUMN_COUNT: Final = "wrong_column_count"
MALFORMED_CSV: Final = "malformed_csv"
INVALID_EMAIL: Final = "invalid_email"
INVALID_DATE: Final = "invalid_date"
INVALID_TIMESTAMP: Final = "invalid_timestamp"
INVALID_NUMBER: Final = "invalid_number"
DUPLICATE_KEY: Final = "duplicate_key"
DATABASE_REJECTED: Final = "database_rejected"


class InvalidValue(ValueError):
    """A field that breaks its column's rule; the message is the reject's detail."""


Parser = Callable[[str], str]


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str
    parse: Parser | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        if not IDENTIFIER.match(self.name):
            raise ValueError(f"column name {self.name!r} is not a plain identifier")


@dataclass(frozen=True)
class Dataset:
    name: str
    table: str
    key: str
    columns: tuple[Column, ...]

    def __post_init__(self) -> None:
        for ident in (self.name, self.table, self.key):
            if not IDENTIFIER.match(ident):
                raise ValueError(f"{ident!r} is not a plain identifier")
        if self.key not in self.column_names:
            raise ValueError(f"key {self.key!r} is not a column")
        # Validation order = the order of the columns that have a parser.

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(col.name for col in self.columns)

    @property
    def key_index(self) -> int:
        return self.column_names.index(self.key)

    def plan(self, header: Sequence[str]) -> FieldPlan:
        """Map the file's header (names trimmed and lowercased, as read) onto the columns.

        The one decision on headers, for the producer and the consumer alike: an empty name
        (an Excel trailing delimiter) is an ignored extra column, however many there are; a
        non-empty name given twice or a missing column is a UserError naming it.
        """
        named = Counter(name for name in header if name)
        twice = sorted(name for name, times in named.items() if times > 1)
        if twice:
            raise UserError(f"the header names a column twice: {', '.join(twice)}")
        missing = [name for name in self.column_names if name not in named]
        if missing:
            raise UserError(
                f"the header lacks required column(s) {', '.join(missing)} "
                f"(dataset {self.name} needs {', '.join(self.column_names)})"
            )
        extra = tuple(name for name in named if name not in self.column_names)
        unnamed = tuple(pos for pos, name in enumerate(header, start=1) if not name)
        index = tuple(header.index(name) for name in self.column_names)
        return FieldPlan(self, len(header), index, extra, unnamed)


@dataclass(frozen=True)
class Reject:
    reason: str
    detail: str


Row = tuple[str, ...]


@dataclass(frozen=True)
class FieldPlan:
    """Where each column sits in a file with a given header."""

    dataset: Dataset
    field_count: int
    index: tuple[int, ...]
    extra: tuple[str, ...]  # named columns the dataset does not use
    unnamed: tuple[int, ...] = ()  # 1-based positions of columns with an empty name

    def __post_init__(self) -> None:
        object.__setattr__(self, "_validate", _compile(self))

    def validate(self, fields: list[str], tail: tuple[str, ...] = ()) -> Row | Reject:
        """The row's canonical text values in column order followed by ``tail``, or the
        first broken rule. Values are what PostgreSQL reads back to the same value in a CSV
        COPY; an empty string is NULL."""
        return self._validate(fields, tail)  # type: ignore[attr-defined,no-any-return]


def _compile(plan: FieldPlan) -> Callable[[list[str], tuple[str, ...]], Row | Reject]:
    """One straight-line function per header: this runs for every record of every file.

    The generated code only indexes ``fields`` and calls the columns' parsers, in column
    order, so the first broken rule wins; names come from the dataset, never from the file.
    """
    env: dict[str, object] = {"InvalidValue": InvalidValue, "_reject": _reject_for(plan)}
    body = [f"    if len(f) != {plan.field_count}:", "        return _reject(-1, len(f))",
            "    i = 0", "    try:"]
    values = []
    for pos, (col, where) in enumerate(zip(plan.dataset.columns, plan.index, strict=True)):
        if col.parse is None:
            values.append(f"f[{where}]")
            continue
        env[f"p{pos}"] = col.parse
        body += [f"        i = {pos}", f"        v{pos} = p{pos}(f[{where}])"]
        values.append(f"v{pos}")
    body += ["    except InvalidValue as exc:", "        return _reject(i, exc)",
             f"    return ({', '.join(values)}, *tail)"]
    source = "def validate(f, tail):\n" + "\n".join(body) + "\n"
    exec(compile(source, f"<validate {plan.dataset.name}>", "exec"), env)
    return env["validate"]  # type: ignore[return-value]


def _reject_for(plan: FieldPlan) -> Callable[[int, object], Reject]:
    columns = plan.dataset.columns

    def reject(pos: int, problem: object) -> Reject:
        if pos < 0:
            return Reject(WRONG_COLUMN_COUNT,
                          f"expected {plan.field_count} fields, found {problem}")
        col = columns[pos]
        return Reject(col.reason or "invalid_value", f"{col.name}: {problem}")

    return reject


# --- validators of the customers dataset -------------------------------------------------
# Digits are ASCII only ([0-9], never \d: Python's \d, int() and fromisoformat also take
# Arabic-Indic or full-width digits, which PostgreSQL refuses).

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.([0-9]{1,9}))?)?"
    r"(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)?)?"
)
_NUMBER = re.compile(r"[+-]?[0-9]{1,12}(?:\.[0-9]{1,2})?")
# Fast accepts: forms that are valid whatever the values (days up to 28, zones under 16 h), so
# most values cost one regex match; anything else takes the full check.
# Possessive quantifiers (Python 3.11): the same language, no backtracking, as fast as the
# looser pattern it replaced.
_EMAIL_OK = re.compile(r"[^@\s]++@[^@\s.]++(?:\.[^@\s.]++)++")
_DAY = r"(?!0000)[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
_DATE_OK = re.compile(_DAY)
_TIMESTAMP_OK = re.compile(
    _DAY + r"(?:[T ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,9})?)?"
    r"(?:Z|[+-](?:0[0-9]|1[0-5])(?::?[0-5][0-9])?)?)?"
)
# PostgreSQL reads zone offsets up to 15:59; larger (valid in Python) ones are sent as UTC.
PG_MAX_OFFSET: Final = timedelta(hours=16)
USECS: Final = 1_000_000


def _show(value: str) -> str:
    return repr(value if len(value) <= 60 else value[:57] + "...")


def parse_email(value: str) -> str:
    """The address as its key: Unicode NFC (non-ASCII values only), stripped of Unicode
    whitespace (NBSP too), ``str.lower``; no IDNA. Valid: one '@', a non-empty local part, a
    domain of two or more non-empty dot-separated labels, no whitespace; a trailing dot in the
    domain is refused (RFC 5321 ``Domain = sub-domain *("." sub-domain)``)."""
    if not value.isascii():
        value = unicodedata.normalize("NFC", value)
    email = value.strip().lower()
    if _EMAIL_OK.fullmatch(email) is None:
        raise InvalidValue(f"{_show(value)} {_email_problem(email)}")
    return email


def _email_problem(email: str) -> str:
    """Why ``email`` (normalized) is not an address; true for each case."""
    if not email:
        return "is empty"
    if any(ch.isspace() for ch in email):
        return "contains whitespace"
    if email.count("@") != 1:
        return f"has {email.count('@')} '@' (exactly one is needed)"
    local, domain = email.split("@")
    if not local:
        return "has an empty local part (before '@')"
    if not domain:
        return "has an empty domain (after '@')"
    if domain.endswith("."):
        return "ends its domain with a dot (RFC 5321 allows no trailing dot)"
    if "." not in domain:
        return "has no dot in its domain (local@domain.tld is needed)"
    return "has an empty label in its domain (a leading dot or two dots in a row)"


def parse_date(value: str) -> str:
    value = value.strip()
    if not value or _DATE_OK.fullmatch(value):
        return value
    if not _DATE.fullmatch(value):
        raise InvalidValue(f"{_show(value)} is not of the form YYYY-MM-DD (ASCII digits)")
    try:
        date.fromisoformat(value)
    except ValueError:
        raise InvalidValue(f"{_show(value)} is not a calendar date (no such day)") from None
    return value


def parse_timestamp(value: str) -> str:
    """ISO-8601, 1 to 9 fractional digits; a zone-less timestamp means UTC (the loading
    session's time zone is UTC). Sent as written: PostgreSQL rounds the fraction to
    microseconds (``rint``, see :func:`round_fraction`)."""
    value = value.strip()
    if not value or _TIMESTAMP_OK.fullmatch(value):
        return value
    form = _TIMESTAMP.fullmatch(value)
    if form is None:
        raise InvalidValue(f"{_show(value)} is not of the form YYYY-MM-DD[Thh:mm[:ss[.f]]]"
                           "[Z|+hh[[:]mm]] (1-9 fraction digits, ASCII digits)")
    try:  # Python 3.11 reads 7-9 fractional digits by truncating them
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidValue(f"{_show(value)} is not a real date and time (a field is out of "
                           "range)") from None
    offset = moment.utcoffset()
    if offset is not None and abs(offset) >= PG_MAX_OFFSET:
        moment = moment.replace(microsecond=0) + timedelta(
            microseconds=round_fraction(form.group(1) or ""))
        return moment.astimezone(UTC).isoformat()
    return value


def round_fraction(digits: str) -> int:
    """Microseconds of the fractional-second ``digits`` as PostgreSQL rounds them:
    ``rint(strtod("." digits) * 1e6)`` (src/backend/utils/adt/datetime.c,
    ParseFractionalSecond), i.e. half to even on the double. May be 1_000_000 (carry)."""
    return round(float("0." + digits) * USECS) if digits else 0


def parse_number(value: str) -> str:
    value = value.strip()
    if not value:
        return ""
    if _NUMBER.fullmatch(value):
        return value
    raise InvalidValue(f"{_show(value)} is not a decimal with a dot (at most 12.2 ASCII "
                       "digits)")


CUSTOMERS: Final = Dataset(
    name="customers",
    table="customers",
    key="email",
    columns=(
        Column("email", "text", parse_email, INVALID_EMAIL),
        Column("first_name", "text"),
        Column("last_name", "text"),
        Column("phone", "text"),
        Column("birth_date", "date", parse_date, INVALID_DATE),
        Column("city", "text"),
        Column("country", "text"),
        Column("signup_at", "timestamptz", parse_timestamp, INVALID_TIMESTAMP),
        Column("balance", "numeric(14,2)", parse_number, INVALID_NUMBER),
    ),
)

DATASETS: Final = {CUSTOMERS.name: CUSTOMERS}


def get(name: str) -> Dataset:
    try:
        return DATASETS[name]
    except KeyError:
        raise UserError(f"unknown dataset {name!r} (known: {', '.join(DATASETS)})") from None
