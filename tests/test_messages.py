"""The batch message format and redaction of secrets."""

from __future__ import annotations

import pytest

from libs import constants as c
from libs.errors import PoisonMessage
from libs.messages import Batch, decode
from libs.settings import redact_text, redact_url

pytestmark = pytest.mark.unit

BATCH = Batch("customers-abc", "customers", 3, 10, 19, 10, ("email", "x"), "f.csv", b"a,b\n")


def test_round_trip() -> None:
    assert decode(BATCH.headers(), BATCH.body) == BATCH
    assert BATCH.message_id == "customers-abc:10-19"


def test_columns_without_a_name_travel_as_empty_strings() -> None:
    batch = Batch("customers-abc", "customers", 0, 2, 2, 1, ("email", "", "x", ""), "f.csv",
                  b"a,,b,\n")
    assert decode(batch.headers(), batch.body).columns == ("email", "", "x", "")


@pytest.mark.parametrize(("key", "value"), [
    (c.H_VERSION, 99), (c.H_VERSION, None), (c.H_JOB, ""), (c.H_SEQ, "3"),
    (c.H_FIRST_LINE, -1), (c.H_COLUMNS, "email"), (c.H_LAST_LINE, 5), (c.H_COLUMNS, []),
    (c.H_COLUMNS, ["email", 3]),
])
def test_undecodable_messages_are_poison(key: str, value: object) -> None:
    headers = BATCH.headers()
    headers[key] = value
    with pytest.raises(PoisonMessage):
        decode(headers, BATCH.body)


def test_no_headers_is_poison() -> None:
    with pytest.raises(PoisonMessage):
        decode(None, b"x")


def test_redaction() -> None:
    url = "amqp://user:s3cret@host:5672/vh"
    assert redact_url(url) == "amqp://user:***@host:5672/vh"
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert "s3cret" not in redact_text(f"failed to reach {url}: s3cret rejected", url)


FINGERPRINT = "0123456789abcdef" * 4
BATCH_V2 = Batch("orders-abc", "orders", 0, 2, 3, 2, ("id",), "o.csv", b"1\n2\n", FINGERPRINT)


def test_version_2_carries_the_fingerprint() -> None:
    headers = BATCH_V2.headers()
    assert headers[c.H_VERSION] == 2 == c.SCHEMA_VERSION
    assert headers[c.H_FINGERPRINT] == FINGERPRINT
    assert decode(headers, BATCH_V2.body) == BATCH_V2


def test_version_1_messages_still_decode() -> None:
    """As a producer of the previous version wrote them: no fingerprint header."""
    headers = {c.H_VERSION: 1, c.H_JOB: "customers-abc", c.H_DATASET: "customers",
               c.H_SEQ: 0, c.H_FIRST_LINE: 2, c.H_LAST_LINE: 2, c.H_RECORDS: 1,
               c.H_COLUMNS: ["email"], c.H_SOURCE: "f.csv"}
    batch = decode(headers, b"a@b.c\n")
    assert batch.fingerprint == ""
    assert batch.version == 1
    assert (batch.job_id, batch.dataset, batch.columns) == ("customers-abc", "customers",
                                                            ("email",))
    assert BATCH.headers()[c.H_VERSION] == 1, "a Batch without a fingerprint is written as v1"
    assert c.H_FINGERPRINT not in BATCH.headers()


@pytest.mark.parametrize("value", [None, "", "abc", FINGERPRINT.upper(), FINGERPRINT + "0", 7])
def test_version_2_without_a_valid_fingerprint_is_poison(value: object) -> None:
    headers = BATCH_V2.headers()
    headers[c.H_FINGERPRINT] = value
    with pytest.raises(PoisonMessage, match=c.H_FINGERPRINT):
        decode(headers, BATCH_V2.body)


def test_version_true_is_not_version_1() -> None:
    headers = BATCH.headers()
    headers[c.H_VERSION] = True
    with pytest.raises(PoisonMessage, match="schema version"):
        decode(headers, BATCH.body)


def test_a_header_less_file_starts_at_line_1() -> None:
    batch = Batch("x-abc", "x", 0, 1, 1, 1, ("a",), "f.csv", b"1\n", FINGERPRINT)
    assert decode(batch.headers(), batch.body).first_line == 1
