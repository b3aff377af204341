r"""The catalogue of dirty records for ``gendata.py --dirty``: bad, hard and duplicate rows.

A kind gets the row's clean fields (by column name) and the generator's state (``Dirt``), and
returns the record text; a leading "\n" or "\r\n" makes a blank line before it, a trailing "\r"
makes its line end CRLF (rows are joined with "\n"). Every opened quote closes (some too
early: ``malformed_csv``). Lone surrogates (``\udcff``) stand for raw non-UTF-8 bytes: the
writer encodes with ``surrogateescape``.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from scripts.gendata_rows import Chunk

HUGE_FIELD: Final = 140_000  # above the csv module's default field limit of 131072
HUGE_LINE_PHRASES: Final = 60  # phrases per line of the huge quoted field: 81 lines


@dataclass
class Dirt:
    """What a kind may use besides the row's fields: the seeded draw, the header order, the
    chunk (for e-mails of nearby rows) and the memory of earlier records."""

    rng: random.Random
    header: tuple[str, ...]
    chunk: Chunk
    index: int
    far_emails: deque[str]
    invalid: deque[tuple[str, str]]  # (record text, its e-mail) of earlier invalid records

    def row(self, fields: dict[str, str]) -> str:
        return ",".join(fields[name] for name in self.header)

    def near_email(self) -> str:
        return self.chunk.email(max(0, self.index - self.rng.randint(1, 20)))

    def far_email(self) -> str:
        if self.far_emails and (self.index < 200 or self.rng.random() < 0.5):
            return self.rng.choice(self.far_emails)
        if self.index >= 200:
            return self.chunk.email(self.rng.randrange(0, self.index - 100))
        return self.near_email()


Kind = Callable[[Dirt, dict[str, str]], str]


def _few_fields(d: Dirt, f: dict[str, str]) -> str:
    return ",".join(f[name] for name in d.header[:-3])


def _many_fields(d: Dirt, f: dict[str, str]) -> str:
    return d.row(f) + ",extra,42"


def _invalid(kind: Kind) -> Kind:
    """Remember the record (and its e-mail) so that later ones can repeat it."""
    def remembered(d: Dirt, f: dict[str, str]) -> str:
        record = kind(d, f)
        d.invalid.append((record, f["email"]))
        return record
    return remembered


def _email(make: Callable[[str], str]) -> Kind:
    def kind(d: Dirt, f: dict[str, str]) -> str:
        return d.row({**f, "email": make(f["email"])})
    return kind


def _field(name: str, make: Callable[[str], str]) -> Kind:
    def kind(d: Dirt, f: dict[str, str]) -> str:
        return d.row({**f, name: make(f[name])})
    return kind


def _dup_near(d: Dirt, f: dict[str, str]) -> str:
    return d.row({**f, "email": d.near_email()})


def _dup_near_cased(d: Dirt, f: dict[str, str]) -> str:
    return d.row({**f, "email": f" {d.near_email().upper()}  "})


def _dup_far(d: Dirt, f: dict[str, str]) -> str:
    return d.row({**f, "email": d.far_email()})


def _repeat_invalid(d: Dirt, f: dict[str, str]) -> str:
    """An exact copy of an earlier invalid record: rejected again, for the same reason."""
    return d.rng.choice(d.invalid)[0] if d.invalid else d.row({**f, "email": "nobody"})


def _valid_after_invalid(d: Dirt, f: dict[str, str]) -> str:
    """A valid record with the e-mail of an earlier invalid one: invalid records take none."""
    return d.row({**f, "email": d.rng.choice(d.invalid)[1]}) if d.invalid else d.row(f)


def _empty_optional(d: Dirt, f: dict[str, str]) -> str:
    empty = d.rng.sample(["first_name", "last_name", "phone", "birth_date", "city", "country",
                          "signup_at", "balance"], d.rng.randint(1, 4))
    return d.row({**f, **dict.fromkeys(empty, "")})


def _all_quoted(d: Dirt, f: dict[str, str]) -> str:
    return ",".join(f'"{f[name]}"' if '"' not in f[name] else f[name] for name in d.header)


def _multi_fault(d: Dirt, f: dict[str, str]) -> str:
    """Several faults; the first rule in spec order wins (here: the field count)."""
    return d.row({**f, "email": "no-at-all", "birth_date": "2023-02-30"}) + ",x"


def huge_plain(d: Dirt, f: dict[str, str]) -> str:
    """A plain field over the csv module's default limit of 131072 characters."""
    return d.row({**f, "city": "z" * HUGE_FIELD})


