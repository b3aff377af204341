"""Issue 11 end to end: a user's own tables, through the real ``producer`` and ``consumer`` CLIs.

Each test makes its own table in the session database with its own DDL, writes its input
file, runs ``producer`` then ``consumer --burst``, and checks the result twice: with the
independent checker (``tests/checker.py``, rules written here from the table definitions, never
with libs/) and with the literal rows and rejects (line, reason) written out below by hand.

- the ``orders`` case of the issue: no dataset file (``--table orders``), header names that
  need normalization, bad rows; the table has no lineage columns (it is kept in ingest_keys);
- the same table with a dataset file written here (pattern, enum, minimum);
- a semicolon-separated Latin-1 file (options, then a cp1252 dataset file with a byte that
  does not decode), and what the producer says without the options;
- a composite primary key with in-file duplicates;
- one consumer loading the three bundled samples interleaved, as the producer published them.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import aio_pika
import asyncpg
import pytest

from libs import amqp
from libs import constants as c
from libs.settings import AmqpSettings
from tests.checker import (
    DUPLICATE_KEY,
    INVALID_EMAIL,
    INVALID_ENCODING,
    INVALID_TIMESTAMP,
    WRONG_COLUMN_COUNT,
    CsvDialect,
    Expected,
    assert_exact,
    check,
    expected,
)
from tests.checker_rules import (
    INVALID_BOOLEAN,
    INVALID_CPF,
    INVALID_DATE,
    INVALID_NUMBER,
    INVALID_UUID,
    MISSING_VALUE,
    NOT_IN_ENUM,
    OUT_OF_RANGE,
    PATTERN_MISMATCH,
    Column,
    Invalid,
    Parse,
    Rules,
    iso_date,
    text,
)
from tests.pipeline import (
    ROOT,
    Run,
    consume_burst,
    delete_topology,
    drain,
    execute,
    produce,
)

pytestmark = pytest.mark.integration

OWN_TABLES: Final = "orders, order_items, clientes"
INVALID_INTEGER: Final = "invalid_integer"  # no bundled dataset has an integer field


@pytest.fixture
async def own(database_url: str, clean_tables: None) -> AsyncIterator[str]:
    """The session database with the tool's tables emptied and none of this module's tables."""
    await execute(database_url, f"DROP TABLE IF EXISTS {OWN_TABLES}")
    yield database_url
    await execute(database_url, f"DROP TABLE IF EXISTS {OWN_TABLES}")


async def rows(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    conn = await asyncpg.connect(url)
    try:
        return [tuple(r) for r in await conn.fetch(sql, *args)]
    finally:
        await conn.close()


async def assert_checked(url: str, exp: Expected, jobs: list[str],
                         ignore_jobs: Sequence[str] = ()) -> None:
    """The independent checker: every record in the table or in ingest_rejects, once."""
    conn = await asyncpg.connect(url)
    try:
        assert_exact(await check(conn, exp, jobs, ignore_jobs=ignore_jobs))
    finally:
        await conn.close()


def load(path: Path, env: dict[str, str], *args: str) -> Run:
    """``producer --file path ARGS`` then ``consumer --burst``; the producer's run."""
    produced = produce(path, env, *args)
    assert produced.rc == 0, produced.stderr
    assert produced.summary["status"] == "ok", produced.summary
    consumed = consume_burst(env)
    assert consumed.rc == 0, consumed.stderr[-3000:]
    assert consumed.summary["dead_lettered"] == 0
    return produced


def outcomes(exp: Expected) -> list[tuple[int, str]]:
    """The checker's rejects of a one-file expectation, as (line, reason) in line order."""
    return sorted((line, reason) for (_, line), reason in exp.rejects.items())


async def rejects_of(url: str, job: str) -> list[tuple[int, str]]:
    return await rows(url, "SELECT line_no, reason FROM ingest_rejects WHERE job_id = $1 "
                      "ORDER BY line_no", job)


# --- the checker's rules for the tables below, written from their DDL -----------------------


