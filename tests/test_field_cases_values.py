"""Field cases 05, 08 and 20 (../shared/field-cases/) through the real
producer and consumer: the stored values, the reasons and their lines, and the checker."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.pipeline import FIELD_CASES, assert_loaded_exactly, consume_burst, fetch, produce

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_tables")]

CASES = FIELD_CASES


async def load(path: Path, env: dict[str, str], database_url: str
               ) -> tuple[dict[int, Any], dict[int, Any]]:
    """Produce and consume ``path``; rows and rejects by line, after the checker agreed."""
    produced = produce(path, env)
    assert produced.rc == 0, produced.stderr
    consumed = consume_burst(env)
    assert consumed.rc == 0, consumed.stderr
    assert consumed.summary["status"] == "ok"
    assert consumed.summary["dead_lettered"] == 0
    await assert_loaded_exactly(database_url, [path], [produced.summary["job_id"]])
    rows = await fetch(database_url, "SELECT * FROM customers")
    rejects = await fetch(database_url, "SELECT * FROM ingest_rejects")
    return {r["line_no"]: r for r in rows}, {r["line_no"]: r for r in rejects}


async def test_05_unicode_digits_are_invalid_values_not_a_lost_batch(
        service_env: dict[str, str], database_url: str) -> None:
    rows, rejects = await load(CASES / "05-unicode-digits.csv", service_env, database_url)
    assert {line: r["reason"] for line, r in rejects.items()} == {
        3: "invalid_number", 4: "invalid_date", 5: "invalid_timestamp"}
    assert "\uff11\uff12\uff13.\uff14\uff15" in rejects[3]["detail"]
    assert "is not a date YYYY-MM-DD (ASCII digits)" in rejects[4]["detail"]
    assert {line: (r["email"], r["balance"]) for line, r in rows.items()} == {
        2: ("pia.quin@example.org", Decimal("11.00")),
        6: ("uma.vance@example.org", Decimal("14.00"))}


async def test_08_seven_to_nine_fraction_digits_load_rounded_as_postgresql_rounds(
        service_env: dict[str, str], database_url: str) -> None:
    rows, rejects = await load(CASES / "08-fraction-digits.csv", service_env, database_url)
    assert rejects == {}
    assert {line: r["signup_at"] for line, r in rows.items()} == {
        2: datetime(2006, 1, 2, 22, 4, 6, tzinfo=UTC),  # .9999999 carries into the second
        3: datetime(2020, 5, 12, 23, 41, 10, 61774, tzinfo=UTC),
        4: datetime(2021, 3, 3, 23, 36, 7, 123456, tzinfo=UTC)}
    assert rows[2]["balance"] == Decimal("19.00")


async def test_20_email_keys_nfc_trimmed_lowercased_trailing_dot_refused(
        service_env: dict[str, str], database_url: str) -> None:
    rows, rejects = await load(CASES / "20-email-normalization.csv", service_env, database_url)
    assert {line: (r["email"], r["balance"]) for line, r in rows.items()} == {
        2: ("anna.kowal+news@example.org", Decimal("40.00")),
        4: ("jos\u00e9.ruiz@b\u00fccher.example", Decimal("42.00")),
        7: ("li.mei@example.org", Decimal("45.00"))}
    assert {line: r["reason"] for line, r in rejects.items()} == {
        3: "duplicate_key", 5: "duplicate_key", 6: "invalid_email"}
    assert "already on line 2" in rejects[3]["detail"]  # the NBSP is trimmed
    assert "already on line 4" in rejects[5]["detail"]  # NFD and NFC: one key
    assert "ends its domain with a dot" in rejects[6]["detail"]
