"""Parsers of date, time and datetime values: the default ISO forms and strptime patterns.

Sources: Table Schema, Field Types - date (``default``: ISO 8601 ``YYYY-MM-DD``), time
(``default``: ``hh:mm:ss``), datetime (``default``: ISO 8601 date and time, optional
fraction and zone); ``<PATTERN>``: Python/C strptime syntax. Our choices, documented:
- digits are ASCII only; the default date needs zero-padded ``YYYY-MM-DD``;
- datetime ``default`` accepts ``YYYY-MM-DD``, then ``T`` or a space, ``hh:mm``, ``:ss``, a
  fraction of 1-9 digits (PostgreSQL rounds it to microseconds) and a zone ``Z``, ``+hh``,
  ``+hhmm`` or ``+hh:mm``; no zone means UTC (the loading session's time zone is UTC);
  checked as PostgreSQL reads it: hour 00-24, minute 00-59, second 00-60 (a leap second), the
  time of day at most 24:00:00 once the fraction is rounded (``T24:00`` is the next day's
  00:00, ``23:59:60`` too), zone hours 00-23 and minutes 00-59 (Python's ``fromisoformat``
  would read ``+15:99`` as 16:39: never used for it). A zone PostgreSQL cannot read (16 h or
  more; it reads up to 15:59) is sent as the same instant in UTC; for a ``timestamp``
  (without time zone) column, a value with a zone is sent as UTC without zone; a value that
  falls outside the years 0001-9999 once so converted is ``invalid_datetime``;
- time ``default`` is ``hh:mm:ss`` with an optional 1-9 digit fraction and no zone;
- a pattern is matched with the regular expressions ``_strptime`` uses, ASCII digits only;
  a directive outside ``%Y %y %m %d %H %M %S %f %z %%`` falls back to ``datetime.strptime``.
"""

from __future__ import annotations

import calendar
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
_STAMP_FORM: Final = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})"
    r"(?:[T ](?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})(?::(?P<second>[0-9]{2})"
    r"(?P<fraction>\.[0-9]{1,9})?)?(?P<zone>Z|[+-][0-9]{2}(?::?[0-9]{2})?)?)?")
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
    if not _DATE_FORM.fullmatch(value):
        raise Invalid("invalid_date", "is not a date YYYY-MM-DD (ASCII digits)")
    _calendar_day("invalid_date", int(value[:4]), int(value[5:7]), int(value[8:10]))
    return value


def _calendar_day(code: str, year: int, month: int, day: int) -> date:
    """The date, or Invalid naming the part that is wrong (a true detail)."""
    if year == 0:
        raise Invalid(code, "has year 0000 (years are 0001-9999)")
    if not 1 <= month <= 12:
        raise Invalid(code, f"has month {month:02d} (months are 01-12)")
    days = calendar.monthrange(year, month)[1]
    if not 1 <= day <= days:
        raise Invalid(code, f"has day {day:02d}, but {year:04d}-{month:02d} has {days} days")
    return date(year, month, day)


def parse_time(value: str) -> str:
    """``hh:mm:ss`` with an optional fraction of 1-9 digits; canonical: the value itself."""
    found = _TIME_FORM.fullmatch(value)
    if found is None:
        raise Invalid("invalid_time", "is not a time hh:mm:ss[.f] (ASCII digits)")
    hour, minute, second = (int(part) for part in found.group(1).split(":"))
    if hour > 23 or minute > 59 or second > 59:
        raise Invalid("invalid_time", "is not a time of day 00:00:00-23:59:59")
    return value


def datetime_parser(naive_column: bool = False) -> Parser:
    """ISO 8601 datetimes (see the module docstring); ``naive_column``: timestamp without tz."""
    fast = NAIVE_OK if naive_column else STAMP_OK

    def parse(value: str) -> str:
        if fast.fullmatch(value):
            return value
        found = _STAMP_FORM.fullmatch(value)
        if found is None:
            raise Invalid("invalid_datetime", _STAMP_SHAPE)
        return _slow_datetime(found, value, naive_column)

    return parse


_STAMP_SHAPE: Final = ("is not an ISO 8601 datetime YYYY-MM-DD[(T| )hh:mm[:ss[.f]]]"
                       "[Z|+hh[[:]mm]] (1-9 fraction digits, ASCII digits)")