def integer(low: int = -2**31, high: int = 2**31 - 1) -> Parse:
    """An integer column: optional sign and ASCII digits; outside the type's range (or a
    declared minimum) is out_of_range."""
    def parse(value: str) -> int:
        stripped = value.strip()
        if re.fullmatch(r"[+-]?[0-9]+", stripped) is None:
            raise Invalid(INVALID_INTEGER)
        number = int(stripped)
        if not low <= number <= high:
            raise Invalid(OUT_OF_RANGE)
        return number
    return parse


def decimal(integer_digits: int, scale: int, minimum: Decimal | None = None) -> Parse:
    """numeric(integer_digits + scale, scale) with a dot: it must fit without rounding
    (leading zeros and trailing fraction zeros do not count); below ``minimum`` is
    out_of_range."""
    def parse(value: str) -> Decimal:
        stripped = value.strip()
        form = re.fullmatch(r"[+-]?([0-9]*)(?:\.([0-9]*))?", stripped)
        if form is None or not (form[1] or form[2]):
            raise Invalid(INVALID_NUMBER)
        whole, fraction = form[1].lstrip("0"), (form[2] or "").rstrip("0")
        if len(whole) > integer_digits or len(fraction) > scale:
            raise Invalid(INVALID_NUMBER)
        number = Decimal(stripped)
        if minimum is not None and number < minimum:
            raise Invalid(OUT_OF_RANGE)
        return number
    return parse


# --- 1 and 2: the orders case of the issue ---------------------------------------------------

ORDERS: Final = """
CREATE TABLE orders (
    order_id               integer PRIMARY KEY,
    customer               text NOT NULL,
    data_da_ultima_compra  date,
    amount                 numeric(12, 2),
    "Sales Channel"        text,
    status                 text
)"""
# Every name needs normalization: case, spaces around and inside, an accent, "ID".
ORDERS_HEADER: Final = "Order ID,  Customer ,DATA DA ÚLTIMA COMPRA,Amount,SALES  CHANNEL,Status"
ORDERS_ROWS: Final = (
    "1,Ann,2024-01-31,10.50,web,new",                  # 2
    "2,Bob,,,shop,",                                   # 3  NULLs
    "3x,Cy,2024-02-01,1.00,web,new",                   # 4  invalid_integer
    "4,Dee,2024-02-30,2.00,web,new",                   # 5  invalid_date (no 30 Feb)
    "5,,2024-03-01,3.00,web,new",                      # 6  missing_value (customer)
    "1,Eve,2024-03-02,4.00,web,new",                   # 7  duplicate_key (line 2)
    "6,Fay,31/03/2024,5.00,web,new",                   # 8  invalid_date (not ISO)
    "7,Gus,2024-04-01,12.345,web,new",                 # 9  invalid_number (3 decimals)
    ",Hal,2024-04-02,6.00,web,new",                    # 10 missing_value (the key)
    '8,"Ida, Jr",2024-04-03,-7.25,"app, mobile",paid',  # 11
    "9,Jo,2024-04-04,1.00,web",                        # 12 wrong_column_count
    "3,Kim,2024-04-05,8.00,web,new",                   # 13 3 is free: line 4 was rejected
    "2147483648,Lu,2024-04-06,1.00,web,new",           # 14 out_of_range (integer)
    "10,Zoë Ünal,2024-04-07,1234567890.12,web,shipped",  # 15 10 integer digits fit
    "11,Max,2024-04-08,12345678901.00,web,new",        # 16 invalid_number (11 digits)
    "12,Nia,2024-04-09,1.00,web,lost",                 # 17 (not_in_enum with the file)
    "13,nia lower,2024-04-10,1.00,web,new",            # 18 (pattern_mismatch)
    "14,Ola,2024-04-11,-1.00,web,new",                 # 19 (out_of_range: amount)
    "0,Pia,2024-04-12,1.00,web,new",                   # 20 (out_of_range: order_id)
)
ORDERS_REJECTS: Final = [
    (4, INVALID_INTEGER), (5, INVALID_DATE), (6, MISSING_VALUE), (7, DUPLICATE_KEY),
    (8, INVALID_DATE), (9, INVALID_NUMBER), (10, MISSING_VALUE), (12, WRONG_COLUMN_COUNT),
    (14, OUT_OF_RANGE), (16, INVALID_NUMBER)]
