"""Differential test: our compiled validator against frictionless-py, an independent
implementation of Table Schema (it shares no code with ours), on many generated values per
type, format and constraint. Both must agree on valid/invalid, and on the kind of failure
(type, required, or which constraint), except for the deliberate differences below, each of
which is recognised by a predicate and justified:

- ``ascii_digits``: we accept ASCII digits only; Python's int/Decimal/strptime also read other
  Unicode digits (full-width, Arabic-Indic), which PostgreSQL refuses (issue 10).
- ``underscores``: Python's int/Decimal read ``1_000``; neither Table Schema nor PostgreSQL do.
- ``trimmed``: we trim surrounding whitespace of non-string values (customers always did);
  frictionless trims numbers but not dates, times, booleans or years.
- ``number_forms``: Decimal reads ``Infinity``, ``sNaN``, ``-nan``...; Table Schema names
  ``NaN``, ``INF``, ``-INF`` (any case), which we accept.
- ``grouping``: frictionless drops ``groupChar`` anywhere (``1.2.3,4``); we require groups of
  three, so a file whose real decimal mark is ``.`` is rejected rather than misread.
- ``padded_date``: the default date is ``YYYY-MM-DD`` (spec); strptime also reads ``2024-1-5``.
- ``datetime_forms``: our default datetime also accepts a date alone, a space separator and
  ``hh:mm`` (customers did); dateutil's isoparse also reads any separator character, ``,``
  fractions, ``24:00`` and zones like ``+05``/``-0130`` (some of which we read too).
- ``time_forms``: our default time has no zone and no ``24:00`` (a ``time`` column drops a zone
  silently); isoparse reads both.
- ``year_digits``: a year is four ASCII digits; frictionless reads any 4 characters int() takes.
- ``email_rule``: issue 10's rule (one ``@``, non-empty local part, >= 2 non-empty labels, no
  whitespace) is simpler and more permissive than the ``validators`` library's RFC checks (e.g.
  one-letter TLDs, ``-`` at a label's edge, quoted forms); we never refuse what it accepts
  except Unicode whitespace inside an address (``validators`` reads a no-break space in the
  local part; issue 10 refuses any whitespace).
- ``anchored``: a pattern must match the whole value; frictionless wraps it as ``^...$``, where
  ``$`` also matches before a final newline.
"""

from __future__ import annotations

import random
import string
import unicodedata
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import frictionless
import pytest

from libs.schema.compile import Reject
from tests.schema_helpers import one_field

pytestmark = pytest.mark.unit
N = 600
NOISE = [*"0123456789+-.,eE :/TZ_aX", "\u0661", "\uff11", "\u00a0", "\n", "\t"]
KIND_OF = {"missing_value": "required", "too_short": "minLength", "too_long": "maxLength",
           "pattern_mismatch": "pattern", "not_in_enum": "enum", "out_of_range": "range"}


def mutate(rng: random.Random, text: str) -> str:
    for _ in range(rng.choice((1, 1, 2))):
        at = rng.randrange(len(text) + 1)
        how = rng.randrange(4)
        if how == 0:
            text = text[:at] + rng.choice(NOISE) + text[at:]
        elif how == 1 and text:
            text = text[:at] + text[at + 1:]
        elif how == 2 and text:
            text = text[:at] + rng.choice(NOISE) + text[at + 1:]
        else:
            text = text + text[at:]
    return text


def values(rng: random.Random, make: Callable[[random.Random], str]) -> list[str]:
    out = []
    for _ in range(N):
        value = make(rng)
        out.append(value if rng.random() < 0.5 else mutate(rng, value))
    return [v for v in out if v.strip()]  # empty values: missing, checked elsewhere


def _date(rng: random.Random) -> date:
    return date(1900, 1, 1) + timedelta(days=rng.randrange(80000))


def _integer(rng: random.Random) -> str:
    size = rng.choice((10**3, 10**4, 10**7))
    return rng.choice(("", "+", "-")) + rng.choice(("", "0")) + str(rng.randrange(size))


