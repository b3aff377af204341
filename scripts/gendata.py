#!/usr/bin/env python3
"""Deterministic customers CSV generator: the same arguments give a byte-identical file.

Clean mode writes well-formed rows fast: each chunk draws its random bytes in a few C calls
(``randbytes``) and maps them onto fixed pools of ready-made strings, then formats whole rows
with one ``%`` template. ``--dirty`` replaces about 7% of the records, spread over the file, by
bad or hard ones (see ``KINDS``), shuffles the header, adds a ``notes`` column, puts a BOM in
front and leaves the last record without a line end.

Usage: python scripts/gendata.py --rows 100000 --seed 7 --out data/customers.csv [--dirty]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import unicodedata
from array import array
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import BinaryIO, Final

COLUMNS: Final = ("email", "first_name", "last_name", "phone", "birth_date", "city", "country",
                  "signup_at", "balance")
PLAIN_COLUMNS: Final[tuple[str, ...]] = (
    "first_name", "last_name", "phone", "birth_date", "city", "country", "balance", "notes")
CHUNK_ROWS: Final = 8192
DIRTY_SHARE: Final = 0.07
HUGE_FIELD: Final = 140_000  # above the csv module's default field limit of 131072
BOM: Final = "\ufeff"

FIRST_NAMES: Final = (
    "Emma", "Liam", "Olivia", "Noah", "Ava", "Lucas", "Sophia", "Mateo", "Mia", "Leo", "Chloé",
    "Hugo", "Léa", "Jules", "Zoë", "Louis", "Inès", "Gabriel", "Anna", "Arthur", "Sofía",
    "José", "María", "Javier", "Lena", "Jonas", "Marie", "Lukas", "Björn", "Åsa", "Søren",
    "Giulia", "Marco", "Francesca", "Luca", "Aoife", "Seán", "Niamh", "Ciarán", "Yuki",
    "Haruto", "Mei", "Wei", "Priya", "Arjun", "Fatima", "Omar", "Amira", "Youssef", "Łukasz",
    "Zofia", "Dmitri", "Olga", "Kwame", "Ama", "Chinedu", "Ngozi", "Ana-Maria", "Jean-Luc",
    "Mary Ann", "Thomas", "Sarah", "James", "Elif",
)
LAST_NAMES: Final = (
    "Smith", "Johnson", "Williams", "Brown", "Martin", "Bernard", "Dubois", "Lefèvre", "García",
    "Fernández", "López", "Müller", "Schmidt", "Schneider", "Fischer", "Rossi", "Russo",
    "Bianchi", "O'Brien", "O'Connor", "Murphy", "Kelly", "Nowak", "Kowalski", "Wiśniewski",
    "Novák", "Svoboda", "Jensen", "Nielsen", "Hansen", "Johansson", "Andersson", "Virtanen",
    "Korhonen", "Tanaka", "Suzuki", "Sato", "Wang", "Li", "Zhang", "Chen", "Kim", "Park",
    "Nguyen", "Tran", "Singh", "Patel", "Sharma", "Khan", "Haddad", "Mensah", "Okafor",
    "Van der Berg", "De Jong", "da Silva", "Santos", "Pereira", "Costa", "Ivanov", "Petrova",
    "Y\u0131lmaz", "Öztürk", "Papadopoulos", "MacDonald",
)
PLACES: Final = (
    ("Paris", "FR"), ("Lyon", "FR"), ("Marseille", "FR"), ("Toulouse", "FR"), ("Berlin", "DE"),
    ("München", "DE"), ("Hamburg", "DE"), ("Köln", "DE"), ("Madrid", "ES"), ("Barcelona", "ES"),
    ("Sevilla", "ES"), ("Roma", "IT"), ("Milano", "IT"), ("Napoli", "IT"), ("London", "GB"),
    ("Manchester", "GB"), ("Dublin", "IE"), ("Cork", "IE"), ("Amsterdam", "NL"),
    ("Rotterdam", "NL"), ("Bruxelles", "BE"), ("Lisboa", "PT"), ("Porto", "PT"),
    ("Warszawa", "PL"), ("Kraków", "PL"), ("Praha", "CZ"), ("Wien", "AT"), ("Zürich", "CH"),
    ("Genève", "CH"), ("København", "DK"), ("Stockholm", "SE"), ("Göteborg", "SE"),
    ("Oslo", "NO"), ("Helsinki", "FI"), ("New York", "US"), ("San Francisco", "US"),
    ("Austin", "US"), ("Toronto", "CA"), ("Montréal", "CA"), ("Tokyo", "JP"), ("Osaka", "JP"),
    ("Seoul", "KR"), ("São Paulo", "BR"), ("Ciudad de México", "MX"), ("Sydney", "AU"),
    ("Lagos", "NG"), ("Accra", "GH"), ("İstanbul", "TR"),
)
DOMAINS: Final = (
    "example.com", "example.org", "mail.example.net", "post.example.fr", "inbox.example.de",
    "example.co.uk", "web.example.es", "correo.example.mx", "posta.example.it", "example.io",
)
PHONE_PREFIXES: Final = (
    "+33 6", "+33 7", "+49 151", "+49 170", "+34 612", "+39 347", "+44 7700", "+353 85",
    "+31 6", "+32 470", "+351 912", "+48 501", "+1 415", "+1 212", "+81 90", "+61 4",
)
ZONES: Final = ("Z",) * 10 + ("+02:00", "+01:00", "-05:00", "+05:30", "+00:00", "")
FOLD: Final = str.maketrans({"ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "\u0131": "i", "ß": "ss",
                             "æ": "ae", "đ": "d"})
NOTES: Final = ("",) * 12 + ("vip", '"call back, after 6pm"', '"said ""maybe"""', "n/a")


