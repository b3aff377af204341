"""The independent checker's rule sets for the bundled datasets other than customers.

Written from the definitions (the issue, datasets/README.md, Receita Federal's check digit
rules), never with libs/, producer/ or consumer/: a bug in the product cannot hide here. Each
dataset is a list of columns in the file's field order, each with its own parser; a record's
reason is the first broken rule in that order (missing value, then type or format, then the
constraints: too_long, pattern_mismatch, not_in_enum, out_of_range).

- ``user_purchase``: whitespace-aligned text (each column starts where its header name starts;
  header names match columns after normalization), ``NULL`` or empty for missing, CPF and CNPJ
  with check digits (stored compact), decimal comma with ``.`` thousands, 0/1 flags.
- ``suppliers``: CSV; uuid key, code ``AAA-9999``, name, three 0/1 flags, ``op`` in I/U/D.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Final

MISSING_VALUE: Final = "missing_value"
TOO_LONG: Final = "too_long"
PATTERN_MISMATCH: Final = "pattern_mismatch"
NOT_IN_ENUM: Final = "not_in_enum"
OUT_OF_RANGE: Final = "out_of_range"
INVALID_BOOLEAN: Final = "invalid_boolean"
INVALID_DATE: Final = "invalid_date"
INVALID_NUMBER: Final = "invalid_number"
INVALID_UUID: Final = "invalid_uuid"
INVALID_CPF: Final = "invalid_cpf"
INVALID_CNPJ: Final = "invalid_cnpj"


class Invalid(Exception):
    """A record that breaks a rule; ``reason`` is the reject's reason code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- names ----------------------------------------------------------------------------------


def normalize(name: str) -> str:
    """A header name as a column name: accents dropped, lowercase, non-alphanumeric runs `_`."""
    bare = "".join(ch for ch in unicodedata.normalize("NFKD", name)
                   if not unicodedata.combining(ch))
    return re.sub(r"[^0-9a-z]+", "_", bare.lower()).strip("_")


def aligned_starts(header: str, names: Sequence[str]) -> dict[str, int]:
    """Where each column starts: the position of the first word of its header name.

    Header names may hold single spaces (``DATA DA ÚLTIMA COMPRA TICKET MÉDIO`` is two
    columns), so words are taken one at a time until they normalize to a column name.
    """
    words = [(m.start(), m.group()) for m in re.finditer(r"\S+", header)]
    starts: dict[str, int] = {}
    i = 0
    while i < len(words):
        for j in range(i + 1, len(words) + 1):
            candidate = normalize(" ".join(word for _, word in words[i:j]))
            if candidate in names and candidate not in starts:
                starts[candidate] = words[i][0]
                i = j
                break
        else:
            raise ValueError(f"header word {words[i][1]!r} at {words[i][0]} starts no column")
    missing = [name for name in names if name not in starts]
    if missing:
        raise ValueError(f"header lacks {', '.join(missing)}: {header!r}")
    return starts


def aligned_fields(line: str, starts: Sequence[int]) -> list[str]:
    """The values of one line, cut at the column starts, stripped."""
    ends = [*starts[1:], None]
    return [line[start:end].strip() for start, end in zip(starts, ends, strict=True)]


# --- values ---------------------------------------------------------------------------------

Parse = Callable[[str], Any]


def boolean_01(value: str) -> bool:
    text = value.strip()
    if text not in ("0", "1"):
        raise Invalid(INVALID_BOOLEAN)
    return text == "1"


def iso_date(value: str) -> date:
    text = value.strip()
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        raise Invalid(INVALID_DATE)
    try:
        return date(int(text[:4]), int(text[5:7]), int(text[8:]))
    except ValueError:
        raise Invalid(INVALID_DATE) from None


def decimal_comma(value: str, integer_digits: int = 12, scale: int = 2) -> Decimal:
    """``1.234.567,89``: groups of three after the first, a comma before the fraction; it must
    fit numeric(integer_digits + scale, scale) as written."""
    text = value.strip()
    match = re.fullmatch(r"([+-]?)([0-9]{1,3}(?:\.[0-9]{3})+|[0-9]+)(?:,([0-9]+))?", text)
    if match is None:
        raise Invalid(INVALID_NUMBER)
    sign, whole, fraction = match[1], match[2].replace(".", ""), match[3] or ""
    if len(fraction) > scale or len(whole.lstrip("0")) > integer_digits:
        raise Invalid(INVALID_NUMBER)
    return Decimal(f"{sign}{whole}.{fraction or '0'}")


def at_least_zero(parse: Parse) -> Parse:
    def checked(value: str) -> Any:
        number = parse(value)
        if number < 0:
            raise Invalid(OUT_OF_RANGE)
        return number
    return checked


def _check_digit(values: Sequence[int], weights: Sequence[int]) -> int:
    """Modulo 11 check digit: 11 - (weighted sum mod 11), 0 when that is 10 or 11."""
    rest = sum(v * w for v, w in zip(values, weights, strict=True)) % 11
    return 0 if rest < 2 else 11 - rest


