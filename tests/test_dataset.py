"""The customers rules (datasets/customers.yaml through libs.schema), one case per reason,
and header planning."""

from __future__ import annotations

import random
import re
from datetime import date, datetime

import pytest

from libs.errors import UserError
from libs.schema import from_file
from libs.schema.cells import cell_for
from libs.schema.compile import Reject
from libs.schema.compile import plan as make_plan
from libs.schema.formats import parse_email
from libs.schema.temporal import datetime_parser, parse_date
from libs.schema.types import Invalid as InvalidValue

pytestmark = pytest.mark.unit

HEADER = ("email", "first_name", "last_name", "phone", "birth_date", "city", "country",
          "signup_at", "balance")
CUSTOMERS = from_file.load("customers")
PLAN = make_plan(CUSTOMERS, HEADER)
parse_timestamp = datetime_parser()
_balance = cell_for(CUSTOMERS, CUSTOMERS.get_field("balance"))
assert _balance is not None
parse_number = _balance


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


@pytest.mark.parametrize("value", ["2024-99-01T00:00:00", "yesterday", "2024-03-05T24:00:01",
                                   "2024-03-05T10", "20240305T101112",
                                   "2024-03-05T10:11:12.1234567890", "2024-03-05T10:11:12."])
def test_invalid_timestamp(value: str) -> None:
    assert reason(signup_at=value) == "invalid_timestamp"


@pytest.mark.parametrize("value", ["12,50", "1.234", "1234567890123", "1e3", ".", "5..", "--1"])
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
    plan = make_plan(CUSTOMERS, header)
    assert plan.extra == ("notes",)
    fields = ["x", *reversed(row())]
    assert plan.validate(fields) == PLAN.validate(row())


def test_missing_column_is_a_user_error_naming_it() -> None:
    with pytest.raises(UserError, match="phone"):
        make_plan(CUSTOMERS, tuple(name for name in HEADER if name != "phone"))


def _slow_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return bool(re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value))


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
        # Hours 24 and seconds 60 (valid for PostgreSQL, not for fromisoformat) are tested
        # against PostgreSQL itself in tests/test_schema_values_pg.py.
        moment = (f"{day}T{rng.randint(0, 23):02d}:{rng.randint(0, 60):02d}:"
                  f"{rng.randint(0, 59):02d}{rng.choice(['', '.5', '.1234567', '.123456789'])}"
                  f"{rng.choice(['', 'Z', '+15:59', '-16:00', '+02'])}")
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


def detail(**values: str) -> str:
    result = PLAN.validate(row(**values))
    assert isinstance(result, Reject), result
    return result.detail


# --- ASCII digits only (field case 05): \d, int() and fromisoformat take other digits -------

@pytest.mark.parametrize(("column", "value", "why"), [
    ("balance", "\uff11\uff12\uff13.\uff14\uff15", "invalid_number"),  # full-width
    ("balance", "\u0661\u0662\u0663", "invalid_number"),  # Arabic-Indic
    ("balance", "12.\u0665", "invalid_number"),
    ("birth_date", "\u0661\u0669\u0669\u0660-01-15", "invalid_date"),
    ("birth_date", "\uff11\uff19\uff19\uff10-01-15", "invalid_date"),
    ("birth_date", "1990-0\uff11-15", "invalid_date"),
    ("signup_at", "\uff12\uff10\uff12\uff11-03-04T10:00:00Z", "invalid_timestamp"),
    ("signup_at", "2021-03-04T10:00:0\u0660Z", "invalid_timestamp"),
    ("signup_at", "2021-03-04T10:00:00.\uff11Z", "invalid_timestamp"),
    ("signup_at", "2021-03-04T10:00:00+0\uff15:00", "invalid_timestamp"),
])
def test_only_ascii_digits(column: str, value: str, why: str) -> None:
    assert reason(**{column: value}) == why


def test_every_unicode_digit_is_refused() -> None:
    digits = [chr(cp) for cp in range(0x110000) if chr(cp).isdecimal() and cp >= 0x80]
    assert len(digits) > 500
    for digit in digits:
        for parse in (parse_number, parse_date, parse_timestamp):
            with pytest.raises(InvalidValue):
                parse(f"20{digit}4-01-01" if parse is not parse_number else f"1{digit}")


# --- 1 to 9 fractional digits (field case 08), rounded as PostgreSQL does -------------------

@pytest.mark.parametrize("value", [
    "2006-01-02T15:04:05.9999999-07:00", "2020-05-12T23:41:10.061774001Z",
    "2021-03-04T05:06:07.123456+05:30", "2021-03-04 05:06:07.12345678", "2021-03-04T05:06:07.1",
    "2023-02-28T23:59:59.999999999+15:59",
])
def test_seven_to_nine_fraction_digits_are_valid_and_sent_as_written(value: str) -> None:
    result = PLAN.validate(row(signup_at=value))
    assert isinstance(result, tuple)
    assert result[7] == value  # PostgreSQL rounds the fraction itself


