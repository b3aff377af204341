"""RE2 patterns (pyarrow's regex engine) for the vectorized validator (``libs.schema.vector``).

Two kinds, each a pattern whose *full* matches are exactly a set of values the row path
(``libs.schema.cells``) returns unchanged:

- dates and datetimes, written here for RE2 (``cells.fast_pattern``'s have a lookahead) with
  a full calendar check (``_DATE``: days 29-31 where the month has them, 29 February in leap
  years, never year 0000). The row path accepts these with its fast regex or, for days 29-31,
  after its calendar check, and returns them as written either way; the other fast forms
  (e-mail, uuid, integer, number, time, year) are translated from ``cells.fast_pattern``;
- ``translate(pattern)``: a Python regex (a ``pattern`` constraint, ``types.fits_pattern``)
  rewritten for RE2 when it uses only constructs both engines read alike: literals, classes of
  literals and ranges, groups without flags, alternation, greedy and lazy repeats up to 1000.
  Anything else (``\\d``, ``\\w``, ``\\s`` and ``\\b``, which are Unicode-aware in Python
  and ASCII in RE2; anchors; lookaround; back references; possessive repeats; flags) gives
  None: the field is then checked by the row path's own closure.

Full-match membership of a regular language does not depend on the engine's search order, so
a translated pattern accepts the same strings in both engines. Every literal is written as
``\\x{HEX}``, which RE2 reads the same inside and outside classes.
"""

from __future__ import annotations

from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any, Final

_Y: Final = r"(?:[0-9]{3}[1-9]|[0-9]{2}[1-9][0-9]|[0-9][1-9][0-9]{2}|[1-9][0-9]{3})"  # not 0000
_LEAP: Final = r"(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
_DATE: Final = (rf"(?:{_Y}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
                r"|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)"
                rf"|{_LEAP}-02-29)")
_CLOCK: Final = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]"
_TIME_OF_DAY: Final = rf"(?:[T ]{_CLOCK}(?::[0-5][0-9](?:\.[0-9]{{1,9}})?)?"
_ZONE: Final = r"(?:Z|[+-](?:0[0-9]|1[0-5])(?::?[0-5][0-9])?)"

DATE: Final = _DATE
STAMP: Final = rf"{_DATE}{_TIME_OF_DAY}{_ZONE}?)?"
NAIVE: Final = rf"{_DATE}{_TIME_OF_DAY})?"

_RE2_MAX_REPEAT: Final = 1000
_UNICODE: Final = sre.SRE_FLAG_UNICODE


class Untranslatable(Exception):
    """A construct RE2 may read otherwise than Python's ``re``."""


def translate(pattern: str) -> str | None:
    """``pattern`` (Python syntax, matched in full) in RE2 syntax, or None (see the module)."""
    try:
        parsed = sre_parse.parse(pattern)
        if parsed.state.flags & ~_UNICODE:
            return None
        return _sequence(parsed)
    except (Untranslatable, RecursionError, ValueError):
        return None


def _sequence(items: Any) -> str:
    return "".join(_item(op, av) for op, av in items)


def _item(op: Any, av: Any) -> str:
    if op is sre.LITERAL:
        return _char(av)
    if op is sre.NOT_LITERAL:
        return f"[^{_char(av)}]"
    if op is sre.ANY:
        return r"[^\x{A}]"  # Python's ``.`` without DOTALL: anything but LF
    if op is sre.IN:
        return _class(av)
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
        low, high, body = av
        if low > _RE2_MAX_REPEAT or (high != sre.MAXREPEAT and high > _RE2_MAX_REPEAT):
            raise Untranslatable("repeat count")
        bound = f"{{{low},}}" if high == sre.MAXREPEAT else f"{{{low},{high}}}"
        return f"(?:{_sequence(body)}){bound}"
    if op is sre.SUBPATTERN:
        _, add_flags, del_flags, body = av
        if add_flags or del_flags:
            raise Untranslatable("flags")
        return f"(?:{_sequence(body)})"
    if op is sre.BRANCH:
        return "(?:" + "|".join(_sequence(branch) for branch in av[1]) + ")"
    raise Untranslatable(str(op))


def _class(items: Any) -> str:
    parts: list[str] = []
    negate = False
    for op, av in items:
        if op is sre.NEGATE:
            negate = True
        elif op is sre.LITERAL:
            parts.append(_char(av))
        elif op is sre.RANGE:
            parts.append(f"{_char(av[0])}-{_char(av[1])}")
        else:  # CATEGORY (\d \w \s), NOT_LITERAL in a class...
            raise Untranslatable(str(op))
    if not parts:
        raise Untranslatable("empty class")
    return f"[{'^' if negate else ''}{''.join(parts)}]"


def _char(code: int) -> str:
    if 0xD800 <= code <= 0xDFFF:  # a lone surrogate: no UTF-8 string holds one
        raise Untranslatable("surrogate")
    return f"\\x{{{code:X}}}"
