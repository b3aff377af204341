"""structlog set up once per process: JSON lines on a pipe, readable console on a terminal.

Library records (aiormq, aio_pika, asyncpg, asyncio: stdlib ``logging``) go through the same
renderer (structlog's ProcessorFormatter), at WARNING and above, so a log holds one kind of line.
"""

from __future__ import annotations

import logging
import sys
from typing import Final, Literal

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

LogFormat = Literal["auto", "json", "console"]
LIBRARY_LEVEL: Final = logging.WARNING


def _exception_in_one_line(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """A library record's exception as ``Type: message`` (its reconnect tracebacks are noise)."""
    exc_info = event_dict.pop("exc_info", None)
    if isinstance(exc_info, tuple) and exc_info[1] is not None:
        event_dict["error"] = f"{type(exc_info[1]).__name__}: {exc_info[1]}"
    elif isinstance(exc_info, BaseException):
        event_dict["error"] = f"{type(exc_info).__name__}: {exc_info}"
    return event_dict


def configure(level: str = "info", fmt: LogFormat = "auto") -> None:
    """Send every log line to stderr; stdout is kept for the one-line JSON result."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Processor = (
        structlog.processors.JSONRenderer() if use_json
        else structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
    )
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    _route_stdlib(renderer, max(numeric, LIBRARY_LEVEL), full_tracebacks=numeric <= logging.DEBUG)


def _route_stdlib(renderer: Processor, level: int, full_tracebacks: bool) -> None:
    """Render stdlib records (libraries) like ours, on stderr, from ``level`` up."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info if full_tracebacks else _exception_in_one_line,
        ],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