def _number(rng: random.Random) -> str:
    body = f"{rng.randrange(10**6)}.{rng.randrange(10**3)}"
    return rng.choice(("", "-", "+")) + rng.choice(
        (body, str(rng.randrange(99)), body + f"e{rng.randrange(-5, 5)}", ".5", "7.",
         rng.choice(("NaN", "inf", "-INF", "Infinity"))))


def _grouped(rng: random.Random) -> str:
    return f"{rng.randrange(10**8):,}".replace(",", ".") + rng.choice(("", ",5", ",25"))


def _datetime(rng: random.Random) -> str:
    day = _date(rng).isoformat()
    clock = f"{rng.randrange(24):02}:{rng.randrange(60):02}:{rng.randrange(60):02}"
    fraction = rng.choice(("", ".5", ".123456", ".1234567"))
    zone = rng.choice(("", "Z", "+02:00", "-03:30", "+0100"))
    return f"{day}T{clock}{fraction}{zone}"


def _time(rng: random.Random) -> str:
    clock = f"{rng.randrange(25):02}:{rng.randrange(60):02}:{rng.randrange(61):02}"
    return clock + rng.choice(("", ".25", ".123456"))


def _word(rng: random.Random) -> str:
    if rng.random() < 0.4:
        return rng.choice(("AB", "CD", "DA")) + "xyz"[: rng.randrange(4)] + rng.choice(("", "7"))
    return "".join(rng.choice("ABCDxyz09-") for _ in range(rng.randrange(1, 9)))


def _email(rng: random.Random) -> str:
    local = "".join(rng.choice(string.ascii_letters + "._+-") for _ in range(rng.randrange(1, 8)))
    labels = ["".join(rng.choice(string.ascii_lowercase + "-") for _ in range(rng.randrange(1, 6)))
              for _ in range(rng.randrange(1, 4))]
    return f"{local}@{'.'.join(labels)}"


def _uuid(rng: random.Random) -> str:
    text = f"{rng.getrandbits(128):032x}"
    return rng.choice((f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}",
                       text, text.upper()))


CASES: list[tuple[str, dict[str, Any], Callable[[random.Random], str], tuple[str, ...]]] = [
    ("integer", {"type": "integer"}, _integer, ("ascii_digits", "underscores")),
    ("integer_range", {"type": "integer", "constraints": {"minimum": -500, "maximum": 5000}},
     _integer, ("ascii_digits", "underscores")),
    ("number", {"type": "number"}, _number, ("ascii_digits", "underscores", "number_forms")),
    ("number_range", {"type": "number", "constraints": {"minimum": 0, "maximum": 1000.5}},
     _number, ("ascii_digits", "underscores", "number_forms")),
    ("number_comma", {"type": "number", "decimalChar": ",", "groupChar": "."}, _grouped,
     ("ascii_digits", "underscores", "grouping", "number_forms")),
    ("boolean", {"type": "boolean"},
     lambda r: r.choice(("true", "True", "TRUE", "1", "false", "False", "FALSE", "0", "yes")),
     ("trimmed",)),
    ("date", {"type": "date"}, lambda r: _date(r).isoformat(),
     ("ascii_digits", "trimmed", "padded_date")),
    ("date_range", {"type": "date", "constraints": {"minimum": "1950-01-01"}},
     lambda r: _date(r).isoformat(), ("ascii_digits", "trimmed", "padded_date")),
    ("date_pattern", {"type": "date", "format": "%d/%m/%Y"},
     lambda r: _date(r).strftime(r.choice(("%d/%m/%Y", "%Y-%m-%d", "%-d/%-m/%Y"))),
     ("ascii_digits", "trimmed")),
    ("datetime", {"type": "datetime"}, _datetime, ("ascii_digits", "trimmed", "datetime_forms")),
    ("time", {"type": "time"}, _time, ("ascii_digits", "trimmed", "time_forms")),
    ("year", {"type": "year"}, lambda r: str(r.randrange(900, 2100)),
     ("ascii_digits", "trimmed", "year_digits")),
    ("string_length", {"type": "string", "constraints": {"minLength": 3, "maxLength": 6}},
     _word, ()),
    ("string_pattern", {"type": "string", "constraints": {"pattern": "[A-D]{2}[x-z]*[0-9]?"}},
     _word, ("anchored",)),
    ("string_enum", {"type": "string", "constraints": {"enum": ["I", "U", "D"]}},
     lambda r: r.choice(("I", "U", "D", "X", "i", "II")), ()),
    ("email", {"type": "string", "format": "email"}, _email, ("email_rule",)),
    ("uuid", {"type": "string", "format": "uuid"}, _uuid, ("ascii_digits",)),
]


