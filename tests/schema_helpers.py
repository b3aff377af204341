"""Helpers of the schema tests: one-field datasets and their validators."""

from __future__ import annotations

from typing import Any

from libs.schema.compile import Plan, Reject, plan
from libs.schema.model import Dataset


def one_field(field: dict[str, Any], **schema: Any) -> Plan:
    """The plan of a dataset whose only field is ``field`` (named ``v`` unless given)."""
    descriptor = {"name": "t", "schema": {"fields": [{"name": "v", **field}], **schema}}
    dataset = Dataset.from_descriptor(descriptor, "test")
    return plan(dataset, ["v"])


def outcome(p: Plan, value: str) -> str:
    """The stored text of ``value``, or ``reject:<reason>``."""
    result = p.validate([value])
    if isinstance(result, Reject):
        return f"reject:{result.reason}"
    return result[0]


def aligned_fields(header: str, line: str, names: list[str]) -> list[str]:
    """Split a whitespace-aligned line: each column starts where its header name starts."""
    starts = []
    at = 0
    for name in names:
        at = header.index(name, at)
        starts.append(at)
        at += len(name)
    ends = [*starts[1:], None]
    return [line[a:b].strip() for a, b in zip(starts, ends, strict=True)]
