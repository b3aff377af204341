"""The HTTP API end to end: a live ``ingest api``, real consumers, real services."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.apiserver import (
    TOKEN,
    Api,
    assert_problem,
    start_api,
    start_consumer,
    upload,
    wait_terminal,
)
from tests.pipeline import (
    ROOT,
    customers_rows,
    drop_database,
    execute,
    fetch,
    run_cli,
    with_database,
    write_csv,
)

pytestmark = pytest.mark.integration
SAMPLE = ROOT / "data" / "customers_sample.csv"  # 40 records, 6 rejects (README)
REASONS = ("wrong_column_count", "invalid_email", "invalid_date", "invalid_timestamp",
           "invalid_number", "duplicate_key")


@pytest.fixture
def api(tmp_path: Path, service_env: dict[str, str], clean_tables: None) -> Iterator[Api]:
    server = start_api(tmp_path, service_env)
    yield server
    server.stop()


def test_upload_poll_rejects_and_metrics(api: Api, tmp_path: Path,
                                         service_env: dict[str, str]) -> None:
    start_consumer(tmp_path, service_env)
    with api.client() as client:
        answer = upload(client, SAMPLE, batch_size="10")
        assert answer.status_code == 202, answer.text
        body = answer.json()
        assert set(body) == {"job_id", "status_url", "state", "records", "batches",
                             "batch_size"}
        assert answer.headers["location"] == body["status_url"]
        assert body["status_url"].endswith(f"/v1/jobs/{body['job_id']}")
        status = wait_terminal(client, body["status_url"])
        assert status["state"] == "succeeded_with_rejects"
        assert status["source"]["name"] == "customers_sample.csv"
        assert (status["totals"]["records"], status["totals"]["batch_size"]) == (40, 10)
        assert (status["counts"]["inserted"], status["counts"]["rejected"]) == (34, 6)
        assert (status["total_parts"], status["completed_parts"], status["success_count"],
                status["failed_count"]) == (4, 4, 4, 0)
        assert [item["status"] for item in status["parts"]["items"]] == ["done"] * 4

        digest = hashlib.sha256(SAMPLE.read_bytes()).hexdigest()
        copy = tmp_path / "same bytes.txt"  # another name and suffix: the same stored file
        copy.write_bytes(SAMPLE.read_bytes())
        again = upload(client, copy, batch_size="10")
        assert (again.status_code, again.json()["job_id"]) == (202, body["job_id"])
        assert [p.name for p in api.uploads.iterdir()] == [digest]

        rejects = client.get(f"/v1/jobs/{body['job_id']}/rejects", params={"format": "csv"})
        assert rejects.status_code == 200
        assert rejects.headers["content-type"].startswith("text/csv")
        assert rejects.headers["content-disposition"].startswith("attachment; filename=")
        rows = list(csv.reader(io.StringIO(rejects.text)))
        header = SAMPLE.read_text().splitlines()[0].split(",")
        assert rows[0] == ["_line", "_reason", "_detail", *header]
        assert sorted(row[1] for row in rows[1:]) == sorted(REASONS)
        lines = client.get(f"/v1/jobs/{body['job_id']}/rejects", params={"format": "jsonl"})
        assert lines.headers["content-type"].startswith("application/x-ndjson")
        assert len([json.loads(line) for line in lines.text.splitlines()]) == 6
        assert client.get(f"/v1/jobs/{body['job_id']}/rejects",
                          params={"format": "xml"}).status_code == 422

        listed = client.get("/v1/jobs", params={"state": "succeeded_with_rejects"}).json()
        assert [job["job_id"] for job in listed["jobs"]] == [body["job_id"]]
        assert client.get("/v1/jobs", params={"state": "loading"}).json()["jobs"] == []
        assert_problem(client.get("/v1/jobs", params={"state": "bogus"}), 422)

        metrics = client.get("/metrics")
        assert metrics.status_code == 200
        text = metrics.text
        assert 'ingest_jobs{state="succeeded_with_rejects"} 1.0' in text
        assert ('ingest_api_http_requests_total{method="POST",route="/v1/jobs",status="202"} 2.0'
                in text)
        assert ('ingest_api_http_request_duration_seconds_count{method="GET",'
                'route="/v1/jobs/{job_id}"}') in text


def test_abort_and_unknown_jobs(api: Api, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "to-abort.csv", customers_rows(30))
    with api.client() as client:  # no consumer: the job stays loading
        body = upload(client, path, batch_size="10").json()
        aborted = client.post(f"/v1/jobs/{body['job_id']}/abort")
        assert aborted.status_code == 200, aborted.text
        assert aborted.json() == {"job_id": body["job_id"], "aborted": True, "state": "aborted"}
        again = client.post(f"/v1/jobs/{body['job_id']}/abort").json()
        assert (again["aborted"], again["state"]) == (False, "aborted")
        assert client.get(body["status_url"]).json()["state"] == "aborted"
        for answer in (client.get("/v1/jobs/customers-nope"),
                       client.post("/v1/jobs/customers-nope/abort"),
                       client.get("/v1/jobs/customers-nope/rejects")):
            assert assert_problem(answer, 404)["instance"].startswith("/v1/jobs/customers-nope")
        assert_problem(client.get("/no/such/route"), 404)
        assert_problem(client.delete("/v1/jobs"), 405)


def test_a_405_allows_every_method_of_its_path(api: Api) -> None:
    with api.client() as client:
        for method, path, allow in [("DELETE", "/v1/jobs", "GET, POST"),
                                    ("PUT", "/v1/jobs/some-job", "GET"),
                                    ("GET", "/v1/jobs/some-job/abort", "POST"),
                                    ("POST", "/v1/jobs/some-job/rejects", "GET")]:
            answer = client.request(method, path)
            assert_problem(answer, 405)
            assert answer.headers["allow"] == allow, (method, path)


def test_a_nul_in_a_job_id_or_dataset_is_a_422(api: Api) -> None:
    """PostgreSQL text holds no NUL: such a job id or dataset filter used to be a 500."""
    with api.client() as client:
        for answer in (client.get("/v1/jobs/a%00b"), client.get("/v1/jobs/a%00b/rejects"),
                       client.post("/v1/jobs/a%00b/abort"), client.get("/v1/jobs?dataset=%00")):
            assert_problem(answer, 422)


def test_idempotency_key(api: Api, tmp_path: Path, service_env: dict[str, str]) -> None:
    first_file = write_csv(tmp_path / "a.csv", customers_rows(5))
    other_file = write_csv(tmp_path / "b.csv", customers_rows(5, start=100))
    key = {"Idempotency-Key": "retry-me-1"}
    with api.client() as client:
        first = upload(client, first_file, headers=key)
        assert first.status_code == 202, first.text
        again = upload(client, first_file, headers=key)
        assert again.status_code == 202
        assert again.json()["job_id"] == first.json()["job_id"]
        assert again.headers["idempotent-replayed"] == "true"
        problem = assert_problem(upload(client, other_file, headers=key), 422)
        assert "another request" in problem["detail"]
        assert_problem(upload(client, first_file, headers=key, mode="upsert"), 422)
        assert_problem(upload(client, first_file, headers={"Idempotency-Key": "a b"}), 400)
    found = asyncio.run(fetch(service_env["DATABASE_URL"],
                              "SELECT key, job_id FROM ingest_idempotency"))
    assert [(row["key"], row["job_id"]) for row in found] == [("retry-me-1",
                                                               first.json()["job_id"])]


def test_token_required_but_for_the_probes(api: Api) -> None:
    for token in (None, "wrong-token-0123456789"):
        with api.client(token) as client:
            for answer in (client.get("/v1/jobs"), client.get("/metrics"),
                           client.get("/openapi.json"), client.post("/v1/jobs", json={})):
                problem = assert_problem(answer, 401)
                assert answer.headers["www-authenticate"].startswith("Bearer")
                assert TOKEN not in answer.text
                assert problem["type"].endswith(":unauthorized")
            assert client.get("/healthz").json() == {"status": "ok"}
            assert client.get("/readyz").status_code == 200
    with api.client() as client:
        assert client.get("/openapi.json").json()["info"]["title"] == "csv-ingest"


def test_readyz_names_what_does_not_answer(api: Api, tmp_path: Path,
                                           service_env: dict[str, str]) -> None:
    with api.client() as client:
        ready = client.get("/readyz").json()
        assert ready == {"status": "ready", "services": {"postgresql": "up", "rabbitmq": "up",
                                                        "redis": "up"}}
    broken = start_api(tmp_path / "broken", service_env, REDIS_URL="redis://127.0.0.1:1/0")
    try:
        with broken.client() as client:
            problem = assert_problem(client.get("/readyz"), 503)
            assert problem["detail"] == "not answering: redis"
            assert problem["services"]["postgresql"] == "up"
    finally:
        run = broken.stop()
    assert TOKEN not in run.stderr
    assert "redis://127.0.0.1:1/0" in run.stderr  # its address logged at start (no secret)


DATA_ROUTES = (("GET", "/v1/jobs"), ("GET", "/v1/jobs/customers-x"),
               ("GET", "/v1/jobs/customers-x/rejects?format=csv"),
               ("POST", "/v1/jobs/customers-x/abort"), ("GET", "/metrics"))


def test_a_database_missing_or_not_migrated_is_a_problem_on_every_route(
        tmp_path: Path, service_env: dict[str, str]) -> None:
    """Every route that reads PostgreSQL answers a 503 problem saying to run `make
    migrate-db` (no 500, no traceback in the log), as POST's producer says it (a 422): for a
    database that does not exist, and for one that exists without the tool's tables."""
    name = f"api_not_migrated_{os.getpid()}_{time.monotonic_ns()}"
    missing = with_database(service_env["DATABASE_URL"], name)
    empty = with_database(service_env["DATABASE_URL"], name + "_empty")
    asyncio.run(execute(with_database(service_env["DATABASE_URL"], "postgres"),
                        f'CREATE DATABASE "{name}_empty"'))
    runs = []
    try:
        for url, says in ((missing, f'database "{name}" does not exist'),
                          (empty, "the database lacks the tool's tables")):
            server = start_api(tmp_path / url.rsplit("/", 1)[1], {
                **service_env, "DATABASE_URL": url})
            try:
                with server.client() as client:
                    for method, route in DATA_ROUTES:
                        problem = assert_problem(client.request(method, route), 503)
                        assert problem["type"].endswith(":database-not-migrated"), route
                        assert says in problem["detail"], (route, problem)
                        assert problem["detail"].endswith("`make migrate-db`") or (
                            "create and migrate it with `make migrate-db`" in problem["detail"])
                    assert client.get("/v1/datasets").status_code == 200  # files, not tables
                    ready = client.get("/readyz")
                    assert ready.status_code == (503 if url == missing else 200)
                    if url == missing:  # POST: the producer it starts says the same, a 422
                        refused = assert_problem(upload(client, SAMPLE), 422)
                        assert says in refused["detail"]
                        assert "`make migrate-db`" in refused["detail"]
            finally:
                runs.append(server.stop())
    finally:
        asyncio.run(drop_database(service_env["DATABASE_URL"], name + "_empty"))
    for run in runs:
        assert "Exception in ASGI application" not in run.stderr
        assert "Traceback" not in run.stderr
        assert "database not migrated" in run.stderr  # logged as a warning, one line each