def _slug(name: str) -> str:
    """The ASCII, lower-case, letters-only form of a name, for e-mail addresses."""
    folded = unicodedata.normalize("NFKD", name.translate(FOLD)).encode("ascii", "ignore")
    return "".join(ch for ch in folded.decode().lower() if ch.isalnum()) or "x"


def _pool(values: tuple[str, ...] | list[str], size: int) -> list[str]:
    """``values`` repeated to exactly ``size`` entries, so a random byte or word indexes it."""
    return [values[i % len(values)] for i in range(size)]


def _day_strings(first: date, last: date) -> list[str]:
    days = (last - first).days + 1
    return [(first + timedelta(days=d)).isoformat() for d in range(days)]


def _words(rng: random.Random, n: int) -> array[int]:
    """n random 16-bit words, the same on any byte order."""
    words = array("H", rng.randbytes(2 * n))
    if sys.byteorder == "big":
        words.byteswap()
    return words


class Pools:
    """Fixed strings that random bytes (256 entries) or 16-bit words (65536) index.

    The tables are the same for every seed (drawn from a fixed ``random.Random``); the seed only
    decides which entries each row takes.
    """

    def __init__(self) -> None:
        fixed = random.Random(20261124)
        first, last = _pool(FIRST_NAMES, 256), _pool(LAST_NAMES, 256)
        slugs = {name: _slug(name) for name in (*FIRST_NAMES, *LAST_NAMES)}
        self.first = [first[w >> 8] for w in range(65536)]
        self.last = [last[w & 255] for w in range(65536)]
        self.slug = [f"{slugs[f]}.{slugs[s]}" for f, s in zip(self.first, self.last, strict=True)]
        self.domain = _pool(DOMAINS, 256)
        self.city = _pool([c for c, _ in PLACES], 256)
        self.country = _pool([k for _, k in PLACES], 256)
        self.notes = _pool(NOTES, 256)
        prefixes, zones = _pool(PHONE_PREFIXES, 256), _pool(ZONES, 256)
        self.phone = [f"{prefixes[b]} {w % 1000:03d} {v % 10000:04d}" for b, w, v in
                      zip(fixed.randbytes(65536), _words(fixed, 65536), _words(fixed, 65536),
                          strict=True)]
        self.birth = _pool(_day_strings(date(1940, 1, 1), date(2006, 12, 31)), 65536)
        self.signup_day = _pool(_day_strings(date(2019, 1, 1), date(2025, 12, 31)), 65536)
        self.clock = [_clock(w * 86400 // 65536) + zones[b]
                      for w, b in zip(_words(fixed, 65536), fixed.randbytes(65536), strict=True)]
        self.balance = [f"{int(10 ** (w / 8192))}.{b % 100:02d}"
                        for w, b in zip(_words(fixed, 65536), fixed.randbytes(65536), strict=True)]
        self.clean_pools(fixed)

    def clean_pools(self, fixed: random.Random) -> None:
        """Ready-made runs of columns for the clean header order: a row is then five pieces."""
        self.names = [f"{f},{s}" for f, s in zip(self.first, self.last, strict=True)]
        self.middle = [f"{self.phone[w]},{self.birth[v]},{self.city[b]},{self.country[b]}"
                       for w, v, b in zip(_words(fixed, 65536), _words(fixed, 65536),
                                          fixed.randbytes(65536), strict=True)]
        self.end = [f"{self.signup_day[w]}T{self.clock[v]},{self.balance[u]}"
                    for w, v, u in zip(_words(fixed, 65536), _words(fixed, 65536),
                                       _words(fixed, 65536), strict=True)]


def clean_rows(rng: random.Random, pools: Pools, first_index: int, size: int) -> list[str]:
    """Rows in the standard header order, fast: three draws, one ``%`` template."""
    names = _words(rng, size)
    columns = (map(pools.slug.__getitem__, names),
               range(first_index, first_index + size),
               map(pools.domain.__getitem__, rng.randbytes(size)),
               map(pools.names.__getitem__, names),
               map(pools.middle.__getitem__, _words(rng, size)),
               map(pools.end.__getitem__, _words(rng, size)))
    return list(map("%s.%s@%s,%s,%s,%s".__mod__, zip(*columns, strict=True)))


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


@dataclass
class Chunk:
    """The columns of one chunk of rows, as lists of field pieces (index i = row i)."""

    first_index: int
    size: int
    parts: dict[str, list[str]] = field(default_factory=dict)

    def email(self, i: int) -> str:
        p = self.parts
        return f"{p['slug'][i]}.{self.first_index + i}@{p['dom'][i]}"

    def fields(self, i: int) -> dict[str, str]:
        """Row i as field texts by column name (CSV-ready, nothing to quote)."""
        p = self.parts
        found = {name: p[name][i] for name in PLAIN_COLUMNS if name in p}
        return {**found, "email": self.email(i), "signup_at": f"{p['sday'][i]}T{p['clock'][i]}"}


def draw_chunk(rng: random.Random, pools: Pools, first_index: int, size: int, *,
               notes: bool) -> Chunk:
    """Random choices for one chunk: one ``randbytes`` call per group of columns, mapped on
    pools; columns that must agree (names and e-mail, city and country) share the draw."""
    chunk = Chunk(first_index, size)
    groups: list[tuple[bool, dict[str, list[str]]]] = [
        (True, {"slug": pools.slug, "first_name": pools.first, "last_name": pools.last}),
        (False, {"dom": pools.domain}), (True, {"phone": pools.phone}),
        (True, {"birth_date": pools.birth}),
        (False, {"city": pools.city, "country": pools.country}),
        (True, {"sday": pools.signup_day}), (True, {"clock": pools.clock}),
        (True, {"balance": pools.balance}),
    ]
    if notes:
        groups.append((False, {"notes": pools.notes}))
    for wide, group in groups:
        picks = _words(rng, size) if wide else rng.randbytes(size)
        for name, pool in group.items():
            chunk.parts[name] = list(map(pool.__getitem__, picks))
    return chunk


# Each column as a piece of the row template and the parts that fill it.
PIECES: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "email": ("%s.%s@%s", ("slug", "n", "dom")), "signup_at": ("%sT%s", ("sday", "clock")),
}


