"""Value parsers of the non-temporal Table Schema types, and the rules a column type implies.

A parser takes a field's value (already trimmed and known not missing) and returns the
canonical text PostgreSQL reads back to the same value, or raises ``Invalid``. Digits are ASCII
only (``[0-9]``, never ``\\d``, which also matches e.g. full-width digits PostgreSQL refuses).
Each parser tries one fast regex first.

Sources (Table Schema, Field Types): integer (optional sign, digits; ``bareNumber``, v2
``groupChar``); number (decimal with ``decimalChar``, ``groupChar``, optional exponent,
``NaN``/``INF``/``-INF``; ``bareNumber``); boolean (``trueValues``/``falseValues``); year
(``YYYY``); object/array (JSON text).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

Parser = Callable[[str], str]

_INT_BOUNDS: Final = {"smallint": 2**15, "int2": 2**15, "integer": 2**31, "int": 2**31,
                      "int4": 2**31, "bigint": 2**63, "int8": 2**63}
_VARCHAR: Final = re.compile(r"(?:character varying|varchar|character|char|bpchar)\((\d+)\)")
_NUMERIC: Final = re.compile(r"(?:numeric|decimal)\((\d+)(?:,\s*(\d+))?\)")
_SPECIALS: Final = {"nan": "NaN", "inf": "Infinity", "+inf": "Infinity", "-inf": "-Infinity"}
_BARE_LEAD: Final = re.compile(r"[^0-9+\-]+")
MAX_INTEGER_DIGITS: Final = 4300  # Python's default int max_str_digits
_BARE_TAIL: Final = re.compile(r"[^0-9]+$")


class Invalid(ValueError):
    """A value that breaks a rule: ``code`` is its reason, ``str(exc)`` the detail."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ColumnRules:
    """What a PostgreSQL column type implies for its values (None: no such bound)."""

    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None
    precision: int | None = None
    scale: int | None = None


def column_rules(column_type: str | None) -> ColumnRules:
    """``int4`` -> -2^31..2^31-1; ``varchar(20)`` -> max_length 20; ``numeric(14,2)`` -> 14, 2."""
    if column_type is None:
        return ColumnRules()
    kind = " ".join(column_type.lower().split())
    if kind in _INT_BOUNDS:
        return ColumnRules(minimum=-_INT_BOUNDS[kind], maximum=_INT_BOUNDS[kind] - 1)
    if found := _VARCHAR.fullmatch(kind):
        return ColumnRules(max_length=int(found.group(1)))
    if found := _NUMERIC.fullmatch(kind):
        return ColumnRules(precision=int(found.group(1)), scale=int(found.group(2) or 0))
    return ColumnRules()


def _unbare(text: str, decimal_char: str = "") -> str:
    """``bareNumber: false``: strip leading and trailing non-numeric text (``€95``, ``95%``).
    A leading decimal mark is kept (``€.5`` is ``.5``, never ``5``)."""
    lead = re.match(f"[^0-9+\\-{re.escape(decimal_char)}]+", text) if decimal_char else \
        _BARE_LEAD.match(text)
    return _BARE_TAIL.sub("", text[lead.end():] if lead else text)


def _digits_pattern(group_char: str) -> str:
    """Integer digits: plain, or groups of three when a groupChar is declared."""
    if not group_char:
        return "[0-9]+"
    return f"(?:[0-9]{{1,3}}(?:{re.escape(group_char)}[0-9]{{3}})+|[0-9]+)"


def integer_parser(group_char: str = "", bare: bool = True) -> Parser:
    """Canonical: ``str(int)`` (sign ``+``, leading zeros and group characters dropped)."""
    form = re.compile(f"[+-]?{_digits_pattern(group_char)}")

    def parse(value: str) -> str:
        text = value if bare else _unbare(value)
        if form.fullmatch(text) is None:
            raise Invalid("invalid_integer", "is not an integer")
        if group_char:
            text = text.replace(group_char, "")
        sign, digits = ("-", text[1:]) if text[0] == "-" else ("", text.lstrip("+"))
        digits = digits.lstrip("0") or "0"
        if len(digits) > MAX_INTEGER_DIGITS:  # int() refuses more (sys.int_info)
            raise Invalid("invalid_integer", f"has more than {MAX_INTEGER_DIGITS} digits")
        return "0" if digits == "0" else sign + digits

    return parse


