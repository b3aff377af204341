"""scripts/load_cpu.py: the database's CPU for insert mode's ways of writing a keyed batch.

Run small against the real PostgreSQL: it makes its database, says what each way cost as one
JSON line, and leaves the table as it found it after each way (every way is rolled back), so
the table holds exactly the records it was given. A user error is one line and exit 2.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import Endpoints
from tests.pipeline import ROOT, drop_database, with_database
from tests.test_bench_data import generate

pytestmark = pytest.mark.integration

SCRIPT = ROOT / "scripts" / "load_cpu.py"
WAYS = {"direct", "stage", "split", "probe"}


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=300, env=env)


def test_each_way_measured_and_rolled_back(tmp_path: Path, endpoints: Endpoints) -> None:
    data = generate(tmp_path, "--rows", "3000", "--seed", "5")
    name = f"load_cpu_test_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DATABASE_URL": endpoints.database_url}
    done = run("--file", str(data), "--table-rows", "2000", "--batch-size", "500", "--taken",
               "7", "--repeat", "2", "--database", name, env=env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["batch"], result["taken"], result["table_rows"]) == (500, 7, 2000)
    assert set(result["ms_per_batch"]) == WAYS
    for way in result["ms_per_batch"].values():
        assert 0 <= way["min"] <= way["median"]
    server = endpoints.database_url

    async def check() -> tuple[int, int]:
        conn = await asyncpg.connect(with_database(server, name))
        try:
            rows = await conn.fetchval("SELECT count(*) FROM customers")
            lineage = await conn.fetchval("SELECT count(DISTINCT line_no) FROM customers")
        finally:
            await conn.close()
            await drop_database(server, name)
        return rows, lineage

    assert asyncio.run(check()) == (2000, 2000)


@pytest.mark.parametrize(("args", "says"), [
    (("--file", "/nonexistent/x.csv"), "no such file"),
    (("--taken", "30000"), "--taken must be"),
])
def test_user_error_is_one_line_exit_2(args: tuple[str, ...], says: str) -> None:
    done = run(*args, "--database", "load_cpu_never_made")
    assert done.returncode == 2
    assert done.stdout == ""
    assert says in done.stderr
    assert done.stderr.count("\n") == 1
