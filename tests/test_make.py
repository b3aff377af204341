"""The Makefile: targets, configuration from env/*.env with overrides, migrate-db, start/stop.

The integration tests run the real targets against the local services with the repository's
.venv (``make install`` first; CI does). ``-o .venv/.installed`` keeps make from reinstalling.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
import redis

from tests.pipeline import drop_database, execute, with_database
from tests.ports import free_ports

ROOT = Path(__file__).resolve().parent.parent
STAMP = ".venv/.installed"
TARGETS = ("help", "install", "install-browser", "install-bench-tools", "infra", "migrate-db",
           "migrate-examples", "drop-db", "consumers", "start", "logs", "stop", "status", "test",
           "check",
           "data", "demo", "bench", "clean-data", "api", "samples", "watch")
INGEST_SAMPLE = "data/customers_sample.csv"  # INGEST_FILE's default
SAMPLE_ROWS = 40  # records in data/customers_sample.csv (header excluded)


def env_file_values(*names: str) -> dict[str, str]:
    """KEY=value pairs of the env files, read independently of make."""
    values: dict[str, str] = {}
    for name in names:
        for line in (ROOT / "env" / name).read_text().splitlines():
            match = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line)
            if match:
                values[match[1]] = match[2]
    return values


FILE_VALUES = env_file_values("common.env", "producer.env", "consumer.env")
# The services the integration tests use: the environment's, else the env files'.
SERVICES = {var: os.environ.get(var, FILE_VALUES[var])
            for var in ("AMQP_URL", "DATABASE_URL", "REDIS_URL")}


def database_url(name: str) -> str:
    """DATABASE_URL's server with another database."""
    return with_database(SERVICES["DATABASE_URL"], name)


ADMIN_URL = database_url("postgres")


def clean_env(**overrides: str) -> dict[str, str]:
    """The environment without make's own variables (this may run under `make test`) and
    without the settings of the env files, plus ``overrides``."""
    drop = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", *FILE_VALUES}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(overrides)
    return env


def make(*args: str, env: dict[str, str] | None = None,
         timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=ROOT, text=True,
                          capture_output=True, env=env if env is not None else clean_env(),
                          timeout=timeout, check=False)