def ours(field: dict[str, Any], value: str) -> str:
    result = one_field(field).validate([value])
    if isinstance(result, Reject):
        code = result.reason
        return KIND_OF.get(code, "type" if code.startswith("invalid_") else code)
    return "ok"


def theirs(field: frictionless.Field, value: str) -> str:
    _, notes = field.read_cell(value)
    if not notes:
        return "ok"
    kinds = {"minimum": "range", "maximum": "range"}
    return kinds.get(next(iter(notes)), next(iter(notes)))


def deliberate(value: str, mine: str, other: str) -> set[str]:
    """The documented differences ``value`` shows (see the module docstring)."""
    found = set()
    if any(ch.isdigit() and not ch.isascii() for ch in value):
        found.add("ascii_digits")
    if "_" in value:
        found.add("underscores")
    if value != value.strip():
        found.add("trimmed")
    found |= _shape_differences(value, mine, other)
    if value.endswith("\n"):
        found.add("anchored")
    return found


def _shape_differences(value: str, mine: str, other: str) -> set[str]:
    """Differences of accepted shapes: one side reads the value as its type, the other not."""
    found = set()
    if value.strip().lower().lstrip("+-") in ("infinity", "snan", "nan"):
        found.add("number_forms")
    if mine == "type" and other != "type":  # they read a shape we refuse
        found |= {"padded_date", "time_forms", "year_digits", "datetime_forms", "grouping"}
    if mine != "type" and other == "type":  # we read a shape they refuse
        found |= {"datetime_forms", "email_rule"}
    if mine == "type" and other == "ok" and any(ch.isspace() for ch in value.strip()):
        found.add("email_rule")  # issue 10: no whitespace inside an address
    return found


@pytest.mark.parametrize(("name", "field", "make", "allowed"), CASES, ids=[c[0] for c in CASES])
def test_agrees_with_frictionless(name: str, field: dict[str, Any],
                                  make: Callable[[random.Random], str],
                                  allowed: tuple[str, ...]) -> None:
    rng = random.Random(f"oracle-{name}")
    oracle = frictionless.Field.from_descriptor({"name": "v", **field})
    agreed: Counter[str] = Counter()
    unexplained = []
    for value in values(rng, make):
        mine, other = ours(field, value), theirs(oracle, value)
        if mine == other:
            agreed["valid" if mine == "ok" else "invalid"] += 1
        elif not deliberate(value, mine, other) & set(allowed):
            unexplained.append((value, mine, other))
    assert not unexplained, f"{len(unexplained)} unexplained, e.g. {unexplained[:8]}"
    assert agreed["valid"] >= 30, agreed
    assert agreed["invalid"] >= 30, agreed


def test_email_never_stricter_than_the_oracle() -> None:
    oracle = frictionless.Field.from_descriptor({"name": "v", "type": "string", "format": "email"})
    rng = random.Random("email")
    field = {"type": "string", "format": "email"}
    accepted = 0
    for value in values(rng, _email):
        if theirs(oracle, value) == "ok" and not any(ch.isspace() for ch in value.strip()):
            assert ours(field, value) == "ok", value
            accepted += 1
    assert accepted >= 30
    assert unicodedata.is_normalized("NFC", "é")


# CPF and CNPJ: frictionless has no such formats; the oracle is the published check-digit
# algorithm (Receita Federal: modulo 11), written here from the definition, not python-stdnum.

def _cpf_digits(base: str) -> str:
    first = sum(int(d) * w for d, w in zip(base, range(10, 1, -1), strict=True)) * 10 % 11 % 10
    second = sum(int(d) * w for d, w in zip(base + str(first), range(11, 1, -1), strict=True))
    return f"{first}{second * 10 % 11 % 10}"