def test_oversize_upload_is_refused_and_leaves_nothing(tmp_path: Path,
                                                       service_env: dict[str, str],
                                                       clean_tables: None) -> None:
    server = start_api(tmp_path, service_env, INGEST_MAX_UPLOAD_BYTES="1000")
    try:
        big = write_csv(tmp_path / "big.csv", customers_rows(60))
        assert big.stat().st_size > 1000
        with server.client() as client:
            problem = assert_problem(upload(client, big), 413)
            assert "1000 bytes" in problem["detail"]
            assert files(server.uploads) == []
            small = write_csv(tmp_path / "small.csv", customers_rows(2))
            assert upload(client, small).status_code == 202
    finally:
        server.stop()
    assert len(files(server.uploads)) == 1


def test_a_body_cut_short_before_its_closing_boundary_is_refused(
        api: Api, tmp_path: Path) -> None:
    """A multipart body that ends inside the file part (no closing boundary: a client or a
    proxy cut it) is a 400 and nothing of it is kept; it used to be published as the whole
    file, its last record cut in the middle."""
    data = SAMPLE.read_bytes()
    head = (b"--XYZ\r\nContent-Disposition: form-data; name=\"dataset\"\r\n\r\ncustomers\r\n"
            b"--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cut.csv\"\r\n"
            b"Content-Type: text/csv\r\n\r\n")
    with api.client() as client:
        for body in (head + data[:2000], head + data + b"\r\n--XYZ"):
            answer = client.post("/v1/jobs", content=body, headers={
                "Content-Type": "multipart/form-data; boundary=XYZ"})
            problem = assert_problem(answer, 400)
            assert "closing boundary" in problem["detail"]
        assert files(api.uploads) == []
        whole = client.post("/v1/jobs", content=head + data + b"\r\n--XYZ--\r\n",
                            headers={"Content-Type": "multipart/form-data; boundary=XYZ"})
        assert whole.status_code == 202, whole.text
        assert len(client.get("/v1/jobs").json()["jobs"]) == 1  # the whole file only


