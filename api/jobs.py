"""``/v1/jobs``: submit a file (upload or URL), list jobs, a job's status, its rejects, abort."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Annotated, Any, Final, Literal
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from api import problems, submit
from api.models import JobAccepted, post_jobs_openapi
from api.problems import Problem
from libs import jobstatus, registry
from libs.errors import UserError
from libs.rejects import charset, export

router = APIRouter(prefix="/v1/jobs", tags=["jobs"], responses=problems.RESPONSES)
NO_NUL: Final = r"^[^\x00]*$"  # PostgreSQL text holds no NUL: a 422, not a 500
JobId = Annotated[str, Path(min_length=1, max_length=300, pattern=NO_NUL)]
STATE_PATTERN: Final = "^(" + "|".join(jobstatus.STATES) + ")$"
MAX_JSON_BYTES: Final = 64 << 10
MEDIA: Final = {"csv": "text/csv", "jsonl": "application/x-ndjson"}  # + the job's charset


def _unknown(job_id: str) -> Problem:
    return Problem(404, f"no job {job_id}", "unknown-job")


def compat(status: dict[str, Any]) -> dict[str, Any]:
    """The status with the earlier upload service's fields: total_parts (batches),
    completed_parts (batches loaded or dead-lettered), success_count (loaded),
    failed_count (dead-lettered)."""
    parts = status["parts"]
    return {**status, "total_parts": parts["total"],
            "completed_parts": parts["done"] + parts["failed"],
            "success_count": parts["done"], "failed_count": parts["failed"]}


@router.post("", status_code=202, response_model=JobAccepted, openapi_extra=post_jobs_openapi(),
             summary="Submit a file: a multipart upload, or JSON with a URL")
async def post_job(request: Request, response: Response) -> JobAccepted:
    """Store the file (content-addressed, bounded), publish it with the producer, answer the
    job and its status URL (Location) once the job is registered."""
    ctype = request.headers.get("content-type", "")  # its boundary is case-sensitive
    media = ctype.split(";", 1)[0].strip().lower()
    if media == "multipart/form-data":
        job_id, replayed = await submit.upload(request, ctype)
    elif media == "application/json":
        job_id, replayed = await submit.from_url(request, await _json(request))
    else:
        raise Problem(415, "send multipart/form-data (a file) or application/json (a url)",
                      "unsupported-media-type")
    status = await _status(request, job_id)
    url = str(request.url_for("get_job", job_id=job_id))
    response.headers["Location"] = url
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    totals = status["totals"]
    return JobAccepted(job_id=job_id, status_url=url, state=status["state"],
                       records=totals["records"], batches=totals["batches"],
                       batch_size=totals["batch_size"])


async def _json(request: Request) -> Any:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_JSON_BYTES:
            raise Problem(413, f"a JSON body is at most {MAX_JSON_BYTES} bytes", "too-large")
    try:
        return json.loads(body)
    except ValueError as exc:
        raise Problem(400, f"the body is not JSON: {exc}", "malformed-body") from exc


async def _status(request: Request, job_id: str, parts: bool = False) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        found = await jobstatus.job_status(conn, job_id, parts=parts)
    if found is None:
        raise _unknown(job_id)
    result: dict[str, Any] = found.as_dict()
    return result


@router.get("", summary="Jobs, newest first")
async def list_jobs(request: Request,
                    state: Annotated[str | None, Query(pattern=STATE_PATTERN)] = None,
                    dataset: Annotated[str | None, Query(max_length=200, pattern=NO_NUL)] = None,
                    limit: Annotated[int, Query(ge=1, le=500)] = jobstatus.DEFAULT_LIMIT,
                    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0) -> dict[str, Any]:
    """``{"jobs": [status, ...], "limit", "offset"}``; dry runs are not listed."""
    async with request.app.state.pool.acquire() as conn:
        found = await jobstatus.list_jobs(conn, state=state, dataset=dataset, limit=limit,
                                          offset=offset)
    return {"jobs": [compat(job.as_dict()) for job in found], "limit": limit, "offset": offset}


@router.get("/{job_id}", summary="A job's status, with its parts (batches)")
async def get_job(request: Request, job_id: JobId) -> dict[str, Any]:
    """The job's lifecycle status (libs.jobstatus) with ``parts.items``, plus the upload
    service's total_parts, completed_parts, success_count and failed_count."""
    return compat(await _status(request, job_id, parts=True))


@router.get("/{job_id}/rejects", summary="The job's rejects (the failures dataset), streamed",
            response_class=StreamingResponse,
            responses={200: {"content": {MEDIA["csv"]: {}, MEDIA["jsonl"]: {}},
                             "description": "The rejects in line order."}})
async def get_rejects(request: Request, job_id: JobId,
                      format: Literal["csv", "jsonl"] = "csv") -> StreamingResponse:
    """CSV: ``_line, _reason, _detail`` then the file's columns as read; JSON lines: one object
    per reject. An attachment named after the job (404 for an unknown one: the export's
    first read says so)."""
    stack = AsyncExitStack()
    conn = await stack.enter_async_context(request.app.state.pool.acquire())
    stream = export(conn, job_id, format)
    stack.push_async_callback(_close, stream)
    try:
        media = f"{MEDIA[format]}; charset={await charset(conn, job_id, format)}"
        first = await anext(aiter(stream), b"")
    except UserError as exc:
        await stack.aclose()
        raise _unknown(job_id) from exc
    except BaseException:
        await stack.aclose()
        raise
    name = f"{_ascii_name(job_id)}.rejects.{format}"
    disposition = f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(job_id)}" \
                  f".rejects.{format}"
    return StreamingResponse(_body(first, stream, stack), media_type=media,
                             headers={"Content-Disposition": disposition})


async def _close(stream: AsyncIterator[bytes]) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()


async def _body(first: bytes, stream: AsyncIterator[bytes],
                stack: AsyncExitStack) -> AsyncIterator[bytes]:
    try:
        if first:
            yield first
        async for chunk in stream:
            yield chunk
    finally:
        await stack.aclose()


def _ascii_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)[:200]


@router.post("/{job_id}/abort", summary="Stop a job")
async def abort_job(request: Request, job_id: JobId) -> dict[str, Any]:
    """Batches not loaded yet are skipped, an atomic job is not applied. ``{"job_id",
    "aborted"}`` (false: it had stopped already) and its ``state`` now."""
    await _status(request, job_id)
    async with request.app.state.pool.acquire() as conn:
        done = await registry.abort(conn, job_id)
    state = (await _status(request, job_id))["state"]
    return {"job_id": job_id, "aborted": done, "state": state}
