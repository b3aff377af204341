"""libs/logging.py: library records (stdlib logging) come out like ours, one line each."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from libs.logging import configure

pytestmark = pytest.mark.unit


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


@pytest.mark.usefixtures("restored_logging")
def test_library_records_are_json_lines_like_ours(capsys: pytest.CaptureFixture[str]) -> None:
    configure("info", "json")
    library = logging.getLogger("aio_pika.robust_connection")
    try:
        raise ConnectionRefusedError(111, "Connect call failed")
    except ConnectionRefusedError:
        library.warning("Connection attempt to %s failed", "amqp://x", exc_info=True)
    library.info("below the library level: not shown")
    structlog.get_logger("producer").info("ours", rows=3)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2, lines
    theirs, ours = (json.loads(line) for line in lines)
    assert theirs["event"] == "Connection attempt to amqp://x failed"
    assert theirs["level"] == "warning"
    assert theirs["logger"] == "aio_pika.robust_connection"
    assert theirs["error"] == "ConnectionRefusedError: [Errno 111] Connect call failed"
    assert "Traceback" not in lines[0]
    assert set(theirs) == {"event", "level", "logger", "timestamp", "error"}
    assert ours["event"] == "ours"
    assert ours["rows"] == 3
    assert {"level", "timestamp"} <= set(ours)
