"""The bench's errors and exit codes."""

from __future__ import annotations

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class BenchError(Exception):
    """The pipeline failed, timed out or loaded a wrong count: exit 1."""


class UsageError(Exception):
    """Something the user can fix (missing generator, bad option): exit 2."""