def number_parser(decimal_char: str = ".", group_char: str = "", bare: bool = True,
                  rules: ColumnRules = ColumnRules()) -> Parser:
    """Canonical: the decimal with ``.``, no group characters; NaN/Infinity spelt as PostgreSQL.

    Forms (XML Schema decimal, as Table Schema says; PostgreSQL's numeric reads them all):
    ``1``, ``-1.5``, ``.5``, ``5.``, ``+.5``, an optional exponent ``1.5E3``; ``NaN``, ``INF``,
    ``-INF`` in any case. ASCII digits only; a ``groupChar`` only between groups of three.

    With a ``numeric(p,s)`` column the value must fit without rounding: at most p-s
    significant integer digits (leading zeros do not count: ``0000000000001.00`` fits
    numeric(14,2)) and s fraction digits (trailing zeros do not count: ``1.50`` and ``1.500``
    are the same number); no exponent, no NaN/INF (PostgreSQL would round extra fraction
    digits silently, and refuses the rest).
    """
    point = re.escape(decimal_char)
    body = f"[+-]?(?:{_digits_pattern(group_char)}(?:{point}[0-9]*)?|{point}[0-9]+)"
    form = re.compile(body + "(?:[eE][+-]?[0-9]+)?")
    fits = _fits(rules)
    shape = (f"is not a number (ASCII digits, decimal mark {decimal_char!r}"
             + (f", groups of three split by {group_char!r}" if group_char else "") + ")")

    def parse(value: str) -> str:
        text = value if bare else _unbare(value, decimal_char)
        if form.fullmatch(text) is None:
            special = _SPECIALS.get(text.lower())
            if special is None:
                raise Invalid("invalid_number", shape)
            if fits is not None:
                raise Invalid("invalid_number", f"is not a finite number, which a "
                                                f"numeric({rules.precision},{rules.scale or 0})"
                                                " column needs")
            return special
        if group_char:
            text = text.replace(group_char, "")
        if decimal_char != ".":
            text = text.replace(decimal_char, ".")
        if fits is not None:
            fits(text)
        return text

    return parse


def fits_pattern(rules: ColumnRules) -> re.Pattern[str] | None:
    """Canonical numbers a ``numeric(p,s)`` column holds as written (a fast subset of what
    ``number_parser`` accepts), or None."""
    if rules.precision is None:
        return None
    scale = rules.scale or 0
    whole = rules.precision - scale
    integer_part = f"[0-9]{{1,{whole}}}" if whole > 0 else "0+"
    fraction = f"(?:\\.[0-9]{{1,{scale}}})?" if scale > 0 else ""
    return re.compile(f"[+-]?{integer_part}{fraction}")


def significant_digits(text: str) -> tuple[int, int]:
    """(integer digits, fraction digits) of a decimal, without leading or trailing zeros:
    ``0012.50`` -> (2, 1), ``1e3`` -> (4, 0), ``0.00`` -> (0, 0)."""
    _, digits, exponent = Decimal(text).as_tuple()
    assert isinstance(exponent, int)  # a finite number: the form was matched first
    if not any(digits):
        return 0, 0
    size = len(digits)
    while exponent < 0 and digits[size - 1] == 0:
        size -= 1
        exponent += 1
    return max(0, size + exponent), max(0, -exponent)


def _fits(rules: ColumnRules) -> Callable[[str], None] | None:
    if rules.precision is None:
        return None
    scale = rules.scale or 0
    whole = rules.precision - scale
    limit = f"numeric({rules.precision},{scale})"

    def check(text: str) -> None:
        if "e" in text or "E" in text:
            raise Invalid("invalid_number", f"has an exponent; a {limit} value is written "
                                            "without one")
        integer, fraction = significant_digits(text)
        if integer > whole or fraction > scale:
            raise Invalid("invalid_number", f"has {integer} integer and {fraction} fraction "
                          f"digits; {limit} holds at most {whole} and {scale}")

    return check


def boolean_parser(true_values: tuple[str, ...], false_values: tuple[str, ...]) -> Parser:
    """Canonical: ``true`` / ``false``; values compared exactly (case matters, as in the spec)."""
    mapping = dict.fromkeys(false_values, "false") | dict.fromkeys(true_values, "true")

    def parse(value: str) -> str:
        found = mapping.get(value)
        if found is None:
            raise Invalid("invalid_boolean", f"is not one of {', '.join(mapping)}")
        return found

    return parse


_YEAR: Final = re.compile(r"[0-9]{4}")


def parse_year(value: str) -> str:
    """Four ASCII digits (XML Schema gYear as ``YYYY``); canonical ``str(int)``."""
    if _YEAR.fullmatch(value) is None:
        raise Invalid("invalid_year", "is not a year YYYY (four ASCII digits)")
    return str(int(value))


def _no_constant(name: str) -> object:
    raise ValueError(name)


def json_parser(kind: str) -> Parser:
    """object: a JSON object; array: a JSON array. NaN/Infinity are not JSON (PostgreSQL agrees)."""
    wanted = dict if kind == "object" else list

    def parse(value: str) -> str:
        try:
            loaded = json.loads(value, parse_constant=_no_constant)
        except ValueError:
            raise Invalid(f"invalid_{kind}", f"is not a JSON {kind}") from None
        except RecursionError:
            raise Invalid(f"invalid_{kind}", "nests deeper than can be read") from None
        if not isinstance(loaded, wanted):
            raise Invalid(f"invalid_{kind}", f"is not a JSON {kind}")
        return value

    return parse