def files(folder: Path) -> list[str]:
    """The names in ``folder`` (hidden partial files included); none if it does not exist."""
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def test_a_file_the_producer_refuses_is_a_422_with_its_error(api: Api, tmp_path: Path) -> None:
    bad = tmp_path / "bad header.csv"
    bad.write_text("nothing,we,know\n1,2,3\n")
    with api.client() as client:
        problem = assert_problem(upload(client, bad), 422)
        assert problem["type"].endswith(":producer-refused")
        assert "email" in problem["detail"]  # the producer's own one line: missing columns
        assert files(api.uploads) == []  # its upload is not kept: no job uses it
        unknown = assert_problem(upload(client, bad, dataset="nosuchdataset"), 422)
        assert "unknown dataset 'nosuchdataset'" in unknown["detail"]
        invalid = assert_problem(upload(client, bad, max_error_ratio="2"), 422)
        assert invalid["errors"][0]["loc"] == ["max_error_ratio"]
    assert any(api.job_logs.glob("*.log"))  # the producer's output is kept


def test_without_a_token_only_loopback_is_served(tmp_path: Path,
                                                 service_env: dict[str, str]) -> None:
    env = {**service_env, "INGEST_API_TOKEN": ""}
    refused = run_cli("ingest", "api", "--host", "0.0.0.0", env=env, timeout=60)
    assert refused.rc == 2
    assert refused.lines[-1] == ("error: INGEST_API_TOKEN is not set: without a token the API "
                                 "serves 127.0.0.1 only, not 0.0.0.0")
    server = start_api(tmp_path, service_env, INGEST_API_TOKEN="")
    try:
        with server.client(token=None) as client:
            assert client.get("/v1/jobs").status_code == 200
    finally:
        run = server.stop()
    assert "INGEST_API_TOKEN is not set: serving 127.0.0.1 only" in run.stderr


