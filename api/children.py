"""The producers this API spawns: ``python -m producer --file <stored> ... --job-file F``, the
same code as the command line. A POST waits (without blocking the loop) until the child has
registered its job (it writes F) or has exited; every child is awaited (reaped) in the
background, its output kept in the job logs directory. A child that exits non-zero after
registering its job leaves the job publishing: its last error line becomes the job's
``publish_error`` (``registry.set_publish_error``), so the client that got 202 can see why."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import Final

import asyncpg
import structlog

from api.models import JobOptions
from api.problems import Problem
from libs import constants as c
from libs import registry
from libs.settings import DATASETS_DIR_ENV, ApiSettings

log = structlog.get_logger("api")
POLL_S: Final = 0.05


def child_env(settings: ApiSettings, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The producer's environment: the API's, without INGEST_* (a job's choices come from the
    request only), plus the API's services, queue and datasets directory; JSON logs."""
    env = {k: v for k, v in environ.items() if not k.startswith("INGEST_")}
    env.update(AMQP_URL=settings.amqp.url, INGEST_QUEUE=settings.amqp.queue,
               INGEST_DELIVERY_LIMIT=str(settings.amqp.delivery_limit),
               DATABASE_URL=settings.postgres.url, REDIS_URL=settings.redis.url,
               INGEST_REDIS_PREFIX=settings.redis.prefix, LOG_FORMAT="json",
               PYTHONUNBUFFERED="1")
    env[DATASETS_DIR_ENV] = str(settings.datasets_dir.resolve())
    return env


def last_error(log_file: Path) -> str:
    """The child's one-line error (its last ``error: ...`` line), or a pointer to its log."""
    try:
        lines = log_file.read_text(errors="replace").splitlines()
    except OSError:
        lines = []
    for line in reversed(lines):
        if line.startswith("error: "):
            return line.removeprefix("error: ")
    return f"the producer failed (see {log_file.name} in the API's job logs)"


class Children:
    """Spawns producers and reaps them."""

    def __init__(self, settings: ApiSettings) -> None:
        self.s = settings
        self.running: set[asyncio.Task[int]] = set()
        self.pool: asyncpg.Pool | None = None  # set by the app once open (publish errors)

    async def submit(self, file: Path, source_name: str, options: JobOptions) -> str:
        """Publish ``file`` as a job; its id once registered. 422 problem: the producer
        refused it (exit 2, its error line); 503: it failed otherwise or took too long."""
        stem = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
        folder = self.s.job_logs_dir.resolve()
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        job_file, log_file = folder / f"{stem}.job.json", folder / f"{stem}.log"
        args = ["-m", "producer", f"--file={file}", f"--source-name={source_name}",
                f"--job-file={job_file}", "--no-progress", *options.producer_args()]
        registered: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        proc = await self._spawn(args, log_file, folder, registered)
        log.info("producer started", pid=proc.pid, log=str(log_file), dataset=options.dataset)
        try:
            job_id = await self._job_id(proc, job_file, log_file)
            registered.set_result(job_id)
            return job_id
        finally:
            if not registered.done():
                registered.set_result(None)
            with suppress(FileNotFoundError):
                await asyncio.to_thread(job_file.unlink)

    async def _spawn(self, args: list[str], log_file: Path, cwd: Path,
                     registered: asyncio.Future[str | None]) -> asyncio.subprocess.Process:
        out = await asyncio.to_thread(log_file.open, "ab")
        try:  # the child keeps its own copy of the descriptor
            proc = await asyncio.create_subprocess_exec(
                sys.executable, *args, stdin=asyncio.subprocess.DEVNULL, stdout=out,
                stderr=asyncio.subprocess.STDOUT, env=child_env(self.s), cwd=cwd,
                start_new_session=True)  # a Ctrl-C of the API does not cut a publish short
        finally:
            out.close()
        task = asyncio.create_task(self._reap(proc, log_file, registered))
        self.running.add(task)
        task.add_done_callback(self.running.discard)
        return proc

    async def _reap(self, proc: asyncio.subprocess.Process, log_file: Path,
                    registered: asyncio.Future[str | None]) -> int:
        code = await proc.wait()
        log.info("producer exited", pid=proc.pid, exit_code=code, log=log_file.name)
        job_id = await registered  # None: the POST failed, its answer said why
        if code != 0 and job_id is not None:
            await self._publish_error(job_id, log_file)
        return code

    async def _publish_error(self, job_id: str, log_file: Path) -> None:
        """The child's last error line as the job's publish_error (best effort: logged if
        PostgreSQL cannot take it)."""
        error = await asyncio.to_thread(last_error, log_file)
        try:
            if self.pool is None:
                raise RuntimeError("no database pool")
            async with self.pool.acquire() as conn:
                await registry.set_publish_error(conn, job_id, error)
        except Exception as exc:
            log.warning("could not record why the producer stopped", job_id=job_id,
                        error=str(exc) or type(exc).__name__)

    async def _job_id(self, proc: asyncio.subprocess.Process, job_file: Path,
                      log_file: Path) -> str:
        deadline = time.monotonic() + self.s.register_timeout
        while True:
            exited = proc.returncode is not None
            if await asyncio.to_thread(job_file.exists):
                text = await asyncio.to_thread(job_file.read_text)
                return str(json.loads(text)["job_id"])
            if exited:
                break
            if time.monotonic() > deadline:
                raise Problem(503, f"the producer did not register the job within "
                                   f"{self.s.register_timeout:g} s (it goes on: see "
                                   f"{log_file.name})", "producer-slow")
            await asyncio.sleep(POLL_S)
        error = await asyncio.to_thread(last_error, log_file)
        if proc.returncode == c.EXIT_USAGE:
            raise Problem(422, error, "producer-refused")
        raise Problem(503, f"the producer exited {proc.returncode}: {error}", "producer-failed")

    async def close(self, wait_s: float) -> None:
        """Wait up to ``wait_s`` for the running producers (they carry on afterwards)."""
        if self.running:
            log.info("waiting for producers", running=len(self.running), wait_s=wait_s)
            await asyncio.wait(set(self.running), timeout=wait_s)
        if self.running:
            log.warning("producers still running: they finish on their own",
                        running=len(self.running))
