"""The API's pure pieces: client file names, the producer's arguments, settings, the spool."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import get_args

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from api import models, problems
from api.models import JobOptions, request_digest
from api.storage import Spool, TooLarge, safe_name
from libs import formats
from libs.errors import UserError
from libs.settings import ApiSettings, parse_allow

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("given", "name"), [
    ("customers.csv", "customers.csv"),
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\me\\Desktop\\march.CSV", "march.CSV"),
    ("a\x00b\u200bc.csv", "abc.csv"),
    ("..", "upload.csv"),
    ("", "upload.csv"),
    (None, "upload.csv"),
])
def test_safe_name_is_never_a_path(given: str | None, name: str) -> None:
    assert safe_name(given) == name


def test_producer_args_are_one_token_each() -> None:
    options = JobOptions(dataset="customers", mode="upsert", atomic=True, max_errors=3,
                         delimiter="-x", no_header=False)
    assert options.producer_args() == ["--dataset=customers", "--mode=upsert", "--atomic",
                                       "--max-errors=3", "--delimiter=-x"]


@pytest.mark.parametrize("dataset", ["../customers", "/etc/x", "x.yaml", "a" * 64, ""])
def test_dataset_is_a_name_never_a_path(dataset: str) -> None:
    with pytest.raises(ValueError, match="dataset"):
        JobOptions(dataset=dataset)


def test_request_digest_follows_source_and_options() -> None:
    base = request_digest({"sha256": "ab"}, JobOptions(dataset="customers"))
    assert base == request_digest({"sha256": "ab"}, JobOptions(dataset="customers"))
    assert base != request_digest({"sha256": "ac"}, JobOptions(dataset="customers"))
    assert base != request_digest({"sha256": "ab"}, JobOptions(dataset="customers",
                                                                atomic=True))


def test_settings_refuse_another_host_without_token() -> None:
    with pytest.raises(UserError, match=r"serves 127\.0\.0\.1 only, not 0\.0\.0\.0"):
        ApiSettings(host="0.0.0.0")
    with pytest.raises(UserError, match="16 characters"):
        ApiSettings(token="short")
    assert "s3cret" not in repr(ApiSettings(host="0.0.0.0", token="s3cret-0123456789abc"))
    assert parse_allow(" A.com, *.b.org. ,,*") == ("a.com", "*.b.org", "*")


def test_spool_stores_by_content_and_refuses_past_the_limit(tmp_path: Path) -> None:
    async def run() -> None:
        spool = Spool(tmp_path, 10, "../x.CSV")
        await spool.write(b"12345")
        stored = await spool.finish()
        assert stored.path == tmp_path / (hashlib.sha256(b"12345").hexdigest())
        assert (stored.name, stored.size, stored.created) == ("x.CSV", 5, True)
        again = Spool(tmp_path, 10, "y.csv")
        await again.write(b"12345")
        assert (await again.finish()).created is False
        big = Spool(tmp_path, 10, "z.csv")
        await big.write(b"123456")
        with pytest.raises(TooLarge):
            await big.write(b"12345")
        await big.discard()

    asyncio.run(run())
    assert [p.name for p in tmp_path.iterdir()] == [hashlib.sha256(b"12345").hexdigest()]


@pytest.mark.parametrize(("error", "status", "kind"), [
    (ConnectionRefusedError(111, "Connection refused"), 503, "unavailable"),  # unreachable
    (asyncpg.CannotConnectNowError("the database system is starting up"), 503, "unavailable"),
    (asyncpg.InvalidCatalogNameError('database "nope" does not exist'), 503,
     "database-not-migrated"),
    (asyncpg.UndefinedTableError('relation "ingest_jobs" does not exist'), 503,
     "database-not-migrated"),
    (asyncpg.UndefinedColumnError('column "publish_error" does not exist'), 503,
     "database-not-migrated"),
    (asyncpg.PostgresSyntaxError('syntax error at or near "SELEC"'), 500, "internal"),
    (ValueError("a bug"), 500, "internal"),
])
def test_database_unavailable_or_not_migrated_is_a_503_problem_other_errors_a_500(
        error: Exception, status: int, kind: str) -> None:
    app = FastAPI()
    problems.install(app)

    @app.get("/boom")
    async def boom() -> None:
        raise error

    answer = asyncio.run(_get(app, "/boom"))
    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    assert (body["status"], body["type"]) == (status, problems.TYPE_PREFIX + kind)
    assert ("retry-after" in answer.headers) == (kind == "unavailable")  # migrating is not
    assert ("`make migrate-db`" in body["detail"]) == (kind == "database-not-migrated")


async def _get(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path)


def test_format_choices_are_the_producers() -> None:
    """The API's format and compression types name exactly the producer's choices."""
    assert get_args(models.FORMATS) == formats.FORMATS
    assert get_args(models.COMPRESSIONS) == formats.COMPRESSIONS
    args = JobOptions(dataset="customers", format="jsonl", compression="gzip").producer_args()
    assert args[-2:] == ["--format=jsonl", "--compression=gzip"]