def huge_quoted(d: Dirt, f: dict[str, str]) -> str:
    """A quoted field over the limit, with commas, doubled quotes and many LF inside (on fewer
    lines than a record may span: MAX_RECORD_LINES in libs/constants.py)."""
    line = "Lorem ipsum, dolor \"sit\" amet" * HUGE_LINE_PHRASES + "\n"
    text = (line * (HUGE_FIELD // len(line) + 1)).replace('"', '""')
    return d.row({**f, "last_name": f'"{text}"'})


KINDS: Final[tuple[tuple[str, Kind], ...]] = (
    ("few_fields", _invalid(_few_fields)),
    ("many_fields", _invalid(_many_fields)),
    ("unquoted_comma", _invalid(_field("city", lambda v: v + ", Centre"))),
    ("not_utf8", _invalid(_field("first_name", lambda v: v + "\udcff\udcfe"))),
    ("latin1_byte", _invalid(_field("last_name", lambda v: "Lef\udce8vre"))),
    ("nul_byte", _invalid(_field("last_name", lambda v: v[:2] + "\x00" + v[2:]))),
    ("quoted_comma", _field("city", lambda v: f'"{v}, Centre"')),
    ("doubled_quotes", _field("last_name", lambda v: f'"{v} ""Jr."", III"')),
    ("newline_lf", _field("first_name", lambda v: f'"{v}\nsecond line"')),
    ("newline_crlf", _field("city", lambda v: f'"{v}\r\nBuilding B\r\n"')),
    ("crlf_end", lambda d, f: d.row(f) + "\r"),
    ("blank_line", lambda d, f: "\n" + d.row(f)),
    ("crlf_blank_lines", lambda d, f: "\r\n\n\r\n" + d.row(f) + "\r"),
    ("email_case_spaces", _email(lambda v: f"  {v.upper()} ")),
    ("dup_near", _dup_near),
    ("dup_near_cased", _dup_near_cased),
    ("dup_far", _dup_far),
    ("dup_far_again", _dup_far),
    ("repeat_invalid", _repeat_invalid),
    ("valid_after_invalid", _valid_after_invalid),
    ("email_no_at", _invalid(_email(lambda v: v.replace("@", ".at.")))),
    ("email_two_at", _invalid(_email(lambda v: v.replace("@", "@@")))),
    ("email_empty_local", _invalid(_email(lambda v: "@" + v.split("@")[1]))),
    ("email_domain_no_dot", _invalid(_email(lambda v: v.split("@")[0] + "@localhost"))),
    ("email_space_inside", _invalid(_email(lambda v: v.replace(".", " ", 1)))),
    ("date_feb_30", _invalid(_field("birth_date", lambda v: v[:4] + "-02-30"))),
    ("date_month_13", _invalid(_field("birth_date", lambda v: v[:4] + "-13-01"))),
    ("date_slashes", _invalid(_field("birth_date", lambda v: v.replace("-", "/")))),
    ("ts_word", _invalid(_field("signup_at", lambda v: "yesterday"))),
    ("ts_month_13", _invalid(_field("signup_at", lambda v: v[:4] + "-13-01T00:00:00"))),
    ("ts_hour_25", _invalid(_field("signup_at", lambda v: v[:10] + "T25:00:00Z"))),
    ("num_decimal_comma", _invalid(_field("balance", lambda v: '"12,50"'))),
    ("num_13_digits", _invalid(_field("balance", lambda v: "1234567890123"))),
    ("num_3_decimals", _invalid(_field("balance", lambda v: v + "5"))),
    ("empty_optional", _empty_optional),
    ("ts_variants", _field("signup_at", lambda v: v[:10] + " " + v[11:16] + ".5+0530")),
    ("ts_date_only", _field("signup_at", lambda v: v[:10])),
    ("signed_numbers", _field("balance", lambda v: "-" + v.split(".")[0])),
    ("all_quoted", _all_quoted),
    ("quote_inside_field", _field("city", lambda v: v[:2] + '"' + v[2:])),
    ("inner_quotes", _invalid(_field("city", lambda v: f'"Cafe "{v}" Door"'))),
    ("backslash_quote", _invalid(_field("last_name", lambda v: f'"O\\"{v}"'))),
    ("multi_fault", _invalid(_multi_fault)),
    ("multi_fault_encoding", _invalid(lambda d, f: _few_fields(d, {**f, "city": "\udcff"}))),
)
