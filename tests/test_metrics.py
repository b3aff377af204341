"""The consumer's Prometheus metrics (README, "Metrics"): scraped over HTTP from a live
consumer, they equal its JSON summary and what the database holds."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from consumer.metrics import RECORD_OUTCOMES, Metrics
from consumer.stats import Stats
from libs import constants as c
from libs.errors import TransientError
from libs.load.base import COUNTERS, Outcome
from libs.retry import Backoff, retry_transient
from tests.pipeline import (
    assert_loaded_exactly,
    consume_burst,
    fetch,
    finish,
    gendata,
    produce,
    start,
    wait_for,
)
from tests.ports import free_ports
from tests.test_load_modes import fresh, suppliers_file  # noqa: F401 (fixture)

P = "ingest_consumer_"
BATCH_OUTCOMES = ("done", "duplicate", "skipped", "dead_lettered", "requeued", "returned")
SUMMARY_OF_BATCHES = {"done": "batches_done", "duplicate": "duplicate_deliveries",
                      "dead_lettered": "dead_lettered", "requeued": "requeued",
                      "returned": "returned"}


class Scrape:
    """One scrape of /metrics: sample values by name and labels (absent: 0)."""

    def __init__(self, text: str) -> None:
        self.samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                self.samples[(s.name, frozenset(s.labels.items()))] = s.value

    def get(self, name: str, **labels: str) -> float:
        return self.samples.get((P + name, frozenset(labels.items())), 0.0)

    def by(self, name: str, label: str) -> dict[str, float]:
        return {dict(labels)[label]: v for (n, labels), v in self.samples.items()
                if n == P + name and v}

    def summary_count(self, outcome: str) -> float:
        """A record outcome as the JSON summary counts it: at commit, plus moves in, less
        moves out."""
        moved = self.samples.items()
        return (self.get("records_total", outcome=outcome)
                + sum(v for (n, ls), v in moved if n == P + "records_moved_total"
                      and dict(ls)["to_outcome"] == outcome)
                - sum(v for (n, ls), v in moved if n == P + "records_moved_total"
                      and dict(ls)["from_outcome"] == outcome))


def scrape(port: int) -> Scrape:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        assert answer.headers["Content-Type"].startswith("text/plain")
        return Scrape(answer.read().decode())


def listening_ports(pid: int) -> set[int]:
    """The TCP ports process ``pid`` listens on (its socket inodes in /proc/net/tcp*)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


async def scrape_when(port: int, ready: Any, what: str) -> Scrape:
    """Scrape until ``ready(scrape)`` holds and nothing is in flight; that scrape."""
    got: list[Scrape] = []

    async def settled() -> bool:
        try:
            got[:] = [await asyncio.to_thread(scrape, port)]
        except OSError:  # not serving yet
            return False
        return bool(ready(got[0])) and got[0].get("batches_in_flight") == 0

    await wait_for(settled, 120, what)
    return got[0]


async def db_counts(url: str) -> tuple[int, dict[str, int], dict[str, int]]:
    """Batches done, the batches' counters summed, rejects by reason: from the tables."""
    sums = ", ".join(f"coalesce(sum({n}), 0)::int AS {n}" for n in (*COUNTERS, "pending"))
    (row,) = await fetch(url, f"SELECT count(*)::int AS batches, {sums} FROM ingest_batches")
    reasons = await fetch(url, "SELECT reason, count(*)::int AS n FROM ingest_rejects "
                               "GROUP BY reason")
    return (row["batches"], {n: row[n] for n in (*COUNTERS, "pending")},
            {r["reason"]: r["n"] for r in reasons})


def assert_scrape_is_summary(got: Scrape, summary: dict[str, Any]) -> None:
    for outcome, key in SUMMARY_OF_BATCHES.items():
        assert got.get("batches_total", outcome=outcome) == summary[key], outcome
    for outcome in RECORD_OUTCOMES:
        assert got.summary_count(outcome) == summary[outcome], outcome
    assert sum(got.by("records_total", "outcome").values()) == summary["records"]
    assert got.by("rejects_total", "reason") == summary["rejects_by_reason"]
    committed = summary["batches_done"]
    assert got.get("batch_duration_seconds_count") == committed
    assert got.get("batch_duration_seconds_bucket", le="+Inf") == committed
    assert got.get("batch_duration_seconds_sum") > 0
    assert got.get("atomic_jobs_total", outcome="applied") == summary["jobs_applied"]
    assert got.get("atomic_jobs_total", outcome="failed") == summary["jobs_failed"]


async def stop(proc: Any) -> dict[str, Any]:
    proc.send_signal(signal.SIGTERM)
    run = await asyncio.to_thread(finish, proc)
    assert run.rc == c.EXIT_OK, run.stderr[-3000:]
    return run.summary


@pytest.mark.integration
@pytest.mark.usefixtures("clean_tables")
async def test_scraped_counters_equal_the_summary_and_the_database(
        tmp_path: Path, service_env: dict[str, str], database_url: str) -> None:
    path = gendata(tmp_path / "dirty.csv", 3000, 11, "--dirty")
    produced = produce(path, service_env, "--batch-size", "100")
    assert produced.rc == 0, produced.stderr
    total = produced.summary["batches_total"]
    port = free_ports()
    proc = start("consumer", "--parallel", "3", "--metrics-port", str(port), env=service_env)
    got = await scrape_when(port, lambda s: s.get("batches_total", outcome="done") == total,
                            f"{total} batches done")
    assert listening_ports(proc.pid) == {port}
    summary = await stop(proc)
    await assert_loaded_exactly(database_url, [path], [produced.summary["job_id"]])
    assert summary["batches_done"] == total
    assert summary["records"] == produced.summary["rows_confirmed"]
    assert_scrape_is_summary(got, summary)
    batches, counts, reasons = await db_counts(database_url)
    assert got.get("batches_total", outcome="done") == batches == total
    assert {o: got.summary_count(o) for o in counts} == counts
    assert got.by("rejects_total", "reason") == reasons
    assert sum(reasons.values()) > 0  # a dirty file: rejects of several reasons
    assert len(reasons) > 1
    assert got.get("redeliveries_total") == 0
    assert got.by("database_retries_total", "operation") == {}