def _cnpj_digit(body: str) -> str:
    weights = [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2][-len(body):]
    rest = sum((ord(ch) - 48) * w for ch, w in zip(body, weights, strict=True)) % 11
    return "0" if rest < 2 else str(11 - rest)


def _cnpj_ok(compact: str) -> bool:
    first = _cnpj_digit(compact[:12])
    return compact[12:] == first + _cnpj_digit(compact[:12] + first)


def _swap_one(rng: random.Random, text: str, alphabet: str) -> str:
    at = rng.randrange(len(text))
    return text[:at] + rng.choice(alphabet) + text[at + 1:]


def test_cpf_against_the_check_digit_definition() -> None:
    rng = random.Random("cpf")
    field = {"type": "string", "format": "cpf"}
    seen = Counter()
    for _ in range(N):
        base = "".join(rng.choice(string.digits) for _ in range(9))
        compact = base + _cpf_digits(base)
        if rng.random() < 0.5:
            compact = _swap_one(rng, compact, string.digits)
        expected = compact[:9] != "000000000" and compact[9:] == _cpf_digits(compact[:9])
        shown = rng.choice((compact, f"{compact[:3]}.{compact[3:6]}.{compact[6:9]}-{compact[9:]}"))
        assert (ours(field, shown) == "ok") is expected, shown
        seen[expected] += 1
    assert seen[True] >= 100
    assert seen[False] >= 100


def test_cnpj_against_the_check_digit_definition() -> None:
    """Numeric and (from July 2026) alphanumeric CNPJ: letters count as ord(c) - 48."""
    rng = random.Random("cnpj")
    field = {"type": "string", "format": "cnpj"}
    seen = Counter()
    for _ in range(N):
        alphabet = rng.choice((string.digits, string.digits + string.ascii_uppercase))
        body = "".join(rng.choice(alphabet) for _ in range(12))
        first = _cnpj_digit(body)
        compact = body + first + _cnpj_digit(body + first)
        if rng.random() < 0.5:
            compact = _swap_one(rng, compact, string.digits)
        expected = _cnpj_ok(compact) and not compact.startswith("0" * 12)
        shown = rng.choice((compact, f"{compact[:2]}.{compact[2:5]}.{compact[5:8]}/"
                                     f"{compact[8:12]}-{compact[12:]}"))
        assert (ours(field, shown) == "ok") is expected, shown
        seen[expected] += 1
    assert seen[True] >= 100
    assert seen[False] >= 100


@pytest.mark.parametrize(("difference", "field", "value", "mine", "other"), [
    ("ascii_digits", {"type": "integer"}, "\uff11\uff12", "type", "ok"),
    ("underscores", {"type": "integer"}, "1_000", "type", "ok"),
    ("trimmed", {"type": "date"}, " 2024-01-05 ", "ok", "type"),
    ("number_forms", {"type": "number"}, "Infinity", "type", "ok"),
    ("grouping", {"type": "number", "decimalChar": ",", "groupChar": "."}, "1.2.3,4", "type",
     "ok"),
    ("padded_date", {"type": "date"}, "2024-1-5", "type", "ok"),
    ("datetime_forms", {"type": "datetime"}, "2024-01-05", "ok", "type"),
    ("datetime_forms", {"type": "datetime"}, "2024-01-05x10:11:12", "type", "ok"),
    ("time_forms", {"type": "time"}, "10:11:12+02:00", "type", "ok"),
    ("year_digits", {"type": "year"}, "+999", "type", "ok"),
    ("email_rule", {"type": "string", "format": "email"}, "a@b.c", "ok", "type"),
    ("email_rule", {"type": "string", "format": "email"}, "a\u00a0b@c.de", "type", "ok"),
    ("anchored", {"type": "string", "constraints": {"pattern": "[A-Z]{3}"}}, "ABC\n",
     "pattern", "ok"),
])
def test_each_documented_difference_is_real(difference: str, field: dict[str, Any], value: str,
                                            mine: str, other: str) -> None:
    oracle = frictionless.Field.from_descriptor({"name": "v", **field})
    assert (ours(field, value), theirs(oracle, value)) == (mine, other), difference
