"""``POST /v1/jobs``'s work: take the file (an upload, or a URL fetched), honour the
Idempotency-Key, check the dataset, and hand the file to a producer (api.children)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any, Final, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from api import fetch, idempotency, problems
from api.children import Children
from api.models import JobOptions, UrlJob, request_digest
from api.multipart import read_form
from api.problems import Problem
from api.storage import Stored, TooLarge, safe_name, spooled
from libs.schema import from_file
from libs.settings import ApiSettings

M = TypeVar("M", bound=BaseModel)
FORM_OVERHEAD: Final = 64 << 10  # a form's bytes besides the file: boundaries, fields


def validated(model: type[M], data: Any) -> M:
    """``model`` validated from ``data``; 422 problem listing what is wrong."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise problems.invalid(exc.errors()) from exc


class Uploads:
    """Stored files this process is working on: a file this request created is removed if
    its job was never registered, unless another request is using it too."""

    def __init__(self) -> None:
        self.held: Counter[Path] = Counter()

    @asynccontextmanager
    async def hold(self, stored: Stored) -> AsyncIterator[None]:
        self.held[stored.path] += 1
        try:
            yield
        except BaseException:
            self.held[stored.path] -= 1
            if self.held[stored.path] <= 0:
                del self.held[stored.path]
                if stored.created:
                    with suppress(FileNotFoundError):
                        await asyncio.to_thread(stored.path.unlink)
            raise
        self.held[stored.path] -= 1
        if self.held[stored.path] <= 0:
            del self.held[stored.path]


def _state(request: Request) -> tuple[ApiSettings, Children, Uploads]:
    state = request.app.state
    return state.settings, state.children, state.uploads


async def upload(request: Request, ctype: str) -> tuple[str, bool]:
    """(job id, replayed) for a multipart upload."""
    settings, _, uploads = _state(request)
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > settings.max_upload_bytes + FORM_OVERHEAD:
        raise TooLarge(settings.max_upload_bytes)
    key = idempotency.check_key(request.headers.get("idempotency-key"))
    async with request.app.state.inflight.hold(key):
        fields, stored = await read_form(ctype, request.stream(), settings.uploads_dir,
                                         settings.max_upload_bytes)
        async with uploads.hold(stored):
            options = validated(JobOptions, {k: v for k, v in fields.items() if v != ""})
            digest = request_digest({"sha256": stored.digest, "name": stored.name}, options)
            return await _submit(request, key, digest, stored.path, stored.name, options)


async def from_url(request: Request, body: Any) -> tuple[str, bool]:
    """(job id, replayed) for a JSON body with a URL."""
    settings, _, uploads = _state(request)
    job = validated(UrlJob, body)
    key = idempotency.check_key(request.headers.get("idempotency-key"))
    name = safe_name(job.name or fetch.name_of(job.url))
    digest = request_digest({"url": job.url, "name": name}, job)
    async with request.app.state.inflight.hold(key):
        if key is not None and (known := await _known(request, key, digest)) is not None:
            return known, True
        await _check_dataset(settings, job.dataset)
        async with spooled(settings.uploads_dir, settings.max_upload_bytes, name) as spool:
            await fetch.fetch(job.url, settings.url_allow, spool)
            stored = await spool.finish()
        async with uploads.hold(stored):
            return await _submit(request, key, digest, stored.path, name, job)


async def _known(request: Request, key: str, digest: str) -> str | None:
    async with request.app.state.pool.acquire() as conn:
        return await idempotency.known_job(conn, key, digest)


async def _check_dataset(settings: ApiSettings, name: str) -> None:
    known = await asyncio.to_thread(from_file.known, settings.datasets_dir)
    if name not in known:
        raise Problem(422, f"unknown dataset {name!r} (known: {', '.join(known) or 'none'})",
                      "unknown-dataset")


async def _submit(request: Request, key: str | None, digest: str, path: Path, name: str,
                  options: JobOptions) -> tuple[str, bool]:
    settings, children, _ = _state(request)
    if key is not None and (known := await _known(request, key, digest)) is not None:
        return known, True
    await _check_dataset(settings, options.dataset)
    job_id = await children.submit(path, name, options)
    if key is None:
        return job_id, False
    async with request.app.state.pool.acquire() as conn:
        recorded = await idempotency.remember(conn, key, digest, job_id)
    return recorded, recorded != job_id