def cpf(value: str) -> str:
    """A CPF (11 digits; ``.``, ``-`` and spaces ignored), the last two its check digits:
    weights 10..2 over the first nine, then 11..2 over the first ten. Stored as digits."""
    digits = re.sub(r"[ .-]", "", value.strip())
    if not (digits.isascii() and digits.isdigit() and len(digits) == 11 and int(digits) > 0):
        raise Invalid(INVALID_CPF)
    numbers = [int(d) for d in digits]
    first = _check_digit(numbers[:9], range(10, 1, -1))
    second = _check_digit([*numbers[:9], first], range(11, 1, -1))
    if numbers[9:] != [first, second]:
        raise Invalid(INVALID_CPF)
    return digits


CNPJ_WEIGHTS: Final = (5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)


def cnpj(value: str) -> str:
    """A CNPJ (14 characters; ``.``, ``/``, ``-`` and spaces ignored): twelve digits or
    upper-case letters (the alphanumeric CNPJ: a character counts as its code minus 48), then
    two check digits with weights 5..2,9..2 and 6..2,9..2. Stored compact."""
    text = re.sub(r"[ ./-]", "", value.strip()).upper()
    if not re.fullmatch(r"[0-9A-Z]{12}[0-9]{2}", text) or text.startswith("0" * 12):
        raise Invalid(INVALID_CNPJ)
    values = [ord(ch) - 48 for ch in text[:12]]
    first = _check_digit(values, CNPJ_WEIGHTS)
    second = _check_digit([*values, first], (6, *CNPJ_WEIGHTS))
    if text[12:] != f"{first}{second}":
        raise Invalid(INVALID_CNPJ)
    return text


def uuid_value(value: str) -> uuid.UUID:
    """What Python's uuid.UUID reads (the Table Schema uuid format as frictionless reads it)."""
    text = value.strip()
    try:
        if not text.isascii():
            raise ValueError(text)
        return uuid.UUID(text)
    except ValueError:
        raise Invalid(INVALID_UUID) from None


def text(max_length: int | None = None, pattern: str | None = None,
         enum: Sequence[str] | None = None) -> Parse:
    def parse(value: str) -> str:
        if max_length is not None and len(value) > max_length:
            raise Invalid(TOO_LONG)
        if pattern is not None and re.fullmatch(pattern, value) is None:
            raise Invalid(PATTERN_MISMATCH)
        if enum is not None and value not in enum:
            raise Invalid(NOT_IN_ENUM)
        return value
    return parse


# --- datasets -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    parse: Parse
    required: bool = False
    is_string: bool = False  # strings keep their spaces; other values are read stripped


@dataclass(frozen=True)
class Rules:
    """One dataset: its table, key, layout, missing values and columns in field order."""

    name: str
    table: str
    key: tuple[str, ...]
    layout: str  # "delimited" (comma CSV, issue 10's syntax) or "aligned"
    missing: tuple[str, ...]
    columns: tuple[Column, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def row(self, values: dict[str, str]) -> dict[str, Any]:
        """The typed row from the values by column name; Invalid for the first broken rule."""
        row: dict[str, Any] = {}
        for column in self.columns:
            raw = values[column.name]
            if (raw if column.is_string else raw.strip()) in self.missing or raw == "":
                if column.required or column.name in self.key:
                    raise Invalid(MISSING_VALUE)
                row[column.name] = None
            else:
                row[column.name] = column.parse(raw)
        return row


USER_PURCHASE: Final = Rules(
    name="user_purchase", table="user_purchase", key=("cpf",), layout="aligned",
    missing=("", "NULL"),
    columns=(
        Column("cpf", cpf),
        Column("private", boolean_01, required=True),
        Column("incompleto", boolean_01, required=True),
        Column("data_da_ultima_compra", iso_date),
        Column("ticket_medio", at_least_zero(decimal_comma)),
        Column("ticket_da_ultima_compra", at_least_zero(decimal_comma)),
        Column("loja_mais_frequente", cnpj),
        Column("loja_da_ultima_compra", cnpj),
    ))

SUPPLIERS: Final = Rules(
    name="suppliers", table="suppliers", key=("id",), layout="delimited", missing=("",),
    columns=(
        Column("id", uuid_value),
        Column("code", text(max_length=8, pattern=r"[A-Z]{3}-[0-9]{4}"), required=True,
               is_string=True),
        Column("name", text(max_length=100), required=True, is_string=True),
        Column("active", boolean_01, required=True),
        Column("preferred", boolean_01, required=True),
        Column("blocked", boolean_01, required=True),
        Column("op", text(max_length=1, enum=("I", "U", "D")), required=True, is_string=True),
    ))

RULES: Final = {rules.name: rules for rules in (USER_PURCHASE, SUPPLIERS)}
