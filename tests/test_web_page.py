"""The web page's document and files in the app, without a browser: open without the token
(its data is not), accessible markup, nothing from elsewhere, only the listed static files, the
datasets list (its browser test: test_web.py)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from api import web
from api.app import create_app
from libs.settings import ApiSettings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "page-test-token-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


class _Markup(HTMLParser):
    """The tags of a document with their attributes, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """The API's app with a token, called in process (no server, no services: the routes
    here use none)."""
    app = create_app(ApiSettings(token=TOKEN, datasets_dir=ROOT / "datasets"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://page.test") as client:
        yield client


async def test_the_page_opens_without_the_token_its_data_does_not(
        client: httpx.AsyncClient) -> None:
    for path in ("/", "/static/app.js", "/static/app.css"):
        assert (await client.get(path)).status_code == 200, path
    refused = await client.get("/v1/datasets")
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")
    answer = await client.get("/v1/datasets", headers=BEARER)
    assert answer.status_code == 200
    assert [entry["name"] for entry in answer.json()["datasets"]] == \
        ["customers", "suppliers", "user_purchase"]


def _tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Markup()
    parser.feed(html)
    return parser.tags


async def test_page_is_served_with_a_strict_policy(client: httpx.AsyncClient) -> None:
    answer = await client.get("/")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in answer.headers["content-security-policy"]
    assert answer.text == (ROOT / "api" / "static" / "index.html").read_text()


async def test_every_control_has_a_label_and_every_column_a_header(
        client: httpx.AsyncClient) -> None:
    tags = _tags((await client.get("/")).text)
    labelled = {attrs["for"] for tag, attrs in tags if tag == "label"}
    controls = [attrs for tag, attrs in tags if tag in ("input", "select")]
    assert controls
    assert all(attrs["id"] in labelled for attrs in controls), controls
    headers = [attrs for tag, attrs in tags if tag == "th"]
    assert len(headers) == 8
    assert all(attrs.get("scope") == "col" for attrs in headers)
    assert ("html", {"lang": "en"}) in tags


@pytest.mark.parametrize("name", ["index.html", "app.js", "app.css"])
def test_nothing_is_fetched_from_elsewhere(name: str) -> None:
    text = (ROOT / "api" / "static" / name).read_text()
    assert re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, flags=re.IGNORECASE) == []


@pytest.mark.parametrize(("name", "media"), [("app.js", "text/javascript"),
                                             ("app.css", "text/css")])
async def test_static_files_are_served(client: httpx.AsyncClient, name: str, media: str) -> None:
    answer = await client.get(f"/static/{name}")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith(media)
    assert answer.content == (ROOT / "api" / "static" / name).read_bytes()


def _selectors_with(rules: list[tuple[str, str]], declaration: str) -> set[str]:
    return {s.strip() for sel, body in rules if declaration in body for s in sel.split(",")}


async def test_long_unbroken_names_wrap_in_their_cells_numbers_never(
        client: httpx.AsyncClient) -> None:
    """A 200-character file name made the table 2843 px wide: a job id or a file name breaks
    inside past a bounded width. Every cell breaking anywhere split "31,530.4" rows/s, states
    and "(100 %)" even at 1440 px: numbers, states and progress text do not break, and
    nothing breaks anywhere (test_web.py looks in a browser)."""
    css = re.sub(r"/\*.*?\*/", "", (await client.get("/static/app.css")).text, flags=re.S)
    rules = re.findall(r"([^{}]+)\{([^}]*)\}", css)
    assert _selectors_with(rules, "overflow-wrap: anywhere") == set()
    bounded = {".job-id > code", ".file > span"}
    assert bounded <= _selectors_with(rules, "overflow-wrap: break-word")
    assert bounded <= _selectors_with(rules, "max-width: 14rem")
    assert {".state", ".nowrap", "ul.reasons li", "a.rejects-csv"} <= \
        _selectors_with(rules, "white-space: nowrap")
    assert ".table-box" in _selectors_with(rules, "overflow-x: auto")


@pytest.mark.parametrize("name", ["index.html", "..%2Fweb.py", "missing.js", "%2E%2E"])
async def test_no_other_file_is_served(client: httpx.AsyncClient, name: str) -> None:
    assert (await client.get(f"/static/{name}")).status_code == 404


def test_dataset_list_names_the_bundled_datasets() -> None:
    listed = web.dataset_list(ROOT / "datasets").model_dump()["datasets"]
    assert [entry["name"] for entry in listed] == ["customers", "suppliers", "user_purchase"]
    assert listed[0] == {"name": "customers", "table": "customers", "key": ["email"],
                         "mode": "insert", "layout": "delimited"}
    assert all(set(entry) == {"name", "table", "key", "mode", "layout"} for entry in listed)


def test_dataset_list_leaves_out_a_file_that_does_not_load(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("table: [unclosed\n")
    (tmp_path / "customers.yaml").write_text((ROOT / "datasets" / "customers.yaml").read_text())
    assert [entry.name for entry in web.dataset_list(tmp_path).datasets] == ["customers"]