def test_the_same_key_while_its_first_request_runs_is_a_409(api: Api, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "slow.csv", customers_rows(20))
    boundary = "slowboundary0123"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"dataset\"\r\n\r\ncustomers"
            f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"slow.csv\"\r\nContent-Type: text/csv\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    release = threading.Event()

    def body() -> Iterator[bytes]:
        yield head + path.read_bytes()[:100]
        release.wait(30)
        yield path.read_bytes()[100:] + tail

    headers = {"Idempotency-Key": "slow-1",
               "Content-Type": f"multipart/form-data; boundary={boundary}"}
    with api.client() as client, ThreadPoolExecutor(1) as pool:
        first = pool.submit(client.post, "/v1/jobs", content=body(), headers=headers)
        time.sleep(1.0)  # the first request is reading its body
        with api.client() as other:
            busy = assert_problem(upload(other, path, headers={"Idempotency-Key": "slow-1"}),
                                  409)
        release.set()
        assert busy["type"].endswith(":idempotency-key-in-use")
        assert first.result(60).status_code == 202


def _children_of(job_logs: Path) -> list[int]:
    """Pids of the producers the API started with job files under ``job_logs``."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"producer" in cmdline and any(
                    arg.startswith(b"--job-file=" + str(job_logs.resolve()).encode())
                    for arg in cmdline):
                found.append(int(proc.name))
    return found


def _publish_error(client: httpx.Client, job_id: str) -> dict[str, str] | None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = client.get(f"/v1/jobs/{job_id}").json()
        assert status["state"] == "publishing"
        if status["publish_error"] is not None:
            return dict(status["publish_error"])
        time.sleep(0.1)
    return None


def test_a_producer_that_stops_after_the_202_leaves_its_reason_in_the_status(
        tmp_path: Path, service_env: dict[str, str], clean_tables: None) -> None:
    """The client got 202; the producer then stopped (refused by the broker: its error line;
    killed: the API's pointer to its log), and GET /v1/jobs/{id} says so."""
    refused = start_api(tmp_path / "a", service_env,
                        AMQP_URL="amqp://guest:not-the-pw-42@127.0.0.1:5672/")
    try:
        with refused.client() as client:
            answer = upload(client, SAMPLE)
            assert answer.status_code == 202, answer.text
            stopped = _publish_error(client, answer.json()["job_id"])
        assert stopped is not None
        assert "login" in stopped["message"]
        assert "not-the-pw-42" not in stopped["message"]
        logged = [line for log in refused.job_logs.glob("*.log")
                  for line in log.read_text().splitlines() if line.startswith("error: ")]
        assert logged == ["error: " + stopped["message"]]
    finally:
        refused.stop()
    stuck = start_api(tmp_path / "b", {**service_env, "PRODUCER_RETRY_BUDGET": "60"},
                      AMQP_URL="amqp://guest:guest@127.0.0.1:1/")
    try:
        with stuck.client() as client:
            answer = upload(client, write_csv(tmp_path / "other.csv", customers_rows(20)))
            assert answer.status_code == 202, answer.text
            (pid,) = _children_of(stuck.job_logs)
            os.kill(pid, signal.SIGKILL)  # it cannot say why: the API does
            stopped = _publish_error(client, answer.json()["job_id"])
        assert stopped is not None
        assert stopped["message"].startswith("the producer failed (see ")
        assert stopped["message"].endswith(".log in the API's job logs)")
    finally:
        stuck.stop()