# What the dataset file's rules add: customer pattern, status enum, minimums.
RULE_REJECTS: Final = [(11, OUT_OF_RANGE), (17, NOT_IN_ENUM), (18, PATTERN_MISMATCH),
                       (19, OUT_OF_RANGE), (20, OUT_OF_RANGE)]
ORDERS_RULES: Final = Rules(
    name="orders", table="orders", key=("order_id",), layout="delimited", missing=("",),
    columns=(
        Column("order_id", integer()),
        Column("customer", text(), required=True, is_string=True),
        Column("data_da_ultima_compra", iso_date),
        Column("amount", decimal(10, 2)),
        Column("Sales Channel", text(), is_string=True),
        Column("status", text(), is_string=True),
    ))
ORDERS_YAML: Final = """\
# A user's dataset file for the orders table, as `ingest schema init` starts it (each field
# with its columnType) plus rules; the quoted "Sales Channel" is left out: it is nullable, and
# names in files are plain identifiers.
name: orders
schema:
  fields:
    - {name: order_id, type: integer, constraints: {minimum: 1}, x-ingest: {columnType: integer}}
    - {name: customer, type: string, constraints: {required: true, pattern: "[A-Z].*"}}
    - {name: data_da_ultima_compra, type: date}
    - name: amount
      type: number
      constraints: {minimum: 0}
      x-ingest: {columnType: "numeric(12,2)"}
    - {name: status, type: string, constraints: {enum: [new, paid, shipped]}}
  primaryKey: [order_id]
x-ingest: {table: orders}
"""
ORDERS_FILE_RULES: Final = Rules(
    name="orders", table="orders", key=("order_id",), layout="delimited", missing=("",),
    columns=(
        Column("order_id", integer(low=1)),
        Column("customer", text(pattern=r"[A-Z].*"), required=True, is_string=True),
        Column("data_da_ultima_compra", iso_date),
        Column("amount", decimal(10, 2, minimum=Decimal(0))),
        Column("status", text(enum=("new", "paid", "shipped")), is_string=True),
    ))


def orders_file(path: Path) -> Path:
    path.write_bytes(("\n".join([ORDERS_HEADER, *ORDERS_ROWS]) + "\n").encode())
    return path


async def test_orders_table_without_a_dataset_file(
        tmp_path: Path, own: str, service_env: dict[str, str]) -> None:
    await execute(own, ORDERS)
    path = orders_file(tmp_path / "orders.csv")
    exp = expected([path], dataset=ORDERS_RULES)
    assert outcomes(exp) == ORDERS_REJECTS, "the checker's rules agree with the hand count"

    run = load(path, service_env, "--table", "orders")
    job = run.summary["job_id"]
    assert run.summary["rows_read"] == len(ORDERS_ROWS)
    await assert_checked(own, exp, [job])
    assert await rows(own, "SELECT * FROM orders ORDER BY order_id") == [
        (0, "Pia", date(2024, 4, 12), Decimal("1.00"), "web", "new"),
        (1, "Ann", date(2024, 1, 31), Decimal("10.50"), "web", "new"),
        (2, "Bob", None, None, "shop", None),
        (3, "Kim", date(2024, 4, 5), Decimal("8.00"), "web", "new"),
        (8, "Ida, Jr", date(2024, 4, 3), Decimal("-7.25"), "app, mobile", "paid"),
        (10, "Zoë Ünal", date(2024, 4, 7), Decimal("1234567890.12"), "web", "shipped"),
        (12, "Nia", date(2024, 4, 9), Decimal("1.00"), "web", "lost"),
        (13, "nia lower", date(2024, 4, 10), Decimal("1.00"), "web", "new"),
        (14, "Ola", date(2024, 4, 11), Decimal("-1.00"), "web", "new"),
    ]
    assert await rejects_of(own, job) == ORDERS_REJECTS
    # The user's table is as the user made it: no job_id / line_no / loaded_at was needed or
    # added; the lineage is in the tool's ingest_keys, the earliest valid line per key.
    assert await rows(own, "SELECT column_name FROM information_schema.columns WHERE "
                      "table_name = 'orders' AND table_schema = 'public' ORDER BY ordinal_position"
                      ) == [("order_id",), ("customer",), ("data_da_ultima_compra",),
                            ("amount",), ("Sales Channel",), ("status",)]
    assert await rows(own, "SELECT key::int, job_id, line_no FROM ingest_keys "
                      "WHERE target = 'public.orders' ORDER BY 1") == [
        (0, job, 20), (1, job, 2), (2, job, 3), (3, job, 13), (8, job, 11), (10, job, 15),
        (12, job, 17), (13, job, 18), (14, job, 19)]


