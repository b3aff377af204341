"""Names: header normalization, the allow-list for names from files, SQL identifier quoting.

Two kinds of names reach SQL. Names written in a dataset file (table, columns) must match the
allow-list ``IDENTIFIER`` (lowercase ASCII letters, digits, ``_``; at most 63 bytes, PostgreSQL's
NAMEDATALEN - 1). Names reflected from the catalog are what the table really has (capitals,
accents, spaces) and are used as they are. Both are always quoted with ``quote_ident`` when SQL
is built, so neither can change a statement.

Headers are matched to columns by ``normalize``: ``DATA DA ÚLTIMA COMPRA`` fills the column
``data_da_ultima_compra``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Final

from libs.errors import UserError

IDENTIFIER: Final = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_SEPARATORS: Final = re.compile(r"[\W_]+")


def normalize(name: str) -> str:
    """The matching form of a header name or column name.

    Steps: NFKD (compatibility decomposition), drop combining marks (accents), lowercase, each
    run of characters that are not letters or digits (spaces, punctuation, ``_``) becomes one
    ``_``, then leading and trailing ``_`` are stripped. Letters without a decomposition (``ø``,
    ``ß``, CJK) are kept. ``"  DATA DA ÚLTIMA COMPRA "`` -> ``"data_da_ultima_compra"``;
    ``"Ticket (R$)"`` -> ``"ticket_r"``.
    """
    decomposed = unicodedata.normalize("NFKD", name)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SEPARATORS.sub("_", bare.lower()).strip("_")


def dataset_name(table: str) -> str:
    """A dataset name (allow-listed) for a reflected table: ``"Pedidos Ú"`` -> ``pedidos_u``,
    ``"2024 Orders"`` -> ``t_2024_orders``; ``table`` when nothing is left."""
    ascii_only = re.sub(r"[^a-z0-9_]+", "_", normalize(table)).strip("_")
    if ascii_only[:1].isdigit():
        ascii_only = "t_" + ascii_only
    return ascii_only[:63].rstrip("_") or "table"


def is_identifier(name: str) -> bool:
    """True when ``name`` passes the allow-list for names that come from files."""
    return IDENTIFIER.fullmatch(name) is not None


def check_identifier(name: str, what: str) -> str:
    """``name`` itself, or UserError naming ``what`` (e.g. "table", "field 3")."""
    if not is_identifier(name):
        raise UserError(f"{what} {name!r} is not a plain identifier "
                        f"(lowercase letters, digits, '_', at most 63, not starting with a digit)")
    return name


def quote_ident(name: str) -> str:
    """``name`` as a quoted SQL identifier (double quotes, inner quotes doubled).

    Raises ValueError for an empty name or one holding NUL, which PostgreSQL cannot store.
    """
    if not name or "\x00" in name:
        raise ValueError(f"{name!r} cannot be an SQL identifier")
    return '"' + name.replace('"', '""') + '"'


def qualified(table: str, schema: str | None = None) -> str:
    """The table name, schema-qualified when a schema is given; each part quoted."""
    return f"{quote_ident(schema)}.{quote_ident(table)}" if schema else quote_ident(table)


def quote_list(names: Iterable[str]) -> str:
    """A column list for SQL: each name quoted, joined by commas."""
    return ", ".join(quote_ident(name) for name in names)
