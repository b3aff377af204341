"""Start-up cost: a process imports the modules it runs, not every one it could (issue 15).

`producer --help` and `consumer --help` load no broker, database or Redis client; a CSV run of
the producer loads no Parquet, zstd, remote source, HTTP server, metrics or load mode module;
structlog does not pull in rich, whichever module a process imports first. Each check imports
in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from libs.load import MODES, mode_class

pytestmark = pytest.mark.unit

# Never needed to read a local CSV file and publish it.
HEAVY = ("rich", "pyarrow", "zstandard", "fsspec", "s3fs", "aiohttp", "botocore", "fastapi",
         "uvicorn", "prometheus_client", "libs.sources.remote", "libs.formats.parquet",
         "libs.load.insert", "libs.load.base", "libs.validate_vector")
CLIENTS = ("aio_pika", "asyncpg", "redis")


def loaded(code: str, names: tuple[str, ...]) -> list[str]:
    """Which of ``names`` are in sys.modules after ``code`` runs in a fresh interpreter."""
    probe = (f"{code}\nimport json, sys\n"
             f"print(json.dumps([n for n in {names!r} if n in sys.modules]))")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)
    found: list[str] = json.loads(run.stdout.splitlines()[-1])
    return found


@pytest.mark.parametrize("cli", ["producer.cli", "consumer.cli"])
def test_a_cli_module_loads_no_client_and_nothing_heavy(cli: str) -> None:
    assert loaded(f"import {cli}", HEAVY + CLIENTS) == []


def test_the_ingest_cli_loads_nothing_heavy() -> None:
    assert loaded("import ingest.cli", HEAVY) == []  # FastAPI and uvicorn: `ingest api` only


def test_a_csv_run_loads_what_it_uses_only() -> None:
    code = ("import producer.app, producer.cli\n"
            "from libs.formats import reader_for\n"
            "from libs.schema.from_file import load\n"
            "reader_for(load('customers', 'datasets'))")
    assert loaded(code, HEAVY) == []
    assert loaded(code, CLIENTS) == list(CLIENTS)  # the run's own clients, to be sure


def test_every_mode_resolves_to_its_loader() -> None:
    assert {mode: mode_class(mode).mode for mode in MODES} == {mode: mode for mode in MODES}
