"""The web page (``GET /``): a placeholder, replaced by the web page's own module."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter()


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def index() -> str:
    return "<!doctype html><title>csv-ingest</title><p>csv-ingest API: see /openapi.json</p>"