def test_big_offset_sent_as_the_same_instant_in_utc() -> None:
    # PostgreSQL reads offsets below 16 h only; the fraction is kept as written (PostgreSQL
    # rounds it: ...59.9999996 is 04:00:00). libs.schema's rule (issue 11); issue 10's
    # libs/dataset.py rounded in Python to the same value.
    assert parse_timestamp("2024-03-05T23:59:59.9999996+20:00") == "2024-03-05T04:00:00+00:00"
    assert parse_timestamp("2024-03-05T10:11:12.12345649-18:00") == \
        "2024-03-06T04:11:12.123456+00:00"


def test_timestamp_details_say_what_is_wrong() -> None:
    # libs.schema's texts (issue 11): one per type, naming the column and the value.
    assert "not an ISO 8601 datetime" in detail(signup_at="2024-03-05T10:11:12.1234567890")
    assert "has a time of day after 24:00:00" in detail(signup_at="2024-03-05T24:00:01")
    assert "has day 30, but 2023-02 has 28 days" in detail(birth_date="2023-02-30")
    assert "'05/01/2023' is not a date YYYY-MM-DD (ASCII digits)" in detail(birth_date="05/01/2023")


# --- email keys (field case 20) -------------------------------------------------------------

@pytest.mark.parametrize(("value", "key"), [
    ("Anna.Kowal+News@Example.ORG", "anna.kowal+news@example.org"),
    ("  anna.kowal+news@example.org\u00a0 ", "anna.kowal+news@example.org"),  # NBSP
    ("\u3000\u2003a@b.co\u2009\t", "a@b.co"),  # ideographic, em and thin spaces
    ("jos\u00e9.ruiz@b\u00fccher.example", "jos\u00e9.ruiz@b\u00fccher.example"),  # NFC
    ("JOSE\u0301.RUIZ@BU\u0308CHER.EXAMPLE", "jos\u00e9.ruiz@b\u00fccher.example"),  # NFD
    ("STRASSE@X.DE", "strasse@x.de"),
    ("Stra\u00dfe@x.de", "stra\u00dfe@x.de"),  # str.lower keeps sharp s (casefold would not)
    ("\u0130@x.tr", "i\u0307@x.tr"),  # str.lower
    ("user@xn--bcher-kva.example", "user@xn--bcher-kva.example"),  # no IDNA either way
])
def test_email_key_is_nfc_trimmed_lowercased(value: str, key: str) -> None:
    assert parse_email(value) == key


def test_nfd_and_nfc_spellings_are_one_key() -> None:
    nfc, nfd = "jos\u00e9@b\u00fccher.example", "jose\u0301@bu\u0308cher.example"
    assert nfc != nfd
    assert parse_email(nfc) == parse_email(nfd) == nfc


@pytest.mark.parametrize(("value", "says"), [
    ("li.mei@example.org.", "ends its domain with a dot"),
    ("li.mei@example.org.\u00a0", "ends its domain with a dot"),
    ("a@b..co", "empty label"),
    ("a@.b.co", "empty label"),
    ("a@bco", "a domain without a dot"),
    ("a@", "empty domain"),
    ("@b.co", "empty local part"),
    ("a@@b.co", "has 2 '@'"),
    ("no-at.example.com", "has 0 '@'"),
    ("a b@c.co", "whitespace"),
    ("a\u00a0b@c.co", "whitespace"),
    ("", "is a missing value"),
    ("\u00a0", "is a missing value"),
])
def test_invalid_email_detail_is_true(value: str, says: str) -> None:
    assert reason(email=value) == "invalid_email"
    assert says in detail(email=value)


def _is_address(email: str) -> bool:
    local, at, domain = email.partition("@")
    labels = domain.split(".")
    return (bool(at) and bool(local) and "@" not in domain and len(labels) >= 2
            and all(labels) and not any(ch.isspace() for ch in email))


def test_email_pattern_agrees_with_the_rule_and_details_never_contradict_it() -> None:
    rng = random.Random(20)
    for _ in range(20_000):
        value = "".join(rng.choice("ab.@ \u00a0\u2003E") for _ in range(rng.randint(0, 9)))
        key = value.strip().lower()
        try:
            assert parse_email(value) == key
            detail = ""
        except InvalidValue as exc:
            detail = str(exc) or "rejected"
        assert "empty label" not in detail or ".." in key or "@." in key, value
        assert (not detail) == _is_address(key), repr(value)
