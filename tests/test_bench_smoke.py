"""`make bench` works end to end on a small file: a smoke check, never a speed check.

The matrix (both shapes, clean and dirty) runs on 3,000 records into databases of its own,
with its own data and output directories. The JSON must hold every run and every method, and
the loaded counts must be exact: psql and pgloader load every record of the clean file, and the
pipeline's table and rejects match what tests/checker.py computes from each file on its own.
Without pgloader on PATH, the bench says how to install it and still succeeds.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.checker import expected
from tests.conftest import Endpoints
from tests.pipeline import ROOT, drop_database

pytestmark = pytest.mark.integration

ROWS = 3000
SHAPES = ("bench", "plain")
STAMP = ".venv/.installed"  # `make -o` this: no reinstall from inside the tests


@pytest.fixture
def db_prefix(endpoints: Endpoints) -> Iterator[str]:
    """The bench's database prefix for this test; its databases dropped after."""
    prefix = f"bench_smoke_{uuid.uuid4().hex[:8]}"
    yield prefix
    for suffix in ("copy", "pipeline", "pgloader"):
        asyncio.run(drop_database(endpoints.database_url, f"{prefix}_{suffix}"))


def make_bench(endpoints: Endpoints, tmp_path: Path, bench_args: str,
               path_var: str | None = None) -> tuple[subprocess.CompletedProcess[str],
                                                     dict[str, Any]]:
    """`make bench` with the test's services, output and data under ``tmp_path``; its JSON."""
    env = dict(os.environ, AMQP_URL=endpoints.amqp_url, DATABASE_URL=endpoints.database_url,
               REDIS_URL=endpoints.redis_url)
    if path_var is not None:
        env["PATH"] = path_var
    args = f"{bench_args} --out-dir {tmp_path / 'out'} --data-dir {tmp_path / 'data'}"
    done = subprocess.run(["make", "-s", "-o", STAMP, "bench", f"BENCH_ARGS={args}"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done, json.loads((tmp_path / "out" / "latest.json").read_text())


def assert_pipeline_exact(run: dict[str, Any]) -> None:
    """The pipeline's counts against the independent checker's answer for the run's file."""
    exp = expected([Path(run["file"])])
    assert exp.records == [ROWS]
    pipeline = run["results"]["pipeline"]
    verify = pipeline["verify"]
    assert pipeline["rows"] == ROWS
    assert verify["ok"] is True
    assert verify["customers"] == len(exp.rows)
    assert verify["rejects"] == len(exp.rejects)
    assert (len(exp.rejects) > 0) is run["dirty"]
    assert pipeline["seconds"] > 0
    assert pipeline["cpu_s"]["consumers"] >= 0
    assert set(pipeline["cpu_s_per_1m_rows"]) >= {"consumers", "producer", "postgres"}
    assert set(pipeline["peak_rss_mb"]) == {"producer", "consumer-1", "consumer-2"}


def assert_baseline_exact(result: dict[str, Any], method: str) -> None:
    assert result["method"] == method
    assert result.get("status") in (None, "ok")
    assert result["rows"] == ROWS
    assert result["seconds"] > 0
    assert result["content"].startswith(f"{ROWS}:")


def test_make_bench_matrix(endpoints: Endpoints, db_prefix: str, tmp_path: Path) -> None:
    done, report = make_bench(endpoints, tmp_path,
                              f"--matrix --rows {ROWS} --db-prefix {db_prefix}")
    runs = report["runs"]
    assert report["checkpoint_before_each"] is True  # the tests' role is a superuser
    assert [(r["shape"], r["dirty"]) for r in runs] == [
        (shape, dirty) for shape in SHAPES for dirty in (False, True)]
    has_pgloader = shutil.which("pgloader") is not None
    for run in runs:
        kind = "dirty" if run["dirty"] else "clean"
        assert Path(run["file"]).name == (
            f"customers-{run['shape']}-{ROWS}-seed1-keys0-{ROWS - 1}-{kind}.csv")
        res = run["results"]
        assert_pipeline_exact(run)
        assert_baseline_exact(res["psql"], "psql \\copy")
        assert Path(res["psql"]["file"]).name.endswith("-clean.csv")  # dirty: the clean file
        assert run["ratios"]["psql_over_pipeline"] > 0
        if has_pgloader:
            assert_baseline_exact(res["pgloader"], "pgloader")
            assert run["ratios"]["pgloader_over_pipeline"] > 0
            assert run["same_content_as_psql"]["pgloader"] is True
        else:
            assert res["pgloader"]["status"] == "not installed"
        if not run["dirty"]:
            assert run["same_content_as_psql"]["pipeline"] is True
    for text in ("psql \\copy", "pipeline (2 consumers)", "pgloader", "== side by side"):
        assert text in done.stdout


def test_make_bench_without_pgloader_says_how_to_install_it(
        endpoints: Endpoints, db_prefix: str, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"  # psql, make and a shell, but no pgloader
    bin_dir.mkdir()
    for tool in ("psql", "make", "bash", "sh", "sed", "env", "git"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    done, report = make_bench(endpoints, tmp_path,
                              f"--rows {ROWS} --shape plain --dirty --db-prefix {db_prefix}",
                              path_var=str(bin_dir))
    [run] = report["runs"]
    assert (run["shape"], run["dirty"]) == ("plain", True)
    assert_pipeline_exact(run)
    assert run["results"]["pgloader"]["status"] == "not installed"
    assert run["ratios"]["pgloader_over_pipeline"] is None
    assert "pgloader                           not installed: make install-bench-tools" in (
        done.stdout)
