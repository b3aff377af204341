"""``ingest``: schema init (reflect -> file -> loads back equal), datasets, lineage, errors.

Integration tests against the session's PostgreSQL database (``database_url``); each test
makes its own tables in a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest
import yaml

from libs.schema import from_file
from libs.schema.from_table import dataset_from_table

ROOT = Path(__file__).resolve().parents[1]

ORDERS = """
CREATE TABLE {s}.orders (
    region      varchar(3) NOT NULL,
    order_no    integer NOT NULL,
    placed_on   date NOT NULL,
    customer    text,
    total       numeric(12, 2),
    paid        boolean NOT NULL DEFAULT false,
    ref         uuid UNIQUE,
    note        varchar(200),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (region, order_no)
)"""
ACCENTED = 'CREATE TABLE {s}."Pedidos" ("Código" integer PRIMARY KEY, "DATA DA ÚLTIMA" date)'
TWO_KEYS = "CREATE TABLE {s}.two (a int NOT NULL UNIQUE, b text NOT NULL UNIQUE)"


def ingest(*args: str, url: str, cwd: Path = ROOT,
           extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "INGEST_DATASETS_DIR"}
    env.update(DATABASE_URL=url, **(extra_env or {}))
    return subprocess.run([sys.executable, "-m", "ingest", *args], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=60, check=False)


def names_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def one_error_line(run: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert run.returncode == code, run
    assert "Traceback" not in run.stderr
    [line] = run.stderr.splitlines()
    assert line.startswith("error: ")
    return line


@pytest.fixture
async def db_schema(database_url: str) -> AsyncIterator[tuple[asyncpg.Connection, str]]:
    name = f"cli_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(database_url)
    await conn.execute(f"CREATE SCHEMA {name}")
    for ddl in (ORDERS, ACCENTED, TWO_KEYS):
        await conn.execute(ddl.format(s=name))
    try:
        yield conn, name
    finally:
        await conn.execute(f"DROP SCHEMA {name} CASCADE")
        await conn.close()


pytestmark = pytest.mark.integration


async def test_schema_init_writes_a_file_that_loads_back_as_the_reflection(
        database_url: str, db_schema: tuple[asyncpg.Connection, str], tmp_path: Path) -> None:
    conn, schema = db_schema
    out = tmp_path / "orders.yaml"
    run = ingest("schema", "init", "--table", "orders", "--db-schema", schema, "--out",
                 str(out), url=database_url)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result == {"status": "written", "file": str(out), "dataset": "orders",
                      "table": "orders", "key": ["region", "order_no"], "fields": 9}
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Dataset orders: loads into table")
    assert "To add a rule" in text
    assert f"--dataset {out}`" in text  # not in the datasets directory: the path
    loaded = from_file.load(str(out))
    reflected = await dataset_from_table(conn, "orders", schema)
    assert replace(loaded, source=reflected.source) == reflected
    assert loaded.fingerprint == reflected.fingerprint
    assert loaded.primary_key == ("region", "order_no")
    required = {f.name for f in loaded.fields if f.constraints.required}
    assert required == {"region", "order_no", "placed_on"}  # NOT NULL without a default
    note = loaded.get_field("note")
    assert (note.type, note.constraints.max_length, note.column_type) == (
        "string", 200, "character varying(200)")
    assert loaded.get_field("ref").format == "uuid"

    again = ingest("schema", "init", "--table", "orders", "--db-schema", schema, "--out",
                   str(out), url=database_url)
    assert "exists" in one_error_line(again)
    out.write_text("# edited\n")
    forced = ingest("schema", "init", "--table", "orders", "--db-schema", schema, "--out",
                    str(out), "--force", url=database_url)
    assert forced.returncode == 0, forced.stderr
    assert out.read_text(encoding="utf-8") == text
    assert names_in(tmp_path) == ["orders.yaml"]  # no temporary left


async def test_schema_init_to_stdout_and_as_json(
        database_url: str, db_schema: tuple[asyncpg.Connection, str], tmp_path: Path) -> None:
    _, schema = db_schema
    run = ingest("schema", "init", "--table", "orders", "--db-schema", schema,
                 url=database_url)
    assert run.returncode == 0, run.stderr
    data = yaml.safe_load(run.stdout)
    assert data["schema"]["primaryKey"] == ["region", "order_no"]
    assert data["x-ingest"] == {"table": "orders", "dbSchema": schema}
    assert not names_in(tmp_path)
    out = tmp_path / "orders.json"
    written = ingest("schema", "init", "--table", "orders", "--db-schema", schema, "--out",
                     str(out), url=database_url)
    assert written.returncode == 0, written.stderr
    assert json.loads(out.read_text())["schema"] == data["schema"]


async def test_schema_init_key_choice_and_refusals(
        database_url: str, db_schema: tuple[asyncpg.Connection, str], tmp_path: Path) -> None:
    _, schema = db_schema
    base = ("schema", "init", "--db-schema", schema)
    several = ingest(*base, "--table", "two", url=database_url)
    assert "several unique keys" in one_error_line(several)
    chosen = ingest(*base, "--table", "two", "--key", "b", url=database_url)
    assert yaml.safe_load(chosen.stdout)["schema"]["primaryKey"] == ["b"]
    assert "no unique index" in one_error_line(
        ingest(*base, "--table", "two", "--key", "a,b", url=database_url))
    assert "--key" in one_error_line(ingest(*base, "--table", "two", "--key", "a,",
                                            url=database_url))
    assert "does not exist" in one_error_line(ingest(*base, "--table", "nope",
                                                     url=database_url))
    accented = one_error_line(ingest(*base, "--table", "Pedidos", "--out",
                                     str(tmp_path / "p.yaml"), url=database_url))
    assert "not a plain identifier" in accented
    assert "producer --table Pedidos" in accented
    assert not names_in(tmp_path)
    assert "must end" not in accented
    assert "a dataset file ends in" in one_error_line(
        ingest(*base, "--table", "orders", "--out", str(tmp_path / "o.txt"), url=database_url))


async def test_schema_lineage_prints_sql_and_runs_none(
        database_url: str, db_schema: tuple[asyncpg.Connection, str]) -> None:
    conn, schema = db_schema
    run = ingest("schema", "lineage", "--table", "Pedidos", "--db-schema", schema,
                 url=database_url)
    assert run.returncode == 0, run.stderr
    statements = [line for line in run.stdout.splitlines() if not line.startswith("--")]
    assert statements == [f'ALTER TABLE "{schema}"."Pedidos"',
                          '    ADD COLUMN "job_id" text,',
                          '    ADD COLUMN "line_no" integer;']
    assert "ingest_keys" in run.stdout
    assert "1.9-2.4x" in run.stdout
    columns = await conn.fetch("SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass"
                               " AND attnum > 0", f'{schema}."Pedidos"')
    assert "job_id" not in {r["attname"] for r in columns}  # printed, not executed
    await conn.execute(run.stdout.replace(f'"{schema}"', schema, 0))  # it is valid SQL
    done = ingest("schema", "lineage", "--table", "Pedidos", "--db-schema", schema,
                  url=database_url)
    assert "nothing to run" in done.stdout
    assert not [line for line in done.stdout.splitlines() if not line.startswith("--")]


def test_datasets_lists_the_bundled_ones(database_url: str) -> None:
    run = ingest("datasets", "--json", url=database_url)
    assert run.returncode == 0, run.stderr
    rows = {row["name"]: row for row in json.loads(run.stdout)}
    assert set(rows) == {"customers", "user_purchase", "suppliers"}
    assert rows["user_purchase"] | {"fingerprint": ""} == {
        "name": "user_purchase", "file": "datasets/user_purchase.yaml",
        "table": "user_purchase", "key": ["cpf"], "mode": "insert", "layout": "aligned",
        "fingerprint": ""}
    table = ingest("datasets", url=database_url).stdout.splitlines()
    assert table[0].split() == ["NAME", "TABLE", "KEY", "MODE", "LAYOUT", "FILE"]
    assert table[1].split() == ["customers", "customers", "email", "insert", "delimited",
                                "datasets/customers.yaml"]


def test_datasets_lists_a_broken_file_with_its_error(database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "sets"
    folder.mkdir()
    (folder / "good.yaml").write_text((ROOT / "datasets" / "suppliers.yaml").read_text())
    (folder / "bad.yaml").write_text("name: bad\nschema: {fields: [{name: x, type: money}]}\n")
    (folder / "syntax.yml").write_text("name: [unclosed\n")
    (folder / "good.yml").write_text("{}")  # shadowed by good.yaml
    (folder / "notes.txt").write_text("not a dataset")
    run = ingest("datasets", "--json", url=database_url,
                 extra_env={"INGEST_DATASETS_DIR": str(folder)})
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    rows = json.loads(run.stdout)
    assert [(row["name"], "error" in row) for row in rows] == [
        ("bad", True), ("good", False), ("good", True), ("syntax", True)]
    assert "'money' is not one of" in rows[0]["error"]
    assert rows[1]["table"] == "suppliers"
    assert "shadowed by" in rows[2]["error"]
    assert "not valid YAML" in rows[3]["error"]
    table = ingest("datasets", "--datasets-dir", str(folder), url=database_url)
    assert table.returncode == 1
    assert any("BROKEN" in line and "bad.yaml" in line for line in table.stdout.splitlines())
    assert len(table.stdout.splitlines()) == 5
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no dataset files" in ingest("datasets", "--datasets-dir", str(empty),
                                        url=database_url).stdout
    missing = ingest("datasets", "--datasets-dir", str(tmp_path / "none"), url=database_url)
    assert "does not exist" in one_error_line(missing)


def test_no_command_prints_the_help(database_url: str) -> None:
    for args in ((), ("schema",)):
        run = ingest(*args, url=database_url)
        assert run.returncode == 2
        assert run.stdout.startswith(f"Usage: ingest {' '.join(args)}".rstrip() + " [OPTIONS]")
        assert "error" not in run.stderr


async def test_schema_init_into_the_datasets_directory_names_it(
        database_url: str, db_schema: tuple[asyncpg.Connection, str], tmp_path: Path) -> None:
    _, schema = db_schema
    run = ingest("schema", "init", "--table", "orders", "--db-schema", schema, "--out",
                 str(tmp_path / "my_orders.yaml"), url=database_url,
                 extra_env={"INGEST_DATASETS_DIR": str(tmp_path)})
    assert run.returncode == 0, run.stderr
    assert "--dataset my_orders`" in (tmp_path / "my_orders.yaml").read_text()
    listed = ingest("datasets", "--json", url=database_url,
                    extra_env={"INGEST_DATASETS_DIR": str(tmp_path)})
    [row] = json.loads(listed.stdout)
    assert (row["name"], row["table"], row["key"]) == (
        "my_orders", f"{schema}.orders", ["region", "order_no"])


@pytest.mark.parametrize(("args", "words"), [
    (("bogus",), ("No such command", "'ingest --help'")),
    (("schema", "init"), ("Missing option '--table'", "'ingest schema init --help'")),
    (("schema", "lineage", "--table"), ("--table", "requires an argument")),
    (("datasets", "--nope"), ("--nope",)),
])
def test_usage_errors_are_one_line_exit_2(database_url: str, args: tuple[str, ...],
                                          words: tuple[str, ...]) -> None:
    line = one_error_line(ingest(*args, url=database_url))
    for word in words:
        assert word in line


def test_database_errors_are_one_line(database_url: str) -> None:
    bad_scheme = ingest("schema", "lineage", "--table", "x", url="mysql://h/db")
    assert "DATABASE_URL" in one_error_line(bad_scheme)
    secret = "pw-" + uuid.uuid4().hex[:6]
    down = ingest("schema", "init", "--table", "x",
                  url=f"postgresql://u:{secret}@127.0.0.1:1/db")
    line = one_error_line(down, code=1)
    assert "PostgreSQL unavailable" in line
    assert secret not in line
