"""Clean rows for ``gendata.py``: the value tables, the pools they fill and the row formatting.

Each chunk draws its random bytes in a few C calls (``randbytes``) and maps them onto fixed pools
of ready-made strings, then formats whole rows with one ``%`` template. The pools are the same
for every seed; the seed only decides which entries each row takes.

Two shapes (``SHAPES``): ``bench``, the values above (accented names and places, timestamps with
zones ``Z``, ``+02:00``, ... or none), and ``plain``, the same draws with every value folded to
ASCII (``Łukasz`` -> ``Lukasz``, ``São Paulo`` -> ``Sao Paulo``) and every timestamp in UTC
``Z``: for a given seed the two files have the same keys and the same rows, spelled plainly.
"""

from __future__ import annotations

import random
import sys
import unicodedata
from array import array
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Final

COLUMNS: Final = ("email", "first_name", "last_name", "phone", "birth_date", "city", "country",
                  "signup_at", "balance")
PLAIN_COLUMNS: Final[tuple[str, ...]] = (
    "first_name", "last_name", "phone", "birth_date", "city", "country", "balance", "notes")

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
SHAPES: Final = ("bench", "plain")
ZONES: Final = ("Z",) * 10 + ("+02:00", "+01:00", "-05:00", "+05:30", "+00:00", "")
FOLD: Final = str.maketrans({"ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "\u0131": "i", "ß": "ss",
                             "æ": "ae", "đ": "d"})
NOTES: Final = ("",) * 12 + ("vip", '"call back, after 6pm"', '"said ""maybe"""', "n/a")


def _slug(name: str) -> str:
    """The ASCII, lower-case, letters-only form of a name, for e-mail addresses."""
    folded = unicodedata.normalize("NFKD", name.translate(FOLD)).encode("ascii", "ignore")
    return "".join(ch for ch in folded.decode().lower() if ch.isalnum()) or "x"


def _ascii(text: str) -> str:
    """``text`` folded to ASCII, case and punctuation kept (the plain shape's values)."""
    return unicodedata.normalize("NFKD", text.translate(FOLD)).encode("ascii", "ignore").decode()


def _pool(values: tuple[str, ...] | list[str], size: int) -> list[str]:
    """``values`` repeated to exactly ``size`` entries, so a random byte or word indexes it."""
    return [values[i % len(values)] for i in range(size)]


def _day_strings(first: date, last: date) -> list[str]:
    days = (last - first).days + 1
    return [(first + timedelta(days=d)).isoformat() for d in range(days)]


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _words(rng: random.Random, n: int) -> array[int]:
    """n random 16-bit words, the same on any byte order."""
    words = array("H", rng.randbytes(2 * n))
    if sys.byteorder == "big":
        words.byteswap()
    return words


class Pools:
    """Fixed strings that random bytes (256 entries) or 16-bit words (65536) index.

    The tables are the same for every seed (drawn from a fixed ``random.Random``); the seed only
    decides which entries each row takes. ``shape`` "plain" folds every value to ASCII and every
    zone to ``Z`` (the draws are the same, so the rows correspond one to one).
    """

    def __init__(self, shape: str = "bench") -> None:
        if shape not in SHAPES:
            raise ValueError(f"unknown shape {shape!r}: one of {', '.join(SHAPES)}")
        plain = shape == "plain"
        fold = _ascii if plain else str
        fixed = random.Random(20261124)
        first = _pool([fold(n) for n in FIRST_NAMES], 256)
        last = _pool([fold(n) for n in LAST_NAMES], 256)
        slugs = {name: _slug(name) for name in (*first, *last)}
        self.first = [first[w >> 8] for w in range(65536)]
        self.last = [last[w & 255] for w in range(65536)]
        self.slug = [f"{slugs[f]}.{slugs[s]}" for f, s in zip(self.first, self.last, strict=True)]
        self.domain = _pool(DOMAINS, 256)
        self.city = _pool([fold(c) for c, _ in PLACES], 256)
        self.country = _pool([k for _, k in PLACES], 256)
        self.notes = _pool(NOTES, 256)
        prefixes, zones = _pool(PHONE_PREFIXES, 256), _pool(("Z",) if plain else ZONES, 256)
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


def clean_rows(rng: random.Random, pools: Pools, first_key: int, size: int) -> list[str]:
    """Rows in the standard header order, fast: three draws, one ``%`` template; the e-mails
    carry the key numbers ``first_key`` .. ``first_key + size - 1``."""
    names = _words(rng, size)
    columns = (map(pools.slug.__getitem__, names),
               range(first_key, first_key + size),
               map(pools.domain.__getitem__, rng.randbytes(size)),
               map(pools.names.__getitem__, names),
               map(pools.middle.__getitem__, _words(rng, size)),
               map(pools.end.__getitem__, _words(rng, size)))
    return list(map("%s.%s@%s,%s,%s,%s".__mod__, zip(*columns, strict=True)))


@dataclass
class Chunk:
    """The columns of one chunk of rows, as lists of field pieces (index i = row i); row i of
    the chunk is record ``first_index + i`` of the file and its e-mail carries the key number
    ``first_key + i``."""

    first_index: int
    size: int
    first_key: int
    parts: dict[str, list[str]] = field(default_factory=dict)

    def email(self, i: int) -> str:
        p = self.parts
        return f"{p['slug'][i]}.{self.first_key + i}@{p['dom'][i]}"

    def fields(self, i: int) -> dict[str, str]:
        """Row i as field texts by column name (CSV-ready, nothing to quote)."""
        p = self.parts
        found = {name: p[name][i] for name in PLAIN_COLUMNS if name in p}
        return {**found, "email": self.email(i), "signup_at": f"{p['sday'][i]}T{p['clock'][i]}"}


def draw_chunk(rng: random.Random, pools: Pools, first_index: int, size: int, *,
               notes: bool, key_offset: int = 0) -> Chunk:
    """Random choices for one chunk: one ``randbytes`` call per group of columns, mapped on
    pools; columns that must agree (names and e-mail, city and country) share the draw."""
    chunk = Chunk(first_index, size, first_index + key_offset)
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
    parts = dict(chunk.parts, n=range(chunk.first_key, chunk.first_key + chunk.size))
    columns = [parts[key] for _, keys in pieces for key in keys]
    return list(map(template.__mod__, zip(*columns, strict=True)))
