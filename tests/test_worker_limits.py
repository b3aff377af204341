"""The consumer dead-letters a batch itself on its last allowed delivery (issue 10, kind 1):
then its summary says ``dead_lettered`` and ``--burst`` exits 1, instead of the broker
dead-lettering the batch silently on a requeue while the consumer says ``ok``."""

from __future__ import annotations

import pytest

from consumer.worker import DELIVERY_COUNT_HEADER, last_delivery

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("headers", "limit", "last"), [
    (None, 1, False),  # first delivery, one failure allowed: requeue
    ({}, 5, False),
    ({DELIVERY_COUNT_HEADER: 0}, 1, False),
    ({DELIVERY_COUNT_HEADER: 1}, 1, True),  # a second failure would pass the limit
    ({DELIVERY_COUNT_HEADER: 4}, 5, False),
    ({DELIVERY_COUNT_HEADER: 5}, 5, True),
    ({DELIVERY_COUNT_HEADER: 9}, 5, True),
    ({DELIVERY_COUNT_HEADER: "5"}, 5, False),  # not a count: the broker's limit still holds
    ({DELIVERY_COUNT_HEADER: True}, 1, False),
])
def test_last_delivery_follows_the_quorum_queue_count(headers: dict[str, object] | None,
                                                      limit: int, last: bool) -> None:
    assert last_delivery(headers, limit) is last
