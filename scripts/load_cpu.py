#!/usr/bin/env python3
"""PostgreSQL CPU per batch for insert mode's ways of writing a keyed batch, without broker or
consumer: what each costs the database, measured on the backend itself.

    .venv/bin/python scripts/load_cpu.py [--file F] [--table-rows 900000]
        [--batch-size 20000] [--taken 26] [--repeat 10] [--database load_cpu]

The database ``--database`` on $DATABASE_URL's server (same host: the backend's CPU time is
read from /proc) is dropped and made again with the tool's and the example tables (the bench's
``fresh_db``).
``customers`` gets the first ``--table-rows`` records of ``--file`` (a clean customers CSV,
default the one ``make data`` makes); the batch is the next ``--batch-size`` records, in key
order (as the insert loader sends them), of which ``--taken`` (drawn with seed 1) get the key
of a record already in the table: 26 is what the bench's dirty 1M file has per 20,000-record
batch (1,290 keys that an earlier batch took). Each way runs ``--repeat`` times, each time in
a transaction rolled back, and its backend CPU time (``/proc/PID/stat``, clock ticks) is kept:

- ``direct``: COPY of the batch's free-key records straight into the table (a clean batch:
  what ``_Run.write_rows`` does);
- ``stage``: the whole batch through the stage, the statements of ``libs.load.insert``
  (``InRowSql``: COPY into the temporary table, INSERT ... ON CONFLICT DO NOTHING in key
  order that returns the lines it did not insert): what every batch of a dirty file costs
  once its target's batches meet taken keys;
- ``split``: ``direct`` for the free keys, then the stage for the taken ones only: what a
  batch would cost if the consumer knew its taken keys beforehand;
- ``probe``: one index lookup of every key of the batch (``= ANY($1::text[])``).

Prints one JSON line: per way, the median and the lowest CPU milliseconds per batch and the
median as CPU seconds per 1M records. Exit 2 on a user error (no file, another host).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))  # the bench's modules, as bench/bench.py imports them

import asyncpg  # noqa: E402
from children import cpu_ticks  # noqa: E402
from cpu import TICK_S  # noqa: E402
from errors import EXIT_FAILED, EXIT_USAGE, BenchError, UsageError  # noqa: E402
from services import fresh_db  # noqa: E402
from settings import Urls  # noqa: E402

from libs.load.insert import InRowSql  # noqa: E402
from libs.load.payload import copy_source  # noqa: E402
from libs.load.target import LINEAGE, Target  # noqa: E402
from libs.schema.names import qualified  # noqa: E402

DEFAULT_FILE: Final = ROOT / "data/generated/customers-bench-1000000-seed1-keys0-999999-clean.csv"
JOB: Final = "load-cpu"


def backend_cpu(pid: int) -> float:
    """CPU seconds (user + system) of process ``pid`` so far."""
    ticks = cpu_ticks(pid)
    if ticks is None:
        raise UsageError(f"backend {pid} is not on this host: run this on the database's "
                         "machine")
    return ticks * TICK_S


def records(path: Path, count: int) -> tuple[list[str], list[str]]:
    """The header's names and the first ``count`` records (lines: the clean file has no
    quoted field)."""
    with path.open(encoding="utf-8") as handle:
        header = handle.readline().rstrip("\n").split(",")
        lines = [line.rstrip("\n") for _, line in zip(range(count), handle, strict=False)]
    if len(lines) < count:
        raise UsageError(f"{path} has {len(lines)} records, {count} needed")
    return header, lines


def payload(lines: list[str], first: int) -> bytes:
    """COPY CSV data of ``lines`` with their lineage (job, line number from ``first``)."""
    return "".join(f"{line},{JOB},{first + n}\n" for n, line in enumerate(lines)).encode()


def batch_with_taken(table: list[str], batch: list[str], taken: int) -> tuple[list[str], set[int]]:
    """``batch`` sorted by key, ``taken`` of its records given a key of ``table``; returns the
    records and the places of the taken ones."""
    rng = random.Random(1)
    rows = list(batch)
    places = set(rng.sample(range(len(rows)), taken))
    for place in places:
        key = rng.choice(table).split(",", 1)[0]
        rows[place] = key + "," + rows[place].split(",", 1)[1]
    order = sorted(range(len(rows)), key=lambda at: rows[at].split(",", 1)[0])
    return [rows[at] for at in order], {order.index(at) for at in places}


async def measure(url: str, args: argparse.Namespace) -> dict[str, Any]:
    header, lines = records(args.file, args.table_rows + args.batch_size)
    table_lines, batch = lines[: args.table_rows], lines[args.table_rows :]
    rows, taken = batch_with_taken(table_lines, batch, args.taken)
    columns = (*header, *LINEAGE)
    free = payload([r for at, r in enumerate(rows) if at not in taken], args.table_rows)
    whole = payload(rows, args.table_rows)
    taken_only = payload([rows[at] for at in sorted(taken)], args.table_rows)
    keys = [r.split(",", 1)[0] for r in rows]
    target = Target(name="customers", table=qualified("customers", "public"),
                    relname="customers", schema="public", columns=tuple(header),
                    key=("email",), in_row=True)
    sql = InRowSql(target)
    conn = await asyncpg.connect(url)
    try:
        await conn.copy_to_table("customers", source=copy_source(payload(table_lines, 0)),
                                 columns=list(columns), format="csv")
        await conn.execute("VACUUM ANALYZE customers")
        pid = await conn.fetchval("SELECT pg_backend_pid()")

        async def copy(data: bytes, table: str = "customers") -> None:
            await conn.copy_to_table(table, source=copy_source(data), columns=list(columns),
                                     format="csv")

        async def stage(data: bytes) -> None:
            await conn.execute(sql.create_stage)
            await copy(data, sql.stage)
            await conn.execute(sql.index_joins)
            await conn.fetchrow(sql.insert_new)

        async def split() -> None:
            await copy(free)
            await stage(taken_only)

        async def probe() -> None:
            await conn.fetch("SELECT email FROM customers WHERE email = ANY($1::text[])", keys)

        ways: dict[str, Callable[[], Awaitable[None]]] = {
            "direct": lambda: copy(free), "stage": lambda: stage(whole), "split": split,
            "probe": probe}
        spent: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(args.repeat):
            for name, way in ways.items():
                transaction = conn.transaction()
                await transaction.start()
                started = backend_cpu(pid)
                await way()
                spent[name].append((backend_cpu(pid) - started) * 1000)
                await transaction.rollback()
    finally:
        await conn.close()
    per_million = 1_000_000 / args.batch_size / 1000
    return {"batch": args.batch_size, "taken": args.taken, "table_rows": args.table_rows,
            "repeat": args.repeat, "ms_per_batch": {
                name: {"median": round(statistics.median(v), 1), "min": round(min(v), 1),
                       "cpu_s_per_1m": round(statistics.median(v) * per_million, 2)}
                for name, v in spent.items()}}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    return await measure(await fresh_db(Urls.from_env(), args.database), args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--table-rows", type=int, default=900_000)
    parser.add_argument("--batch-size", type=int, default=20_000)
    parser.add_argument("--taken", type=int, default=26)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--database", default="load_cpu")
    args = parser.parse_args(argv)
    try:
        if not 0 <= args.taken <= args.batch_size or args.repeat < 1:
            raise UsageError("--taken must be between 0 and --batch-size, --repeat at least 1")
        if not args.file.is_file():
            raise UsageError(f"{args.file}: no such file (make data makes it)")
        result = asyncio.run(run(args))
    except UsageError as exc:
        print(f"load_cpu: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BenchError as exc:
        print(f"load_cpu: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