@pytest.mark.integration
async def test_an_atomic_job_applied_moves_its_pending_records(
        tmp_path: Path, fresh: str, service_env: dict[str, str]) -> None:  # noqa: F811
    path = suppliers_file(tmp_path / "s.csv", seed=7)
    produced = produce(path, service_env, "--dataset", "suppliers", "--mode", "upsert",
                       "--atomic", "--batch-size", "7")
    assert produced.rc == 0, produced.stderr
    port = free_ports()
    proc = start("consumer", "--metrics-port", str(port), env=service_env)
    got = await scrape_when(port, lambda s: s.get("atomic_jobs_total", outcome="applied") == 1,
                            "the job applied")
    summary = await stop(proc)
    assert_scrape_is_summary(got, summary)
    assert summary["jobs_applied"] == 1
    assert got.get("records_total", outcome="pending") > 0  # staged, then moved by the apply
    assert got.summary_count("pending") == 0
    batches, counts, reasons = await db_counts(fresh)
    assert got.get("batches_total", outcome="done") == batches == produced.summary[
        "batches_total"]
    assert {o: got.summary_count(o) for o in counts} == counts
    assert got.by("rejects_total", "reason") == reasons


@pytest.mark.integration
@pytest.mark.parametrize(("args", "says"), [
    ((), "error: --metrics-port {port}: 127.0.0.1:{port} is in use (each consumer on a host "
         "needs a port of its own)"),
    (("--metrics-host", "203.0.113.7"), "error: cannot serve metrics on 203.0.113.7:{port}: "),
])
def test_an_address_it_cannot_bind_is_one_line_and_exit_2(
        service_env: dict[str, str], args: tuple[str, ...], says: str) -> None:
    """A port in use (another consumer's), or an address not of this machine."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        run = consume_burst(service_env, "--metrics-port", str(port), *args)
    assert run.rc == c.EXIT_USAGE
    (line,) = run.stderr.splitlines()
    assert line.startswith(says.format(port=port))
    assert run.summary == {}  # it stopped before connecting to anything


@pytest.mark.integration
@pytest.mark.parametrize("setting", [None, "", "0"])
async def test_off_by_default(tmp_path: Path, service_env: dict[str, str],
                              setting: str | None) -> None:
    env = {k: v for k, v in service_env.items() if k != "CONSUMER_METRICS_PORT"}
    if setting is not None:
        env["CONSUMER_METRICS_PORT"] = setting
    ready = tmp_path / "ready"
    proc = start("consumer", "--ready-file", str(ready), env=env)

    async def consuming() -> bool:
        return ready.exists()

    await wait_for(consuming, 30, "the consumer consuming")
    assert listening_ports(proc.pid) == set()
    await stop(proc)


@pytest.mark.unit
def test_stats_events_feed_the_metrics_not_the_summary() -> None:
    stats = Stats()
    stats.add(Outcome(records=3, inserted=2, rejected=Counter(invalid_email=1)), 0.2)
    stats.add(Outcome(records=2, skipped=2), 0.1)
    stats.add(Outcome(duplicate=True))
    stats.move(Outcome(moved=Counter({("inserted", "rejected"): 1})))
    stats.settled("requeued")
    stats.dead_letter()
    got = Scrape(_exposition(stats.metrics))
    assert "metrics" not in stats.as_dict()
    assert got.by("batches_total", "outcome") == {"done": 1, "skipped": 1, "duplicate": 1,
                                                  "requeued": 1, "dead_lettered": 1}
    assert got.get("batch_duration_seconds_count") == 2  # committed batches only
    assert got.by("rejects_total", "reason") == stats.rejects_by_reason == {
        "invalid_email": 1, "duplicate_key": 1}
    for outcome in RECORD_OUTCOMES:
        assert got.summary_count(outcome) == getattr(stats, outcome), outcome


@pytest.mark.unit
def test_redeliveries_are_flagged_or_counted_by_the_broker() -> None:
    metrics = Metrics()
    metrics.delivered(False, None)
    metrics.delivered(False, {c.H_DELIVERY_COUNT: 0})
    metrics.delivered(True, None)
    metrics.delivered(None, {c.H_DELIVERY_COUNT: 2})
    assert Scrape(_exposition(metrics)).get("redeliveries_total") == 2


@pytest.mark.unit
async def test_retry_transient_reports_each_retry() -> None:
    seen: list[str] = []
    attempts = iter([TransientError("down"), TransientError("down"), None])

    async def attempt() -> str:
        error = next(attempts)
        if error is not None:
            raise error
        return "ok"

    result = await retry_transient(attempt, budget=5, what="load batch",
                                   backoff=Backoff(0.001, 0.001), on_retry=seen.append)
    assert (result, seen) == ("ok", ["load batch", "load batch"])


def _exposition(metrics: Metrics) -> str:
    return generate_latest(metrics.registry).decode()
