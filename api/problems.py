"""Every error as ``application/problem+json`` (RFC 9457): type, title, status, detail, instance.

``Problem`` is raised by the routes; ``install`` maps it, FastAPI's validation errors (422),
Starlette's HTTP errors (404, 405, ...), a database that does not exist or is not migrated
(503, saying to run ``make migrate-db``: ``libs.db.not_migrated``, the producer's message too)
and anything unexpected (500, no detail) onto one shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, Final

import asyncpg
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.routing import Match

from libs.db import not_migrated, translate
from libs.errors import TransientError

log = structlog.get_logger("api")
METHODS: Final = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")

PROBLEM_JSON: Final = "application/problem+json"
TYPE_PREFIX: Final = "urn:csv-ingest:problem:"
RETRY_AFTER_S: Final = 5  # a 503 while PostgreSQL is unavailable (restarting, unreachable)

# The problem document as OpenAPI describes it (every 4XX and 5XX answer of every route).
SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "instance"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}
RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    code: {"description": what, "content": {PROBLEM_JSON: {"schema": SCHEMA}}}
    for code, what in (("4XX", "Client error (a problem document)"),
                       ("5XX", "Server error (a problem document)"))}


class Problem(Exception):
    """An error answer: ``status`` (HTTP), ``detail`` (one line, no secret), ``kind`` (the
    last part of the problem's type URI; None: about:blank), ``headers`` to send along."""

    def __init__(self, status: int, detail: str, kind: str | None = None, *,
                 headers: Mapping[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.detail, self.kind = status, detail, kind
        self.headers = dict(headers or {})
        self.extra = extra


def response(request: Request, status: int, detail: str, kind: str | None = None,
             headers: Mapping[str, str] | None = None, **extra: Any) -> JSONResponse:
    """The problem document for ``request``'s path (``instance``)."""
    body = {"type": TYPE_PREFIX + kind if kind else "about:blank",
            "title": HTTPStatus(status).phrase, "status": status, "detail": detail,
            "instance": request.url.path, **extra}
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """pydantic's errors without the input they echo (it may be large, or a secret)."""
    return [{"loc": [str(part) for part in error.get("loc", ())],
             "msg": str(error.get("msg", "")), "type": str(error.get("type", ""))}
            for error in errors]


def invalid(errors: Sequence[Any]) -> Problem:
    """A 422 problem listing pydantic's ``errors``."""
    listed = validation_errors(errors)
    detail = "; ".join(f"{'.'.join(e['loc']) or 'body'}: {e['msg']}" for e in listed)
    return Problem(422, detail or "invalid request", "invalid-request", errors=listed)


async def _problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return response(request, exc.status, exc.detail, exc.kind, exc.headers, **exc.extra)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = allowed(request)
    return response(request, exc.status_code, detail, None, headers)


def allowed(request: Request) -> str:
    """Every method of the request's path, over all its routes (Starlette's 405 names the
    first route's only: ``DELETE /v1/jobs`` said ``POST``, though ``GET`` is allowed too),
    comma-separated in name order. Each method is tried against the app's routes as they
    match (an included router's routes are matched through it)."""
    methods = set()
    for method in METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            methods.add(method)
    return ", ".join(sorted(methods))


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError | ValidationError)
    return await _problem(request, invalid(exc.errors()))


async def _database(request: Request, exc: Exception) -> JSONResponse:
    """A database without the tool's tables (or no database at all) is a 503 saying what to
    run, for every route alike; any other PostgreSQL error goes on to ``_unexpected``."""
    settings = getattr(request.app.state, "settings", None)
    error = not_migrated(exc, settings.postgres.url if settings is not None else "")
    if error is None:
        raise exc
    redact = getattr(request.app.state, "redact", lambda text: text)
    detail = redact(str(error))
    log.warning("database not migrated", path=request.url.path, error=detail)
    return response(request, 503, detail, "database-not-migrated")


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    redact = getattr(request.app.state, "redact", lambda text: text)
    if isinstance(exc, TransientError) or isinstance(translate(exc, ""), TransientError):
        log.warning("database unavailable", path=request.url.path,
                    error=redact(f"{type(exc).__name__}: {exc}"))
        return response(request, 503, "PostgreSQL is unavailable: retry later", "unavailable",
                        headers={"Retry-After": str(RETRY_AFTER_S)})
    log.error("unexpected error", path=request.url.path,
              error=redact(f"{type(exc).__name__}: {exc}"))
    return response(request, 500, "internal error (logged by the server)", "internal")


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` with a problem document."""
    app.add_exception_handler(Problem, _problem)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(ValidationError, _validation)
    app.add_exception_handler(asyncpg.PostgresError, _database)
    app.add_exception_handler(Exception, _unexpected)
