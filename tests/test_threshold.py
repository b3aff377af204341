"""The threshold arithmetic: the ratio as the decimal the user wrote."""

from __future__ import annotations

import pytest

from libs.load.threshold import Threshold


@pytest.mark.parametrize(("ratio", "records", "at_limit"), [
    (0.29, 100, 29), (0.1, 30, 3), (0.7, 10, 7), (0.3, 10, 3), (1.0, 5, 5), (0.0, 9, 0)])
def test_exactly_at_the_ratio_is_not_crossed(ratio: float, records: int, at_limit: int) -> None:
    """0.29 x 100 is 28.999999999999996 in binary floating point: 29 rejects must pass."""
    threshold = Threshold(max_error_ratio=ratio)
    assert threshold.crossed(at_limit, records) is None
    assert threshold.crossed(at_limit + 1, records) is not None


def test_max_errors_is_inclusive() -> None:
    threshold = Threshold(max_errors=3)
    assert threshold.crossed(3, None) is None
    assert threshold.crossed(4, None) is not None