def make_ok(*args: str, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    result = make(*args, env=env, timeout=timeout)
    assert result.returncode == 0, (
        f"make {' '.join(args)} exited {result.returncode}\n"
        f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result


def dry_run(*args: str, env: dict[str, str] | None = None) -> str:
    """The recipes ``make -n`` would run, continuation lines joined."""
    out = make_ok("-n", "-o", STAMP, *args, env=env).stdout
    return re.sub(r"\s*\\\n\s*", " ", out)


def printed(var: str, *args: str, env: dict[str, str] | None = None) -> str:
    return make_ok("-s", f"print-{var}", *args, env=env).stdout.rstrip("\n")


# --- unit: no services, nothing executed but make itself ----------------------------------

@pytest.mark.unit
def test_help_is_the_default_and_lists_every_target() -> None:
    default = make_ok().stdout
    assert default == make_ok("help").stdout
    listed = re.findall(r"^  ([a-z-]+) ", default, flags=re.MULTILINE)
    assert sorted(listed) == sorted(TARGETS)


@pytest.mark.unit
@pytest.mark.parametrize("var", ["AMQP_URL", "DATABASE_URL", "REDIS_URL", "INGEST_QUEUE",
                                 "INGEST_FILE", "CONSUMERS", "CONSUMER_SHUTDOWN_TIMEOUT"])
def test_env_files_give_the_values(var: str) -> None:
    assert printed(var) == FILE_VALUES[var]


@pytest.mark.unit
def test_environment_overrides_env_file() -> None:
    url = "amqp://someone:secret@mq.example:5673/vhost"
    assert FILE_VALUES["AMQP_URL"] != url
    assert printed("AMQP_URL", env=clean_env(AMQP_URL=url)) == url


@pytest.mark.unit
def test_command_line_overrides_environment_and_env_file() -> None:
    assert printed("CONSUMERS", "CONSUMERS=7", env=clean_env(CONSUMERS="5")) == "7"


@pytest.mark.unit
def test_settings_reach_the_recipes_environment(tmp_path: Path) -> None:
    """Exported: the CLIs started by a recipe read them through their envvar."""
    extra = tmp_path / "extra.mk"
    extra.write_text("show-env:\n\t@echo \"$$INGEST_QUEUE $$PRODUCER_PARALLEL $$AMQP_URL\"\n")
    out = make_ok("-s", "-f", "Makefile", "-f", str(extra), "show-env",
                  "PRODUCER_PARALLEL=9", env=clean_env(INGEST_QUEUE="from-env")).stdout
    assert out.split() == ["from-env", "9", FILE_VALUES["AMQP_URL"]]


@pytest.mark.unit
@pytest.mark.parametrize(("url", "expected"), [
    ("postgresql://u@h:5432/db", "postgresql://u@h:5432/db?sslmode=disable"),
    ("postgresql://u@h/db?application_name=x", "postgresql://u@h/db?application_name=x"
                                               "&sslmode=disable"),
    ("postgresql://u@h/db?sslmode=require", "postgresql://u@h/db?sslmode=require"),
])
def test_dbmate_url_gets_sslmode_once(url: str, expected: str) -> None:
    assert printed("DBMATE_URL", env=clean_env(DATABASE_URL=url)) == expected


@pytest.mark.unit
def test_dry_run_of_start_and_stop() -> None:
    out = dry_run("start", "stop", "CONSUMERS=3", env=clean_env(INGEST_FILE="data/other.csv"))
    assert "CONSUMER_READY_FILE=volumes/run/$name.ready nohup .venv/bin/consumer" in out
    assert "CONSUMER_METRICS_PORT=$port CONSUMER_READY_FILE=" in out
    assert "port=$(( base + i - 1 ))" in out
    assert "seq 1 3" in out
    assert "pidfile=volumes/run/$name.pid" in out
    assert "SECONDS + 30" in out  # START_TIMEOUT
    assert ('.venv/bin/producer --file "data/other.csv" --wait > volumes/logs/producer.out'
            in out)
    assert "kill -TERM" in out
    # CONSUMER_SHUTDOWN_TIMEOUT + 5 seconds of patience
    assert f"printf '%.0f' \"{FILE_VALUES['CONSUMER_SHUTDOWN_TIMEOUT']}\") + 5" in out


@pytest.mark.unit
def test_dry_run_of_consumers_starts_consumers_and_publishes_nothing() -> None:
    out = dry_run("consumers", "CONSUMERS=3")
    assert "CONSUMER_READY_FILE=volumes/run/$name.ready nohup .venv/bin/consumer" in out
    assert "seq 1 3" in out
    assert "producer" not in out.replace("or the producer;", "")
    assert "nothing published" in out
    # `start` runs the same recipe, then the producer (and does not say nothing is published).
    start = dry_run("start", "CONSUMERS=3")
    assert start.index("nohup .venv/bin/consumer") < start.index(".venv/bin/producer --file")
    assert "nothing published" not in start


@pytest.mark.unit
def test_dry_run_of_data_test_check_bench() -> None:
    out = dry_run("data", "test", "check", "bench", "ROWS=500", "SEED=7", "PYTEST_ARGS=-m unit",
                  "BENCH_ARGS=--rows 10")
    # The generator names the file after what makes it (customers-bench-500-seed7-...).
    assert "scripts/gendata.py --out-dir data/generated --rows 500 --seed 7" in out
    assert "--dirty" not in out
    assert ".venv/bin/python -m pytest -m unit" in out
    assert ".venv/bin/ruff check ." in out
    assert ".venv/bin/mypy" in out
    assert ".venv/bin/python bench/bench.py --rows 10" in out
    dirty = dry_run("data", "ROWS=500", "DIRTY=1")
    assert "--out-dir data/generated --rows 500" in dirty
    assert "--dirty" in dirty


@pytest.mark.unit
def test_dry_run_of_api() -> None:
    assert "exec .venv/bin/ingest api" in dry_run("api")


@pytest.mark.unit
def test_dry_run_of_migrate_examples_and_demo() -> None:
    out = dry_run("migrate-examples")
    assert "--migrations-dir migrations-examples" in out
    assert "--migrations-table examples_schema_migrations" in out
    assert "--migrations-dir migrations " not in out
    demo = dry_run("demo", "-o", "infra", "CONSUMERS=3")
    assert demo.index("--migrations-dir migrations ") < demo.index(
        "--migrations-dir migrations-examples")
    assert "for name in customers user_purchase suppliers; do" in demo  # the default
    assert "samples=(data/${name}_sample.*)" in demo
    assert '.venv/bin/producer --no-progress --dataset "$name" --file "${samples[0]}"' in demo
    assert "env -u INGEST_DATASET .venv/bin/consumer --burst" in demo
    assert "seq 1 3" in demo
    assert ".venv/bin/python scripts/db_counts.py" in demo
    one = dry_run("demo", "-o", "infra", "DEMO_DATASETS=customers")
    assert "for name in customers; do" in one


@pytest.mark.unit
def test_every_demo_dataset_has_one_sample_file() -> None:
    """What `make demo` may list in DEMO_DATASETS: each bundled dataset has one sample."""
    for dataset in sorted((ROOT / "datasets").glob("*.yaml")):
        samples = list((ROOT / "data").glob(f"{dataset.stem}_sample.*"))
        assert len(samples) == 1, (dataset.name, samples)


@pytest.mark.unit
def test_tests_see_service_urls_but_not_tuning_knobs() -> None:
    out = dry_run("test")
    assert "-u INGEST_BATCH_SIZE" in out
    assert "-u INGEST_FILE" in out
    assert "-u DATABASE_URL" not in out
    # A knob set in the real environment is the user's choice: it passes through.
    out = dry_run("test", env=clean_env(INGEST_BATCH_SIZE="10"))
    assert "-u INGEST_BATCH_SIZE" not in out


# --- integration: real PostgreSQL, RabbitMQ and Redis -------------------------------------

def require_venv() -> None:
    missing = [tool for tool in ("dbmate", "producer", "consumer")
               if not (ROOT / ".venv" / "bin" / tool).exists()]
    if missing:
        pytest.fail(f".venv/bin/{', '.join(missing)} missing: run `make install` first")


async def _fetch(url: str, query: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


def fetch(url: str, query: str, *args: object) -> list[asyncpg.Record]:
    return asyncio.run(_fetch(url, query, *args))


def database_exists(name: str) -> bool:
    return bool(fetch(ADMIN_URL, "SELECT 1 FROM pg_database WHERE datname = $1", name))


@pytest.fixture
def scratch_db() -> Iterator[tuple[str, str]]:
    """(name, url) of a database that does not exist yet; dropped afterwards."""
    require_venv()
    name = f"make_test_{uuid.uuid4().hex[:12]}"
    yield name, database_url(name)
    asyncio.run(drop_database(SERVICES["DATABASE_URL"], name))


@pytest.mark.integration
def test_migrate_db_twice_then_drop_db(scratch_db: tuple[str, str]) -> None:
    name, url = scratch_db
    env = clean_env(**{**SERVICES, "DATABASE_URL": url})
    migrations = sorted(p.name.split("_", 1)[0] for p in (ROOT / "migrations").glob("*.sql"))

    first = make_ok("-o", STAMP, "migrate-db", env=env)
    assert database_exists(name)
    assert first.stdout.count("Applying:") == len(migrations)
    applied = fetch(url, "SELECT version FROM schema_migrations ORDER BY version")
    assert [row["version"] for row in applied] == migrations
    tables = {row["t"] for row in fetch(
        url, "SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public'")}
    assert {"ingest_jobs", "ingest_rejects", "ingest_batches", "ingest_keys"} <= tables
    assert {t for t in tables if not t.startswith("ingest_")} == {"schema_migrations"}

    second = make_ok("-o", STAMP, "migrate-db", env=env)
    assert "Applying" not in second.stdout + second.stderr
    assert fetch(url, "SELECT count(*) AS n FROM schema_migrations")[0]["n"] == len(migrations)

    make_ok("-o", STAMP, "drop-db", env=env)
    assert not database_exists(name)


@pytest.mark.integration
def test_migrate_examples_twice_apart_from_migrate_db(scratch_db: tuple[str, str]) -> None:
    _, url = scratch_db
    env = clean_env(**{**SERVICES, "DATABASE_URL": url})
    make_ok("-o", STAMP, "migrate-db", env=env)
    tool = [row["version"] for row in fetch(url, "SELECT version FROM schema_migrations")]
    first = make_ok("-o", STAMP, "migrate-examples", env=env)
    assert "Applying: 20261129000001_create_example_tables.sql" in first.stdout
    second = make_ok("-o", STAMP, "migrate-examples", env=env)
    assert "Applying" not in second.stdout + second.stderr
    examples = fetch(url, "SELECT version FROM examples_schema_migrations")
    assert [row["version"] for row in examples] == ["20261129000001"]
    assert [row["version"] for row in fetch(url, "SELECT version FROM schema_migrations")
            ] == tool  # each target keeps its own migrations table
    tables = {row["t"] for row in fetch(
        url, "SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public'")}
    assert {"customers", "user_purchase", "suppliers"} <= tables


@pytest.mark.integration
def test_database_of_the_previous_version_keeps_its_customers(scratch_db: tuple[str, str]) -> None:
    """Before issue 11 migrate-db created ``customers`` with lineage columns; after upgrading,
    migrate-db and migrate-examples leave that table and its rows as they were."""
    _, url = scratch_db
    env = clean_env(**{**SERVICES, "DATABASE_URL": url})
    make_ok("-o", STAMP, "migrate-db", env=env)
    previous = (ROOT / "tests" / "sql" / "previous_customers.sql").read_text()
    asyncio.run(execute(url, previous, "INSERT INTO customers (email, job_id, line_no) "
                        "VALUES ('kept@example.com', 'job-old', 2)"))
    make_ok("-o", STAMP, "migrate-db", env=env)
    make_ok("-o", STAMP, "migrate-examples", env=env)
    rows = fetch(url, "SELECT email, job_id, line_no FROM customers")
    assert [tuple(row) for row in rows] == [("kept@example.com", "job-old", 2)]


@pytest.mark.integration
def test_db_counts_counts_only_tables_that_exist(scratch_db: tuple[str, str],
                                                 tmp_path: Path) -> None:
    _, url = scratch_db
    env = clean_env(**{**SERVICES, "DATABASE_URL": url})
    make_ok("-o", STAMP, "migrate-db", env=env)
    folder = tmp_path / "sets"
    folder.mkdir()
    (folder / "ghost.yaml").write_text(
        "name: ghost\nschema: {fields: [{name: x}]}\nx-ingest: {table: no_such_table}\n")
    (folder / "broken.yaml").write_text("name: [\n")
    result = subprocess.run([str(ROOT / ".venv/bin/python"), "scripts/db_counts.py"], cwd=ROOT,
                            env={**env, "INGEST_DATASETS_DIR": str(folder)}, text=True,
                            capture_output=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    counted = [line.split()[0] for line in result.stdout.splitlines()[1:]]
    assert "no_such_table" not in counted
    assert {"ingest_batches", "ingest_rejects"} <= set(counted)


@pytest.mark.integration
def test_start_then_stop(scratch_db: tuple[str, str], tmp_path: Path) -> None:
    """`make start` runs background consumers and the producer; `make stop` ends them."""
    _, url = scratch_db
    tag = uuid.uuid4().hex[:12]
    run_dir, log_dir = tmp_path / "run", tmp_path / "logs"
    env = clean_env(**{**SERVICES, "DATABASE_URL": url}, INGEST_QUEUE=f"make-test-{tag}",
                    INGEST_REDIS_PREFIX=f"make-test-{tag}")
    base = free_ports(2)
    args = ("-o", STAMP, f"RUN_DIR={run_dir}", f"LOG_DIR={log_dir}", "CONSUMERS=2",
            f"CONSUMER_METRICS_PORT_BASE={base}")
    make_ok("-o", STAMP, "migrate-db", env=env)
    make_ok("-o", STAMP, "migrate-examples", env=env)  # INGEST_FILE: the customers sample
    try:
        started = make_ok(*args, "start", env=env)
        summary = json.loads(started.stdout.strip().splitlines()[-2])
        assert summary["state"] == "succeeded_with_rejects"  # --wait: the data is in
        assert summary["progress"]["records_done"] == SAMPLE_ROWS
        assert summary["publish"]["status"] == "ok"
        assert summary["publish"]["rows_confirmed"] == SAMPLE_ROWS
        pids = [int(p.read_text()) for p in sorted(run_dir.glob("consumer-*.pid"))]
        assert len(pids) == 2
        for pid in pids:
            os.kill(pid, 0)  # alive
        # Each consumer serves its metrics on its own port; together they loaded the sample.
        assert f"consumer-2: started (pid {pids[1]}, log {log_dir}/consumer-2.log, metrics " \
               f"port {base + 1})" in started.stdout
        want = summary["publish"]["batches_total"]
        assert _batches_done(range(base, base + 2), want) == want
        assert "2 running" in _count_running(make_ok(*args, "status", env=env).stdout)
        stopped = make_ok(*args, "stop", env=env, timeout=90)
        assert "stopped 2 consumer(s)" in stopped.stdout
        assert not list(run_dir.glob("*.pid"))
        assert not list(run_dir.glob("*.ready"))  # each consumer removed its own
        for pid in pids:
            assert not _alive(pid)
        assert "nothing running" in make_ok(*args, "stop", env=env).stdout
    finally:
        make(*args, "stop", env=env, timeout=90)
        _delete_queues(f"make-test-{tag}")
        _delete_redis_keys(f"make-test-{tag}")


@pytest.mark.integration
def test_consumers_publish_nothing_consume_then_stop(scratch_db: tuple[str, str],
                                                     tmp_path: Path) -> None:
    """`make consumers` runs the background consumers of `make start` without its producer:
    no job is published, a file the producer publishes afterwards is loaded, `make stop`
    ends them."""
    _, url = scratch_db
    tag = uuid.uuid4().hex[:12]
    env, args = _make_env(url, tag, tmp_path)
    args = (*args, "CONSUMERS=2", "CONSUMER_METRICS_PORT_BASE=0")
    run_dir, log_dir = tmp_path / "run", tmp_path / "logs"
    make_ok("-o", STAMP, "migrate-db", env=env)
    make_ok("-o", STAMP, "migrate-examples", env=env)
    try:
        started = make_ok(*args, "consumers", env=env)
        assert "consumer-1: consuming" in started.stdout
        assert "consumer-2: consuming" in started.stdout
        assert "producer" not in started.stdout.replace("or the producer;", "")
        assert sorted(p.name for p in log_dir.iterdir()) == ["consumer-1.log", "consumer-2.log"]
        assert fetch(url, "SELECT count(*) AS n FROM ingest_jobs")[0]["n"] == 0
        pids = [int(p.read_text()) for p in sorted(run_dir.glob("consumer-*.pid"))]
        assert len(pids) == 2
        assert "2 running" in _count_running(make_ok(*args, "status", env=env).stdout)
        again = make_ok(*args, "consumers", env=env)
        assert f"consumer-1: already running (pid {pids[0]})" in again.stdout

        loaded = subprocess.run(  # what the API or a user publishes: these consumers load it
            [str(ROOT / ".venv/bin/producer"), "--file", str(ROOT / INGEST_SAMPLE), "--wait",
             "--wait-timeout", "60", "--no-progress"], cwd=ROOT, env=env, text=True,
            capture_output=True, timeout=90, check=False)
        assert loaded.returncode == 0, loaded.stderr
        summary = json.loads(loaded.stdout.strip().splitlines()[-1])
        assert summary["state"] == "succeeded_with_rejects"
        assert summary["progress"]["records_done"] == SAMPLE_ROWS

        stopped = make_ok(*args, "stop", env=env, timeout=90)
        assert "stopped 2 consumer(s)" in stopped.stdout
        assert not list(run_dir.glob("*.pid"))
        for pid in pids:
            assert not _alive(pid)
    finally:
        make(*args, "stop", env=env, timeout=90)
        _delete_queues(f"make-test-{tag}")
        _delete_redis_keys(f"make-test-{tag}")


def _batches_done(ports: range, want: int) -> int:
    """The sum of ingest_consumer_batches_total{outcome="done"} of the consumers serving on
    ``ports``, once it is ``want`` (or after 30 s)."""
    deadline = time.monotonic() + 30
    while True:
        done = 0
        for port in ports:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
                text = answer.read().decode()
            (value,) = re.findall(r'^ingest_consumer_batches_total\{outcome="done"\} (\S+)$',
                                  text, re.MULTILINE)
            done += int(float(value))
        if done == want or time.monotonic() > deadline:
            return done
        time.sleep(0.2)


def _count_running(status: str) -> str:
    return f"{status.count(': running')} running"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is not running: only its parent (make, gone) could reap it.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[-1].split()[0] != "Z"


def _delete_redis_keys(prefix: str) -> None:
    client = redis.Redis.from_url(SERVICES["REDIS_URL"])
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def _delete_queues(queue: str) -> None:
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        return
    for name in (queue, f"{queue}.dlq"):
        subprocess.run([ctl, "-q", "delete_queue", name], capture_output=True, check=False,
                       timeout=60)


def _make_env(url: str, tag: str, tmp_path: Path) -> tuple[dict[str, str], tuple[str, ...]]:
    env = clean_env(**{**SERVICES, "DATABASE_URL": url}, INGEST_QUEUE=f"make-test-{tag}",
                    INGEST_REDIS_PREFIX=f"make-test-{tag}")
    args = ("-o", STAMP, f"RUN_DIR={tmp_path / 'run'}", f"LOG_DIR={tmp_path / 'logs'}")
    return env, args


@pytest.mark.integration
def test_start_fails_when_a_consumer_cannot_get_ready(tmp_path: Path) -> None:
    """An unreachable database: `make start` fails within START_TIMEOUT with the consumer's
    last error, publishes nothing and leaves no consumer running or pid file behind."""
    tag = uuid.uuid4().hex[:12]
    env, args = _make_env(database_url("x").replace("127.0.0.1:5432", "127.0.0.1:1"), tag,
                          tmp_path)
    try:
        result = make(*args, "start", "CONSUMERS=1", "START_TIMEOUT=3", env=env, timeout=60)
        assert result.returncode != 0
        assert "consumer-1 not consuming after 3s" in result.stderr
        assert "connect to PostgreSQL" in result.stderr
        assert "producer: publishing" not in result.stdout
        assert not list((tmp_path / "run").glob("*.pid"))
        assert "nothing running" in make_ok(*args, "status", env=env).stdout
    finally:
        make(*args, "stop", env=env, timeout=90)
        _delete_queues(f"make-test-{tag}")


@pytest.mark.integration
def test_stop_never_forgets_a_process_it_did_not_stop(tmp_path: Path) -> None:
    """A consumer that outlives SIGTERM keeps its pid file, so status and stop still see it."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    stubborn = subprocess.Popen(["bash", "-c", "trap '' TERM; exec -a consumer-stub sleep 60"])
    try:
        (run_dir / "consumer-1.pid").write_text(f"{stubborn.pid}\n")
        env, args = _make_env(SERVICES["DATABASE_URL"], "unused", tmp_path)
        result = make(*args, "stop", "CONSUMER_SHUTDOWN_TIMEOUT=1", env=env, timeout=60)
        assert result.returncode != 0
        assert f"still running after 6s: pid(s) {stubborn.pid}" in result.stderr
        assert (run_dir / "consumer-1.pid").exists()
        assert "consumer-1: running" in make_ok(*args, "status", env=env).stdout
    finally:
        stubborn.kill()
        stubborn.wait()
    again = make_ok(*args, "stop", env=env)
    assert "consumer-1: not running (stale pid file removed)" in again.stdout
    assert not (run_dir / "consumer-1.pid").exists()


@pytest.mark.integration
def test_logs_follow_the_current_run_only(tmp_path: Path) -> None:
    """`make logs` follows the logs of running consumers and the last producer, not old runs."""
    run_dir, log_dir = tmp_path / "run", tmp_path / "logs"
    run_dir.mkdir()
    log_dir.mkdir()
    (log_dir / "demo-consumer-1.log").write_text("old demo line\n")
    (log_dir / "consumer-2.log").write_text("old consumer line\n")
    (log_dir / "producer.log").write_text("current producer line\n")
    (log_dir / "consumer-1.log").write_text("current consumer line\n")
    (run_dir / "consumer-1.pid").write_text(f"{os.getpid()}\n")
    env, args = _make_env(SERVICES["DATABASE_URL"], "unused", tmp_path)
    try:
        make(*args, "logs", env=env, timeout=3)
    except subprocess.TimeoutExpired as exc:  # tail -F follows until stopped
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else str(exc.stdout)
    else:
        raise AssertionError("make logs returned instead of following")
    assert "current producer line" in out
    assert "current consumer line" in out
    assert "old demo line" not in out
    assert "old consumer line" not in out