async def test_orders_table_with_a_dataset_file_adds_its_rules(
        tmp_path: Path, own: str, service_env: dict[str, str]) -> None:
    await execute(own, ORDERS)
    path = orders_file(tmp_path / "orders.csv")
    spec = tmp_path / "orders.yaml"
    spec.write_text(ORDERS_YAML)
    exp = expected([path], dataset=ORDERS_FILE_RULES)
    assert outcomes(exp) == sorted(ORDERS_REJECTS + RULE_REJECTS)

    run = load(path, service_env, "--dataset", str(spec))
    job = run.summary["job_id"]
    await assert_checked(own, exp, [job])
    assert await rejects_of(own, job) == sorted(ORDERS_REJECTS + RULE_REJECTS)
    assert await rows(own, 'SELECT order_id, customer, "Sales Channel" FROM orders '
                      "ORDER BY 1") == [(1, "Ann", None), (2, "Bob", None), (3, "Kim", None),
                                        (10, "Zoë Ünal", None)]


async def test_dataset_file_without_column_types_keeps_the_tables_bounds(
        tmp_path: Path, own: str, service_env: dict[str, str]) -> None:
    """The table is checked against the file at start, so its integer range and numeric(12,2)
    bound the values as with --table (libs.schema.from_table.with_column_types): out_of_range
    and invalid_number, not a database_rejected and not a value PostgreSQL rounds (12.345
    stored as 12.35)."""
    await execute(own, ORDERS)
    path = tmp_path / "orders.csv"
    path.write_text("order_id,customer,amount\n1,Ann,12.345\n2147483648,Bob,1.00\n")
    spec = tmp_path / "orders.yaml"
    spec.write_text("name: orders\nschema:\n  fields:\n"
                    "    - {name: order_id, type: integer}\n"
                    "    - {name: customer, type: string, constraints: {required: true}}\n"
                    "    - {name: amount, type: number}\n"
                    "  primaryKey: [order_id]\nx-ingest: {table: orders}\n")
    job = load(path, service_env, "--dataset", str(spec)).summary["job_id"]
    stored = await rows(own, "SELECT order_id, amount::text FROM orders")
    rejects = await rejects_of(own, job)
    assert (stored, rejects) == ([], [(2, INVALID_NUMBER), (3, OUT_OF_RANGE)])


async def test_a_declared_column_type_other_than_the_columns_gives_way_to_the_table(
        tmp_path: Path, own: str, service_env: dict[str, str]) -> None:
    """``columnType: numeric(20,5)`` for a numeric(12,2) column: the table's type is used (a
    warning says so), so 1.235 is invalid_number instead of stored rounded as 1.24, and
    12345678901.5 out of numeric(12,2)'s range instead of database_rejected."""
    await execute(own, ORDERS)
    path = tmp_path / "orders.csv"
    path.write_text("order_id,customer,amount\n1,Ann,1.235\n2,Bob,12345678901.5\n3,Cy,7.5\n")
    spec = tmp_path / "orders.yaml"
    spec.write_text("name: orders\nschema:\n  fields:\n"
                    "    - {name: order_id, type: integer}\n"
                    "    - {name: customer, type: string, constraints: {required: true}}\n"
                    "    - {name: amount, type: number, x-ingest: {columnType: 'numeric(20,5)'}}\n"
                    "  primaryKey: [order_id]\nx-ingest: {table: orders}\n")
    produced = load(path, service_env, "--dataset", str(spec))
    assert "amount: numeric(20,5) -> numeric(12,2)" in produced.stderr
    job = produced.summary["job_id"]
    assert await rows(own, "SELECT order_id, amount::text FROM orders") == [(3, "7.50")]
    assert [line for line, _ in await rejects_of(own, job)] == [2, 3]
    assert {reason for _, reason in await rejects_of(own, job)} <= {INVALID_NUMBER, OUT_OF_RANGE}


