"""The web page (``GET /``) and what it needs besides the jobs routes: its script and style
(``/static/app.js``, ``/static/app.css``, files of ``api/static/``) and the datasets a file can
be uploaded for (``GET /v1/datasets``).

The page is one static HTML document: it holds no data and no secret, so ``router`` (the page
and its two files) is served without the bearer token, as a browser cannot send one when it
opens a page; its script reads everything through the API with the token the user types
(kept in the tab's sessionStorage). ``datasets_router`` (``GET /v1/datasets``) is data: the
app includes it with the token, as the jobs routes. Nothing is fetched from elsewhere (a
Content-Security-Policy of ``'self'`` says so to the browser).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel

from libs.schema import catalog

STATIC: Final = Path(__file__).resolve().parent / "static"
# The static files served, by name, with their media type: nothing else under /static/.
ASSETS: Final = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
PAGE_HEADERS: Final = {
    "Content-Security-Policy": ("default-src 'self'; img-src 'self' data:; object-src 'none'; "
                                "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter()  # public: the page, its script and style
datasets_router = APIRouter(tags=["datasets"])  # behind the token


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def page() -> HTMLResponse:
    """The jobs page (text/html): a table of the jobs, an upload form."""
    return HTMLResponse((STATIC / "index.html").read_bytes(), headers=PAGE_HEADERS)


@router.get("/static/{name}", include_in_schema=False)
async def asset(name: str) -> Response:
    """``app.js`` or ``app.css`` of ``api/static/``; 404 for any other name."""
    media_type = ASSETS.get(name)
    if media_type is None:
        raise HTTPException(status_code=404, detail=f"no static file {name!r}")
    return Response((STATIC / name).read_bytes(), media_type=media_type,
                    headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})


class DatasetInfo(BaseModel):
    """A dataset a file can be uploaded for: its NAME (``dataset`` of ``POST /v1/jobs``), its
    table (``schema.table`` outside the search path), key columns, default load mode and
    layout."""

    name: str
    table: str
    key: list[str]
    mode: str
    layout: str


class DatasetList(BaseModel):
    """``GET /v1/datasets``: the datasets in name order."""

    datasets: list[DatasetInfo]


def dataset_list(directory: Path | None) -> DatasetList:
    """The datasets of ``directory`` (None: $INGEST_DATASETS_DIR, else datasets/) that load,
    in name order. A file that does not load is left out (``ingest datasets`` says why); no
    file path is given. UserError if the directory is missing."""
    found = []
    for entry in catalog.entries(directory):
        if entry.dataset is not None:
            found.append(DatasetInfo.model_validate(entry.as_dict()))
    return DatasetList(datasets=found)


@datasets_router.get("/v1/datasets", summary="The datasets a file can be uploaded for")
def datasets(request: Request) -> DatasetList:
    """See :func:`dataset_list`; the directory is the API's ``--datasets-dir`` (a plain
    function: FastAPI runs it in a thread, the files are read there)."""
    return dataset_list(request.app.state.settings.datasets_dir)
