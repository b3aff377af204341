"""The bearer token (``INGEST_API_TOKEN``): every route but the health probes requires it."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.problems import Problem

_bearer = HTTPBearer(auto_error=False, description="INGEST_API_TOKEN")
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="csv-ingest"'}


def require_token(token: str | None) -> Callable[..., Awaitable[None]]:
    """A dependency that refuses (401 problem) a request without ``Authorization: Bearer
    <token>``, compared in constant time; with ``token`` None (127.0.0.1 only) it admits all."""
    expected = token.encode() if token is not None else None

    async def check(credentials: Annotated[HTTPAuthorizationCredentials | None,
                                           Depends(_bearer)]) -> None:
        if expected is None:
            return
        given = credentials.credentials.encode() if credentials is not None else b""
        if not secrets.compare_digest(given, expected):
            what = "wrong bearer token" if credentials is not None else "no bearer token"
            raise Problem(401, f"{what}: send Authorization: Bearer $INGEST_API_TOKEN",
                          "unauthorized", headers=CHALLENGE)

    return check
