"""The customers rules, one case per reason, and header planning."""

from __future__ import annotations

import random
import re
from datetime import date, datetime

import pytest

from libs.dataset import CUSTOMERS, InvalidValue, Reject, parse_date, parse_timestamp
from libs.errors import UserError

pytestmark = pytest.mark.unit

HEADER = ("email", "first_name", "last_name", "phone", "birth_date", "city", "country",
          "signup_at", "balance")
PLAN = CUSTOMERS.plan(HEADER)


def row(**values: str) -> list[str]:
    base = {"email": "a@b.co", "first_name": "A", "last_name": "B", "phone": "1",
            "birth_date": "2000-01-31", "city": "C", "country": "D",
            "signup_at": "2024-01-01T00:00:00Z", "balance": "1.50"}
    base.update(values)
    return [base[name] for name in HEADER]


def reason(**values: str) -> str:
    result = PLAN.validate(row(**values))
    assert isinstance(result, Reject), result
    return result.reason


def test_valid_row_is_typed_and_normalised() -> None:
    result = PLAN.validate(row(email="  Mixed.Case@Example.COM ", city="", balance=" -12"),
                           ("job", "7"))
    assert result == ("mixed.case@example.com", "A", "B", "1", "2000-01-31", "", "D",
                      "2024-01-01T00:00:00Z", "-12", "job", "7")


@pytest.mark.parametrize("email", ["no-at.example.com", "a@@b.co", "a@b@c.co", "@b.co",
                                   "a@bco", "a b@c.co", "a@b .co", ""])
def test_invalid_email(email: str) -> None:
    assert reason(email=email) == "invalid_email"


@pytest.mark.parametrize("value", ["2023-02-30", "2023-13-01", "2023-1-5", "05/01/2023",
                                   "20230105", "2023-W01-1", "x"])
def test_invalid_date(value: str) -> None:
    assert reason(birth_date=value) == "invalid_date"


def test_empty_date_timestamp_and_balance_are_null() -> None:
    result = PLAN.validate(row(birth_date=" ", signup_at="", balance=""))
    assert isinstance(result, tuple)
    assert result[4] == ""  # an unquoted empty field is NULL in a CSV COPY
    assert result[7] == ""
    assert result[8] == ""


@pytest.mark.parametrize(("value", "expected"), [
    ("2024-03-05", "2024-03-05"),
    (" 2024-03-05 10:11 ", "2024-03-05 10:11"),
    ("2024-03-05T10:11:12.5+02:00", "2024-03-05T10:11:12.5+02:00"),
    ("2024-03-05T10:11:12-0130", "2024-03-05T10:11:12-0130"),
    # PostgreSQL does not read offsets of 16 h and more: sent as the same instant in UTC
    ("2024-03-05T10:11:12+20:00", "2024-03-04T14:11:12+00:00"),
])
def test_valid_timestamps(value: str, expected: str) -> None:
    result = PLAN.validate(row(signup_at=value))
    assert isinstance(result, tuple)
    assert result[7] == expected


@pytest.mark.parametrize("value", ["2024-99-01T00:00:00", "yesterday", "2024-03-05T24:00:00",
                                   "2024-03-05T10", "20240305T101112",
                                   "2024-03-05T10:11:12.1234567"])
def test_invalid_timestamp(value: str) -> None:
    assert reason(signup_at=value) == "invalid_timestamp"


@pytest.mark.parametrize("value", ["12,50", "1.234", "1234567890123", "1e3", ".5", "5.", "--1"])
def test_invalid_number(value: str) -> None:
    assert reason(balance=value) == "invalid_number"


def test_first_broken_rule_wins_in_order() -> None:
    assert reason(email="bad", birth_date="bad", signup_at="bad", balance="bad") == "invalid_email"
    assert reason(birth_date="bad", signup_at="bad", balance="bad") == "invalid_date"
    assert reason(signup_at="bad", balance="bad") == "invalid_timestamp"


def test_wrong_column_count() -> None:
    result = PLAN.validate(["a@b.co"] * 8)
    assert isinstance(result, Reject)
    assert result.reason == "wrong_column_count"


def test_reordered_and_extra_columns() -> None:
    header = ("notes", *reversed(HEADER))
    plan = CUSTOMERS.plan(header)
    assert plan.extra == ("notes",)
    fields = ["x", *reversed(row())]
    assert plan.validate(fields) == PLAN.validate(row())


def test_missing_column_is_a_user_error_naming_it() -> None:
    with pytest.raises(UserError, match="phone"):
        CUSTOMERS.plan(tuple(name for name in HEADER if name != "phone"))


def _slow_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", value))


def test_fast_date_and_timestamp_paths_agree_with_the_full_check() -> None:
    rng = random.Random(7)
    for _ in range(20_000):
        day = (f"{rng.choice(['0000', '0001', '1999', '2024', '2023'])}-"
               f"{rng.randint(0, 13):02d}-{rng.randint(0, 32):02d}")
        try:
            got = parse_date(day) == day
        except InvalidValue:
            got = False
        assert got == _slow_date(day), day
        moment = (f"{day}T{rng.randint(0, 24):02d}:{rng.randint(0, 60):02d}:"
                  f"{rng.randint(0, 60):02d}{rng.choice(['', 'Z', '+15:59', '-16:00', '+02'])}")
        try:
            parse_timestamp(moment)
            accepted = True
        except InvalidValue:
            accepted = False
        try:
            datetime.fromisoformat(moment)
            valid = _slow_date(day)
        except ValueError:
            valid = False
        assert accepted == valid, moment