# --- 3: a semicolon-separated Latin-1 file -----------------------------------------------------

CLIENTES: Final = """
CREATE TABLE clientes (
    codigo  integer PRIMARY KEY,
    nome    text NOT NULL,
    cidade  text,
    saldo   numeric(10, 2)
)"""
CLIENTES_HEADER: Final = "Código;Nome;Cidade;Saldo"
CLIENTES_ROWS: Final = (
    "1;José Ñúñez;São Paulo;10.50",     # 2
    '2;"Ana; Maria";Curitiba;',          # 3  a quoted delimiter; saldo NULL
    "3;Çedilha;Brasília;abc",            # 4  invalid_number
    "1;Dup;Natal;1.00",                  # 5  duplicate_key
    "4;Renée Ørsted;Québec;7.00",        # 6
    "5;Über Ñ;;-0.50",                   # 7
)
CLIENTES_RULES: Final = Rules(
    name="clientes", table="clientes", key=("codigo",), layout="delimited", missing=("",),
    columns=(
        Column("codigo", integer()),
        Column("nome", text(), required=True, is_string=True),
        Column("cidade", text(), is_string=True),
        Column("saldo", decimal(8, 2)),
    ))
CLIENTES_LOADED: Final = [
    (1, "José Ñúñez", "São Paulo", Decimal("10.50")),
    (2, "Ana; Maria", "Curitiba", None),
    (4, "Renée Ørsted", "Québec", Decimal("7.00")),
    (5, "Über Ñ", None, Decimal("-0.50")),
]
CLIENTES_YAML: Final = """\
name: clientes
encoding: cp1252
dialect: {delimiter: ";", header: true}
schema:
  fields:
    - {name: codigo, type: integer, x-ingest: {columnType: integer}}
    - {name: nome, type: string, constraints: {required: true}}
    - {name: cidade, type: string}
    - {name: saldo, type: number, x-ingest: {columnType: "numeric(10,2)"}}
  primaryKey: [codigo]
x-ingest: {table: clientes}
"""
LATIN1_SEMICOLON: Final = CsvDialect(delimiter=";", encoding="latin-1")


def clientes_file(path: Path, encoding: str = "latin-1", extra: bytes = b"") -> Path:
    path.write_bytes(("\n".join([CLIENTES_HEADER, *CLIENTES_ROWS]) + "\n").encode(encoding)
                     + extra)
    return path


async def test_semicolon_latin1_file_with_options(
        tmp_path: Path, own: str, service_env: dict[str, str]) -> None:
    await execute(own, CLIENTES)
    path = clientes_file(tmp_path / "clientes.csv")
    exp = expected([path], dataset=CLIENTES_RULES, dialect=LATIN1_SEMICOLON)
    assert outcomes(exp) == [(4, INVALID_NUMBER), (5, DUPLICATE_KEY)]

    run = load(path, service_env, "--table", "clientes", "--delimiter", ";",
               "--encoding", "latin-1")
    assert "may not be in the dataset's dialect" not in run.stderr
    await assert_checked(own, exp, [run.summary["job_id"]])
    assert await rows(own, "SELECT * FROM clientes ORDER BY 1") == CLIENTES_LOADED
    assert await rejects_of(own, run.summary["job_id"]) == [(4, INVALID_NUMBER),
                                                            (5, DUPLICATE_KEY)]


