"""Parsers of date, time and datetime values: the default ISO forms and strptime patterns.

Sources: Table Schema, Field Types - date (``default``: ISO 8601 ``YYYY-MM-DD``), time
(``default``: ``hh:mm:ss``), datetime (``default``: ISO 8601 date and time, optional
fraction and zone); ``<PATTERN>``: Python/C strptime syntax. Our choices, documented:
- digits are ASCII only; the default date needs zero-padded ``YYYY-MM-DD``;
- datetime ``default`` accepts ``YYYY-MM-DD``, then ``T`` or a space, ``hh:mm``, ``:ss``, a
  fraction of 1-9 digits (PostgreSQL rounds it to microseconds) and a zone ``Z``, ``+hh``,
  ``+hhmm`` or ``+hh:mm``; no zone means UTC (the loading session's time zone is UTC); a
  zone PostgreSQL cannot read (16 h or more) is sent as the same instant in UTC; for a
  ``timestamp`` (without time zone) column, a value with a zone is sent as UTC without zone;
- time ``default`` is ``hh:mm:ss`` with an optional 1-9 digit fraction and no zone;
- a pattern is matched with the regular expressions ``_strptime`` uses, ASCII digits only;
  a directive outside ``%Y %y %m %d %H %M %S %f %z %%`` falls back to ``datetime.strptime``.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Final

from libs.schema.types import Invalid, Parser

_CLOCK: Final = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]"
_DAY: Final = r"(?!0000)[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
_DATE_FORM: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DATE_OK: Final = re.compile(_DAY)
_TIME_FORM: Final = re.compile(r"([0-9]{2}:[0-9]{2}:[0-9]{2})(\.[0-9]{1,9})?")
TIME_OK: Final = re.compile(_CLOCK + r":[0-5][0-9](?:\.[0-9]{1,9})?")
_ZONE: Final = r"(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)"
_STAMP_FORM: Final = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2})?)?)"
    # a fraction follows seconds only (issue 10: "14:09.5" is not a time)
    r"((?<=[0-9]{2}:[0-9]{2}:[0-9]{2})\.[0-9]{1,9})?"
    rf"({_ZONE})?")
STAMP_OK: Final = re.compile(
    _DAY + rf"(?:[T ]{_CLOCK}(?::[0-5][0-9](?:\.[0-9]{{1,9}})?)?"
    r"(?:Z|[+-](?:0[0-9]|1[0-5])(?::?[0-5][0-9])?)?)?")
NAIVE_OK: Final = re.compile(_DAY + rf"(?:[T ]{_CLOCK}(?::[0-5][0-9](?:\.[0-9]{{1,9}})?)?)?")
PG_MAX_OFFSET: Final = timedelta(hours=16)

_DIRECTIVES: Final = {
    "Y": r"(?P<Y>[0-9]{4})", "y": r"(?P<y>[0-9]{2})",
    "m": r"(?P<m>1[0-2]|0[1-9]|[1-9])", "d": r"(?P<d>3[01]|[12][0-9]|0[1-9]|[1-9]| [1-9])",
    "H": r"(?P<H>2[0-3]|[0-1][0-9]|[0-9])", "M": r"(?P<M>[0-5][0-9]|[0-9])",
    "S": r"(?P<S>6[0-1]|[0-5][0-9]|[0-9])", "f": r"(?P<f>[0-9]{1,6})",
    "z": r"(?P<z>[+-][0-9]{2}:?[0-5][0-9]|(?-i:Z))", "%": "%",
}


def parse_date(value: str) -> str:
    """``YYYY-MM-DD``, a real calendar date; canonical: the value itself."""
    if DATE_OK.fullmatch(value):
        return value
    if _DATE_FORM.fullmatch(value):
        try:
            date.fromisoformat(value)
        except ValueError:
            pass
        else:
            return value
    raise Invalid("invalid_date", "is not a calendar date YYYY-MM-DD")


def parse_time(value: str) -> str:
    """``hh:mm:ss`` with an optional fraction of 1-9 digits; canonical: the value itself."""
    found = _TIME_FORM.fullmatch(value)
    if found is not None:
        try:
            time.fromisoformat(found.group(1))
        except ValueError:
            pass
        else:
            return value
    raise Invalid("invalid_time", "is not a time hh:mm:ss")


def datetime_parser(naive_column: bool = False) -> Parser:
    """ISO 8601 datetimes (see the module docstring); ``naive_column``: timestamp without tz."""
    fast = NAIVE_OK if naive_column else STAMP_OK

    def parse(value: str) -> str:
        if fast.fullmatch(value):
            return value
        found = _STAMP_FORM.fullmatch(value)
        if found is None:
            raise Invalid("invalid_datetime", "is not an ISO 8601 datetime")
        return _slow_datetime(found, value, naive_column)

    return parse


def _slow_datetime(found: re.Match[str], value: str, naive_column: bool) -> str:
    whole, fraction, zone = found.group(1), found.group(2) or "", found.group(3) or ""
    try:
        moment = datetime.fromisoformat(whole + zone)
    except ValueError:
        raise Invalid("invalid_datetime", "is not an ISO 8601 datetime") from None
    offset = moment.utcoffset()
    if offset is None or (abs(offset) < PG_MAX_OFFSET and not naive_column):
        return value
    utc = moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
    return utc + fraction + ("" if naive_column else "+00:00")


def pattern_parser(kind: str, pattern: str) -> Parser:
    """A strptime ``pattern`` for ``kind`` (date, time, datetime); canonical ISO text."""
    pattern = pattern.removeprefix("fmt:")
    regex = _translate(pattern)
    code = f"invalid_{kind}"
    message = f"does not match {pattern}"

    def parse(value: str) -> str:
        moment = _match(regex, pattern, value)
        if moment is None:
            raise Invalid(code, message)
        if kind == "date":
            return moment.date().isoformat()
        if kind == "time":
            return moment.time().isoformat()
        return moment.isoformat()

    return parse


def _translate(pattern: str) -> re.Pattern[str] | None:
    """The pattern as one regex, or None when it holds a directive we leave to strptime."""
    parts: list[str] = []
    chars = iter(pattern)
    for ch in chars:
        if ch != "%":
            parts.append(r"\s+" if ch.isspace() else re.escape(ch))
            continue
        directive = _DIRECTIVES.get(next(chars, ""))
        if directive is None:
            return None
        parts.append(directive)
    return re.compile("".join(parts), re.IGNORECASE)


def _match(regex: re.Pattern[str] | None, pattern: str, value: str) -> datetime | None:
    if not value.isascii():
        return None
    if regex is None:
        try:
            return datetime.strptime(value, pattern)
        except ValueError:
            return None
    found = regex.fullmatch(value)
    if found is None:
        return None
    try:
        return _build(found.groupdict())
    except ValueError:
        return None


def _build(parts: dict[str, str]) -> datetime:
    if "Y" in parts:
        year = int(parts["Y"])
    elif "y" in parts:
        short = int(parts["y"])
        year = short + (2000 if short < 69 else 1900)
    else:
        year = 1900
    micro = int(parts["f"].ljust(6, "0")) if "f" in parts else 0
    return datetime(year, int(parts.get("m", 1)), int(parts.get("d", 1)),
                    int(parts.get("H", 0)), int(parts.get("M", 0)), int(parts.get("S", 0)),
                    micro, tzinfo=_zone(parts.get("z")))


def _zone(text: str | None) -> timezone | None:
    if text is None:
        return None
    if text.upper() == "Z":
        return UTC
    digits = text[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
    return timezone(-offset if text[0] == "-" else offset)
