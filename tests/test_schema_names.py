"""Header normalization, the identifier allow-list and SQL quoting."""

from __future__ import annotations

import pytest

from libs.errors import UserError
from libs.schema.names import (
    check_identifier,
    dataset_name,
    is_identifier,
    normalize,
    qualified,
    quote_ident,
    quote_list,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("name", "expected"), [
    ("DATA DA ÚLTIMA COMPRA", "data_da_ultima_compra"),
    ("  TICKET MÉDIO ", "ticket_medio"),
    ("LOJA MAIS FREQUÊNTE", "loja_mais_frequente"),
    ("email", "email"),
    ("First Name", "first_name"),
    ("first__name", "first_name"),
    ("__Id__", "id"),
    ("Ticket (R$) - total", "ticket_r_total"),
    ("ﬁle \uff2e\uff2f.", "file_no"),  # NFKD folds ligatures and full-width letters
    ("Ærø Straße", "ærø_straße"),  # letters without a decomposition are kept
    ("naïve café", "naive_cafe"),
    ("", ""),
    ("---", ""),
])
def test_normalize(name: str, expected: str) -> None:
    assert normalize(name) == expected


def test_normalize_is_idempotent() -> None:
    for name in ("DATA DA ÚLTIMA COMPRA", "a  b", "Ærø"):
        assert normalize(normalize(name)) == normalize(name)


@pytest.mark.parametrize(("name", "ok"), [
    ("customers", True), ("_x1", True), ("a" * 63, True), ("a" * 64, False), ("1a", False),
    ("Customers", False), ("a-b", False), ("a b", False), ("ção", False), ("", False),
    ('x"; DROP TABLE y; --', False),
])
def test_identifier_allow_list(name: str, ok: bool) -> None:
    assert is_identifier(name) is ok
    if not ok:
        with pytest.raises(UserError, match="not a plain identifier"):
            check_identifier(name, "table")


def test_quoting() -> None:
    assert quote_ident("Data Da Última") == '"Data Da Última"'
    assert quote_ident('say "hi"') == '"say ""hi"""'
    assert qualified("Orders", "Sales Dept") == '"Sales Dept"."Orders"'
    assert qualified("orders") == '"orders"'
    assert quote_list(["a", "B c"]) == '"a", "B c"'
    with pytest.raises(ValueError, match="identifier"):
        quote_ident("a\x00b")
    with pytest.raises(ValueError, match="identifier"):
        quote_ident("")


@pytest.mark.parametrize(("table", "expected"), [
    ("Pedidos Ú", "pedidos_u"), ("2024 Orders", "t_2024_orders"), ("Ærø", "r"), ("中文", "table"),
    ("x" * 80, "x" * 63),
])
def test_dataset_name_of_a_reflected_table(table: str, expected: str) -> None:
    assert dataset_name(table) == expected
    assert is_identifier(dataset_name(table))