async def test_semicolon_cp1252_file_by_its_dataset_file(
        tmp_path: Path, own: str, service_env: dict[str, str]) -> None:
    """The dialect and encoding declared in the dataset file; cp1252's own characters (€, “”)
    load, a record with 0x81 (undefined in cp1252) is invalid_encoding, the rest loads."""
    await execute(own, CLIENTES)
    spec = tmp_path / "clientes.yaml"
    spec.write_text(CLIENTES_YAML)
    extra = ("6;Preço “Bom” €;Lisboa;1.00\n".encode("cp1252")      # 8
             + b"7;Bad\x81Byte;Porto;2.00\n"                         # 9: undefined byte
             + "8;Último;Évora;3.00\n".encode("cp1252"))             # 10
    path = clientes_file(tmp_path / "clientes.csv", "cp1252", extra)
    dialect = CsvDialect(delimiter=";", encoding="cp1252")
    exp = expected([path], dataset=CLIENTES_RULES, dialect=dialect)
    assert outcomes(exp) == [(4, INVALID_NUMBER), (5, DUPLICATE_KEY), (9, INVALID_ENCODING)]

    run = load(path, service_env, "--dataset", str(spec))
    job = run.summary["job_id"]
    await assert_checked(own, exp, [job])
    assert await rows(own, "SELECT * FROM clientes ORDER BY 1") == [
        *CLIENTES_LOADED, (6, "Preço “Bom” €", "Lisboa", Decimal("1.00")),
        (8, "Último", "Évora", Decimal("3.00"))]
    assert await rejects_of(own, job) == [(4, INVALID_NUMBER), (5, DUPLICATE_KEY),
                                          (9, INVALID_ENCODING)]


def hint_line(run: Run) -> str:
    """The producer's warning that the file may be in another dialect or encoding."""
    found = [line for line in run.lines if "may not be in the dataset's dialect" in line]
    assert len(found) == 1, run.stderr
    return found[0]


async def test_semicolon_latin1_file_without_options_is_not_published_silently(
        tmp_path: Path, own: str, service_env: dict[str, str]) -> None:
    """Without ``--delimiter ';' --encoding latin-1``: the accented header stops the producer
    (exit 2) after a warning naming both options; with an ASCII header and only the delimiter
    given, the file is published with the encoding warning and its accented records come back
    invalid_encoding, as the checker reads them in UTF-8."""
    await execute(own, CLIENTES)
    path = clientes_file(tmp_path / "clientes.csv")
    bare = produce(path, service_env, "--table", "clientes")
    assert bare.rc == 2, bare.stderr
    assert "--delimiter ';'" in hint_line(bare)
    assert "--encoding cp1252" in hint_line(bare)  # charset-normalizer's guess for Latin-1
    assert bare.lines[-1].startswith("error: the header (line 1) is not valid UTF-8")
    assert await rows(own, "SELECT count(*) FROM ingest_jobs") == [(0,)]

    ascii_header = tmp_path / "ascii-header.csv"
    ascii_header.write_bytes(path.read_bytes().replace("Código".encode("latin-1"), b"Codigo"))
    exp = expected([ascii_header], dataset=CLIENTES_RULES, dialect=CsvDialect(delimiter=";"))
    assert outcomes(exp) == [(2, INVALID_ENCODING), (4, INVALID_ENCODING),
                             (6, INVALID_ENCODING), (7, INVALID_ENCODING)]
    run = load(ascii_header, service_env, "--table", "clientes", "--delimiter", ";")
    assert "--encoding cp1252" in hint_line(run)
    await assert_checked(own, exp, [run.summary["job_id"]])
    assert await rows(own, "SELECT * FROM clientes ORDER BY 1") == [
        (1, "Dup", "Natal", Decimal("1.00")), (2, "Ana; Maria", "Curitiba", None)]


# --- 4: a composite primary key ---------------------------------------------------------------

ORDER_ITEMS: Final = """
CREATE TABLE order_items (
    order_id  integer,
    item      smallint,
    sku       text NOT NULL,
    qty       integer,
    PRIMARY KEY (order_id, item)
)"""
ORDER_ITEMS_ROWS: Final = (
    "1,1,A-1,2",      # 2
    "1,2,B-2,1",      # 3
    "2,1,A-1,5",      # 4  same item, other order: another key
    "1,2,C-3,9",      # 5  duplicate_key (1, 2) of line 3
    "2,x,D,1",        # 6  invalid_integer
    "2,2,E,",         # 7  qty NULL
    "3,40000,F,1",    # 8  out_of_range (smallint)
    "2,1,G,1",        # 9  duplicate_key (2, 1) of line 4
    ",3,H,1",         # 10 missing_value (a key column)
    "3,1,,1",         # 11 missing_value (sku)
    "03,1,I,1",       # 12 (3, 1): free, line 11 was rejected
    "3,01,J,1",       # 13 duplicate_key: (3, 1) again, written otherwise
)
ORDER_ITEMS_RULES: Final = Rules(
    name="order_items", table="order_items", key=("order_id", "item"), layout="delimited",
    missing=("",), columns=(
        Column("order_id", integer()),
        Column("item", integer(-2**15, 2**15 - 1)),
        Column("sku", text(), required=True, is_string=True),
        Column("qty", integer()),
    ))