def format_rows(chunk: Chunk, header: tuple[str, ...]) -> list[str]:
    """All rows of a chunk in the header's column order, with one ``%`` template."""
    pieces = [PIECES.get(name, ("%s", (name,))) for name in header]
    template = ",".join(piece for piece, _ in pieces)
    parts = dict(chunk.parts, n=range(chunk.first_index, chunk.first_index + chunk.size))
    columns = [parts[key] for _, keys in pieces for key in keys]
    return list(map(template.__mod__, zip(*columns, strict=True)))


# ---------------------------------------------------------------------------------------------
# Dirty records. A kind gets the row's clean fields (by column name) and the generator's state,
# and returns the record text; a leading "\n" or "\r\n" makes a blank line before it, a trailing
# "\r" makes its line end CRLF (rows are joined with "\n"). Every opened quote closes.


@dataclass
class Dirt:
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


def _huge_plain(d: Dirt, f: dict[str, str]) -> str:
    """A plain field over the csv module's default limit of 131072 characters."""
    return d.row({**f, "city": "z" * HUGE_FIELD})


def _huge_quoted(d: Dirt, f: dict[str, str]) -> str:
    """A quoted field over the limit, with commas, doubled quotes and many LF inside."""
    text = ("Lorem ipsum, dolor \"sit\" amet\n" * (HUGE_FIELD // 29 + 1)).replace('"', '""')
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
    ("multi_fault", _invalid(_multi_fault)),
    ("multi_fault_encoding", _invalid(lambda d, f: _few_fields(d, {**f, "city": "\udcff"}))),
)


@dataclass
class Generator:
    rows: int
    seed: int
    dirty: bool
    crlf: bool
    rng: random.Random = field(init=False)
    pools: Pools = field(init=False, default_factory=Pools)
    header: tuple[str, ...] = COLUMNS
    far_emails: deque[str] = field(default_factory=lambda: deque(maxlen=256))
    invalid: deque[tuple[str, str]] = field(default_factory=lambda: deque(maxlen=64))
    kinds_done: int = 0
    order: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        if self.dirty:
            names = [*COLUMNS, "notes"]
            self.rng.shuffle(names)
            self.header = tuple(names)

    def header_line(self) -> str:
        if not self.dirty:
            return ",".join(self.header) + ("\r\n" if self.crlf else "\n")
        looks = (str.lower, str.upper, lambda s: f" {s} ", str.title)
        shown = [self.rng.choice(looks)(name) for name in self.header]
        return BOM + ",".join(shown) + "\r\n"

    def chunks(self) -> Iterator[str]:
        yield self.header_line()
        eol = "\r\n" if self.crlf else "\n"
        for start in range(0, self.rows, CHUNK_ROWS):
            size = min(CHUNK_ROWS, self.rows - start)
            last = start + size >= self.rows
            if self.dirty:
                chunk = draw_chunk(self.rng, self.pools, start, size, notes=True)
                rows = format_rows(chunk, self.header)
                self.soil(chunk, rows, last)
            else:
                rows = clean_rows(self.rng, self.pools, start, size)
            text = eol.join(rows)
            yield text if (last and self.dirty) else text + eol

    def soil(self, chunk: Chunk, rows: list[str], last: bool) -> None:
        """Replace ~7% of the rows by dirty kinds (never the file's last row)."""
        room = chunk.size - 1 if last else chunk.size
        picks = set(self.rng.sample(range(room), min(room, round(chunk.size * DIRTY_SHARE))))
        huge = {self.rows // 3 - chunk.first_index: _huge_plain,
                2 * self.rows // 3 - chunk.first_index: _huge_quoted}
        picks |= {i for i in huge if 0 <= i < room}
        for i in sorted(picks):
            dirt = Dirt(self.rng, self.header, chunk, i, self.far_emails, self.invalid)
            kind = huge.get(i) or self.next_kind()
            rows[i] = kind(dirt, chunk.fields(i))
        for i in self.rng.sample(range(chunk.size), min(chunk.size, 32)):
            self.far_emails.append(chunk.email(i))

    def next_kind(self) -> Kind:
        """Kinds in turn (so every kind occurs early), the round's order drawn by seed."""
        if self.kinds_done % len(KINDS) == 0:
            self.order = self.rng.sample(range(len(KINDS)), len(KINDS))
        kind = KINDS[self.order[self.kinds_done % len(KINDS)]][1]
        self.kinds_done += 1
        return kind


def write(gen: Generator, out: BinaryIO) -> int:
    """Write the file in large blocks; return its size in bytes."""
    size = 0
    for text in gen.chunks():
        data = text.encode("utf-8", "surrogateescape")  # lone surrogates = raw non-UTF-8 bytes
        out.write(data)
        size += len(data)
    return size


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000, help="data records to write")
    parser.add_argument("--seed", type=int, default=1, help="random seed (same seed, same file)")
    parser.add_argument("--out", required=True, help="output path, or - for stdout")
    parser.add_argument("--dirty", action="store_true", help="mix in bad and hard records")
    parser.add_argument("--variant", choices=("clean", "dirty"), default=None,
                        help="clean or dirty (dirty is the same as --dirty)")
    parser.add_argument("--crlf", action="store_true", help="clean mode: CRLF line ends")
    args = parser.parse_args(argv)
    if args.rows < 0:
        parser.error("--rows must be >= 0")
    if args.variant == "dirty":
        args.dirty = True
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    gen = Generator(args.rows, args.seed, args.dirty, args.crlf)
    started = time.perf_counter()
    if args.out == "-":
        size = write(gen, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    else:
        with open(args.out, "wb", buffering=1 << 20) as out:
            size = write(gen, out)
    took = time.perf_counter() - started
    mode = "dirty" if args.dirty else "clean"
    print(f"gendata: {args.rows} {mode} rows, {size} bytes, seed {args.seed}, {took:.2f}s "
          f"({args.rows / max(took, 1e-9):,.0f} rows/s) -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
