"""A live ``ingest api`` (uvicorn, a subprocess) and consumers for the API's tests."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests import pipeline
from tests.ports import free_ports

TOKEN = "test-token-0123456789abcdef"
TERMINAL = frozenset({"succeeded", "succeeded_with_rejects", "failed", "aborted"})


@dataclass
class Api:
    url: str
    uploads: Path
    job_logs: Path
    proc: subprocess.Popen[str]

    def client(self, token: str | None = TOKEN) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def stop(self) -> pipeline.Run:
        self.proc.terminate()
        return pipeline.finish(self.proc, timeout=60)


def start_api(folder: Path, env: Mapping[str, str], **settings: str) -> Api:
    """``ingest api`` on a free port of 127.0.0.1 with the token, uploads and job logs under
    ``folder``; ``settings``: more variables (INGEST_URL_ALLOW=...). Ready once /healthz
    answers."""
    port = free_ports()
    full = {**env, "INGEST_API_PORT": str(port), "INGEST_API_TOKEN": TOKEN,
            "INGEST_UPLOADS_DIR": str(folder / "uploads"),
            "INGEST_API_JOB_LOGS_DIR": str(folder / "job-logs"), **settings}
    proc = pipeline.start("ingest", "api", env=full)
    api = Api(f"http://127.0.0.1:{port}", folder / "uploads", folder / "job-logs", proc)
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            run = pipeline.finish(proc)
            raise AssertionError(f"ingest api exited {run.rc}: {run.stderr[-2000:]}")
        try:
            if httpx.get(api.url + "/healthz", timeout=1).status_code == 200:
                return api
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("ingest api did not answer /healthz within 30 s")
        time.sleep(0.1)


def start_consumer(folder: Path, env: Mapping[str, str]) -> subprocess.Popen[str]:
    """A consumer (not burst: jobs arrive while it runs), once it consumes."""
    ready = folder / f"consumer-{time.monotonic_ns()}.ready"
    proc = pipeline.start("consumer", "--ready-file", str(ready), env=env)
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert proc.poll() is None, pipeline.finish(proc).stderr[-2000:]
        assert time.monotonic() < deadline, "consumer not consuming after 30 s"
        time.sleep(0.1)
    return proc


def wait_terminal(client: httpx.Client, status_url: str, within: float = 60) -> dict[str, Any]:
    """The job's status once its state is terminal."""
    deadline = time.monotonic() + within
    while True:
        answer = client.get(status_url)
        assert answer.status_code == 200, answer.text
        status: dict[str, Any] = answer.json()
        if status["state"] in TERMINAL:
            return status
        assert time.monotonic() < deadline, f"job still {status['state']} after {within}s"
        time.sleep(0.2)


def upload(client: httpx.Client, path: Path, dataset: str = "customers",
           headers: Mapping[str, str] | None = None, **fields: str) -> httpx.Response:
    with path.open("rb") as handle:
        return client.post("/v1/jobs", files={"file": (path.name, handle, "text/csv")},
                           data={"dataset": dataset, **fields}, headers=dict(headers or {}))


def assert_problem(answer: httpx.Response, status: int) -> dict[str, Any]:
    """``answer`` is an RFC 9457 problem document of ``status``; its body."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = answer.json()
    assert body["status"] == status
    assert {"type", "title", "detail", "instance"} <= set(body)
    return body