async def test_composite_primary_key_with_in_file_duplicates(
        tmp_path: Path, own: str, service_env: dict[str, str]) -> None:
    await execute(own, ORDER_ITEMS)
    path = tmp_path / "items.csv"
    path.write_text("\n".join(["Order ID,Item,SKU,Qty", *ORDER_ITEMS_ROWS]) + "\n")
    want = [(5, DUPLICATE_KEY), (6, INVALID_INTEGER), (8, OUT_OF_RANGE), (9, DUPLICATE_KEY),
            (10, MISSING_VALUE), (11, MISSING_VALUE), (13, DUPLICATE_KEY)]
    exp = expected([path], dataset=ORDER_ITEMS_RULES)
    assert outcomes(exp) == want

    run = load(path, service_env, "--table", "order_items", "--batch-size", "3")
    job = run.summary["job_id"]
    await assert_checked(own, exp, [job])
    assert await rows(own, "SELECT * FROM order_items ORDER BY 1, 2") == [
        (1, 1, "A-1", 2), (1, 2, "B-2", 1), (2, 1, "A-1", 5), (2, 2, "E", None),
        (3, 1, "I", 1)]
    assert await rejects_of(own, job) == want
    assert await rows(own, "SELECT key, line_no FROM ingest_keys "
                      "WHERE target = 'public.order_items' ORDER BY 2") == [
        ('["1", "1"]', 2), ('["1", "2"]', 3), ('["2", "1"]', 4), ('["2", "2"]', 7),
        ('["3", "1"]', 12)]


# --- 5: one consumer, the three bundled samples interleaved ---------------------------------

SAMPLES: Final = {"customers": ROOT / "data" / "customers_sample.csv",
                  "user_purchase": ROOT / "data" / "user_purchase_sample.txt",
                  "suppliers": ROOT / "data" / "suppliers_sample.csv"}
BATCH_SIZES: Final = {"customers": "5", "user_purchase": "2", "suppliers": "3"}


async def republish(env: dict[str, str],
                    messages: list[aio_pika.abc.AbstractIncomingMessage]) -> None:
    """Put the producer's messages, unchanged, on the test's queue in the order given."""
    settings = AmqpSettings(env["AMQP_URL"], env["INGEST_QUEUE"])
    connection = await aio_pika.connect(settings.url)
    try:
        exchange, _ = await amqp.declare(await connection.channel(), settings)
        for got in messages:
            headers = {k: v for k, v in (got.headers or {}).items() if k != "x-delivery-count"}
            await amqp.publish(exchange, settings, aio_pika.Message(
                body=got.body, headers=headers, delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                message_id=got.message_id, content_type=got.content_type, type=got.type,
                app_id=got.app_id), 10)
    finally:
        await connection.close()


