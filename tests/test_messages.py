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
