"""The bundled datasets load and validate their committed samples with the expected rejects."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from libs.schema import from_file
from libs.schema.compile import Reject, plan
from tests.schema_helpers import aligned_fields

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[1]
UP_HEADER = ["CPF", "PRIVATE", "INCOMPLETO", "DATA DA ÚLTIMA COMPRA", "TICKET MÉDIO",
             "TICKET DA ÚLTIMA COMPRA", "LOJA MAIS FREQUÊNTE", "LOJA DA ÚLTIMA COMPRA"]


def _csv_outcomes(name: str, sample: str) -> dict[int, object]:
    dataset = from_file.load(name)
    with (ROOT / sample).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    p = plan(dataset, rows[0])
    return {line: p.validate(row) for line, row in enumerate(rows[1:], start=2)}


def _reasons(outcomes: dict[int, object]) -> dict[int, str]:
    return {line: r.reason for line, r in outcomes.items() if isinstance(r, Reject)}


def test_customers_keeps_todays_rejects() -> None:
    outcomes = _csv_outcomes("customers", "data/customers_sample.csv")
    # README: one each of wrong_column_count, invalid_email, invalid_date, invalid_timestamp,
    # invalid_number (duplicate_key is the loader's).
    assert _reasons(outcomes) == {14: "invalid_timestamp", 15: "invalid_date",
                                  16: "invalid_number", 18: "invalid_email",
                                  25: "wrong_column_count"}
    assert outcomes[2] == ("alice.martin@example.com", "Alice", "Martin", "+33 6 12 34 56 78",
                           "1988-04-12", "Paris", "FR", "2023-01-15T09:30:00Z", "120.50")
    assert outcomes[28][0] == "alice.martin@example.com"  # same key as line 2


def test_suppliers_sample() -> None:
    outcomes = _csv_outcomes("suppliers", "data/suppliers_sample.csv")
    assert _reasons(outcomes) == {6: "invalid_uuid", 7: "pattern_mismatch", 8: "missing_value",
                                  9: "invalid_boolean", 10: "not_in_enum",
                                  11: "wrong_column_count", 12: "missing_value"}
    assert len(outcomes) == 21  # lines 14-22 repeat keys for merge mode: valid records
    assert outcomes[3] == ("6f9619ff-8b86-d011-b42d-00c04fc964ff", "BOL-0002",
                           "Bolts & Nuts, Ltda", "true", "true", "false", "I")


def test_user_purchase_sample() -> None:
    dataset = from_file.load("user_purchase")
    assert dataset.layout == "aligned"
    lines = (ROOT / "data/user_purchase_sample.txt").read_text(encoding="utf-8").splitlines()
    p = plan(dataset, UP_HEADER)  # header names matched after normalization
    assert p.columns == dataset.field_names
    outcomes = {n: p.validate(aligned_fields(lines[0], line, UP_HEADER))
                for n, line in enumerate(lines[1:], start=2)}
    assert outcomes[2] == ("15881399803", "false", "false", "", "", "", "", "")
    assert outcomes[3] == ("69879730917", "false", "false", "2013-05-13", "1090.00", "299.99",
                           "11417075000199", "36455681000120")
    assert outcomes[7] == ("76804571746", "true", "true", "2013-04-02", "1234567.89", "99.90",
                           "84726714000171", "")
    assert _reasons(outcomes) == {5: "invalid_cpf", 6: "invalid_date"}
    # Line 6 breaks two rules, the date (4th column) and the last store's CNPJ (8th): the
    # first broken rule in field order wins, so its reason is invalid_date.
    six = outcomes[6]
    assert isinstance(six, Reject)
    assert six.detail.startswith("data_da_ultima_compra: '2013-02-30'")
    fields = aligned_fields(lines[0], lines[5], UP_HEADER)
    fields[3] = "2013-02-28"
    later = p.validate(fields)
    assert isinstance(later, Reject)
    assert (later.reason, later.detail[:22]) == ("invalid_cnpj", "loja_da_ultima_compra:")