def _slow_datetime(found: re.Match[str], value: str, naive_column: bool) -> str:
    """Checked the way PostgreSQL reads it (``DecodeDateTime``): hour 00-24, minute 00-59,
    second 00-60, the fraction rounded to microseconds (``rint``), the time of day at most
    24:00:00; a zone ``+hh[[:]mm]`` with hours 00-23, minutes 00-59. Returned as written when
    PostgreSQL reads it as it is, else as the same instant in UTC (offsets of 16 h or more;
    any zone for a ``timestamp`` column), with the date and time PostgreSQL would make of it."""
    code = "invalid_datetime"
    day = _calendar_day(code, int(found["year"]), int(found["month"]), int(found["day"]))
    hour, minute = int(found["hour"] or 0), int(found["minute"] or 0)
    second = int(found["second"] or 0)
    micro = round(float(found["fraction"]) * 1e6) if found["fraction"] else 0
    if hour > 24 or minute > 59 or second > 60:
        raise Invalid(code, f"has time {hour:02d}:{minute:02d}:{second:02d} (hours are "
                            "00-24, minutes 00-59, seconds 00-60)")
    clock = timedelta(hours=hour, minutes=minute, seconds=second, microseconds=micro)
    if clock > _DAY_LENGTH:
        raise Invalid(code, "has a time of day after 24:00:00")
    offset = _offset(code, found["zone"])
    if offset is None or (abs(offset) < PG_MAX_OFFSET and not naive_column):
        return value
    try:
        utc = datetime.combine(day, time()) + clock - offset
    except OverflowError:
        why = ("a timestamp column keeps no zone" if naive_column
               else "PostgreSQL reads offsets up to 15:59")
        raise Invalid(code, f"falls outside the years 0001-9999 once converted to UTC (its "
                            f"zone {found['zone']} is converted: {why})") from None
    return utc.isoformat() + ("" if naive_column else "+00:00")


_DAY_LENGTH: Final = timedelta(days=1)


def instant(text: str) -> datetime:
    """The aware instant of a datetime a parser returned (no zone: UTC), as PostgreSQL reads
    it (``T24:00``, ``:60``, the fraction rounded to microseconds). ValueError if it is not
    one; OverflowError outside the years 0001-9999 (``9999-12-31T23:59:59.9999999Z``)."""
    found = _STAMP_FORM.fullmatch(text)
    if found is None:
        raise ValueError(f"not a datetime: {text!r}")
    micro = round(float(found["fraction"]) * 1e6) if found["fraction"] else 0
    clock = timedelta(hours=int(found["hour"] or 0), minutes=int(found["minute"] or 0),
                      seconds=int(found["second"] or 0), microseconds=micro)
    day = date(int(found["year"]), int(found["month"]), int(found["day"]))
    offset = _offset("invalid_datetime", found["zone"]) or timedelta(0)
    return datetime.combine(day, time(), UTC) + clock - offset


def _offset(code: str, zone: str | None) -> timedelta | None:
    """The zone's offset from UTC (None: no zone); hours 00-23, minutes 00-59."""
    if not zone:
        return None
    if zone == "Z":
        return timedelta(0)
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if minutes > 59 or hours > 23:
        raise Invalid(code, f"has zone offset {zone} (hours are 00-23, minutes 00-59)")
    offset = timedelta(hours=hours, minutes=minutes)
    return -offset if zone[0] == "-" else offset


def pattern_parser(kind: str, pattern: str, naive_column: bool = False) -> Parser:
    """A strptime ``pattern`` for ``kind`` (date, time, datetime); canonical ISO text. A
    datetime with a zone of 16 h or more, or with any zone for a ``timestamp`` column
    (``naive_column``), is sent as the same instant in UTC, as with the default form."""
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
        offset = moment.utcoffset()
        if offset is None or (abs(offset) < PG_MAX_OFFSET and not naive_column):
            return moment.isoformat()
        try:
            utc = moment.astimezone(UTC)
        except OverflowError:
            raise Invalid(code, "falls outside the years 0001-9999 once converted to UTC") \
                from None
        return utc.replace(tzinfo=None).isoformat() if naive_column else utc.isoformat()

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
    second = int(parts.get("S", 0))
    if second > 60:  # %S reads 61 (strptime's range); PostgreSQL reads up to 60
        raise ValueError(f"second {second}")
    moment = datetime(year, int(parts.get("m", 1)), int(parts.get("d", 1)),
                      int(parts.get("H", 0)), int(parts.get("M", 0)), min(second, 59), micro,
                      tzinfo=_zone(parts.get("z")))
    # A leap second (:60) is the next minute's :00, as PostgreSQL reads it.
    return moment + timedelta(seconds=1) if second == 60 else moment


def _zone(text: str | None) -> timezone | None:
    if text is None:
        return None
    if text.upper() == "Z":
        return UTC
    digits = text[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
    return timezone(-offset if text[0] == "-" else offset)