async def test_one_consumer_loads_the_three_bundled_samples_interleaved(
        own: str, example_tables: str, service_env: dict[str, str]) -> None:
    """Each sample published by the real producer (``--dataset NAME``) into a staging queue of
    its own; the test interleaves the three producers' messages batch by batch on the test's
    queue; one ``consumer --burst --parallel 1`` loads them in that order. (Unlike
    test_load_datasets' interleaving test, whose batches the test cuts and registers itself.)"""
    url = example_tables
    jobs: dict[str, str] = {}
    staged: dict[str, list[aio_pika.abc.AbstractIncomingMessage]] = {}
    try:
        for name, path in SAMPLES.items():
            stage = {**service_env, "INGEST_QUEUE": f"{service_env['INGEST_QUEUE']}-{name}"}
            run = produce(path, stage, "--dataset", name, "--batch-size", BATCH_SIZES[name])
            assert run.rc == 0, run.stderr
            jobs[name] = run.summary["job_id"]
            staged[name] = await drain(stage["AMQP_URL"], stage["INGEST_QUEUE"])
            assert len(staged[name]) == run.summary["batches_total"]
    finally:
        for name in SAMPLES:
            await delete_topology(service_env["AMQP_URL"],
                                   f"{service_env['INGEST_QUEUE']}-{name}")
    assert [len(m) for m in staged.values()] == [8, 3, 7]
    mixed = [m for i in range(8) for name in SAMPLES if i < len(staged[name])
             for m in [staged[name][i]]]
    await republish(service_env, mixed)

    run = consume_burst(service_env, "--parallel", "1")
    assert run.rc == 0, run.stderr[-3000:]
    assert run.summary["batches_done"] == 18
    assert run.summary["dead_lettered"] == run.summary["returned"] == 0
    committed = await rows(url, "SELECT job_id FROM ingest_batches ORDER BY finished_at")
    assert [job for (job,) in committed] == [(m.headers or {})[c.H_JOB] for m in mixed]
    assert len({job for (job,) in committed[:6]}) == 3, "the datasets alternate"

    for name, path in SAMPLES.items():
        others = [job for other, job in jobs.items() if other != name]
        await assert_checked(url, expected([path], dataset=name), [jobs[name]],
                             ignore_jobs=others)
    # The README's figures for `make demo`, which loads the same samples.
    assert await rows(url, "SELECT (SELECT count(*) FROM customers), "
                      "(SELECT count(*) FROM user_purchase), (SELECT count(*) FROM suppliers), "
                      "(SELECT count(*) FROM ingest_rejects)") == [(34, 4, 6, 23)]
    assert await rows(url, "SELECT j.dataset, r.reason, count(*) FROM ingest_rejects r "
                      "JOIN ingest_jobs j USING (job_id) GROUP BY 1, 2 ORDER BY 1, 2") == sorted([
        ("customers", r, 1) for r in (WRONG_COLUMN_COUNT, INVALID_EMAIL, INVALID_DATE,
                                      INVALID_TIMESTAMP, INVALID_NUMBER, DUPLICATE_KEY)] + [
        ("suppliers", DUPLICATE_KEY, 8),  # lines 14-22 but 21: insert mode, keys taken
        ("suppliers", INVALID_UUID, 1), ("suppliers", PATTERN_MISMATCH, 1),
        ("suppliers", MISSING_VALUE, 2), ("suppliers", INVALID_BOOLEAN, 1),
        ("suppliers", NOT_IN_ENUM, 1), ("suppliers", WRONG_COLUMN_COUNT, 1),
        ("user_purchase", INVALID_CPF, 1), ("user_purchase", INVALID_DATE, 1)])


async def test_keyless_table_republished_with_other_batches_loads_each_record_once(
        tmp_path: Path, own: str, service_env: dict[str, str]) -> None:
    """A public report: the offset lost, the file republished with another --batch-size, and a
    table without a key took every record twice (the new batches' line ranges were new). The
    job keeps its first batching: the same batches, recognised as done."""
    await execute(own, "CREATE TABLE orders (id integer, v text)")
    path = tmp_path / "kl.csv"
    path.write_text("id,v\n1,a\n2,b\n3,c\n4,d\n5,e\n")
    first = load(path, service_env, "--table", "orders", "--batch-size", "2")
    lost = {**service_env, "INGEST_REDIS_PREFIX": service_env["INGEST_REDIS_PREFIX"] + ":lost"}
    again = load(path, lost, "--table", "orders", "--batch-size", "3")
    assert again.summary["job_id"] == first.summary["job_id"]
    assert "first published with other batches" in again.stderr
    assert await rows(own, "SELECT id, v FROM orders ORDER BY id") == [
        (1, "a"), (2, "b"), (3, "c"), (4, "d"), (5, "e")]
    assert await rows(own, "SELECT count(*), sum(records) FROM ingest_batches") == [(3, 5)]
