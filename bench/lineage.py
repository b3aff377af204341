"""Lineage cost: load the same customers file into a table with job_id/line_no columns (lineage
in the row) and into one without (lineage in ingest_keys), through the consumer's load path.

    .venv/bin/python bench/lineage.py --rows 1000000 [--parallel 2] [--batch-size 5000]

A scratch database is created (and dropped) on DATABASE_URL's server and migrated with
migrations/ and migrations-examples/. The file is validated once (not timed); each variant loads
every batch on ``--parallel`` connections (one transaction per batch, as the consumer does),
twice: a first load into the empty table, then a replay of every batch of a second job with the
same rows (the duplicate-key path: every key is settled against the loaded row); the variants
alternate ``--repeat`` times and the best time of each is printed, with rows/s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from libs.csvfile import read_header  # noqa: E402
from libs.load.insert import InsertLoader  # noqa: E402
from libs.load.prepared import Prepared  # noqa: E402
from libs.load.target import Target, target_for  # noqa: E402
from libs.messages import Batch  # noqa: E402
from libs.schema import from_file  # noqa: E402
from libs.schema.compile import Plan, plan  # noqa: E402
from libs.schema.from_table import reflect  # noqa: E402
from libs.validate import prepare  # noqa: E402
from producer.chunks import Position, iter_chunks  # noqa: E402
from scripts.gendata import DEFAULT_SEED, DEFAULT_SHAPE, file_name  # noqa: E402

PLAIN = ("CREATE TABLE customers_plain (email text PRIMARY KEY, first_name text, last_name text,"
         " phone text, birth_date date, city text, country text, signup_at timestamptz, "
         "balance numeric(14,2))")


def batches(path: Path, size: int, job: str) -> list[Batch]:
    with path.open("rb") as handle:
        header = read_header(handle)
        chunks = iter_chunks(handle, Position(0, header.end_offset, 2, 0), size, 8 << 20)
        return [Batch(job, "customers", ch.seq, ch.first_line, ch.last_line, ch.records,
                      header.columns, path.name, ch.body) for ch in chunks]


async def load_all(pool: asyncpg.Pool, url: str, work: list[tuple[Batch, Prepared]],
                   target: Target, parallel: int, job_seq: int) -> float:
    loader = InsertLoader(pool, url)
    queue = list(reversed(work))
    started = time.perf_counter()

    async def worker() -> None:
        while queue:
            batch, prepared = queue.pop()
            await loader.load(batch, prepared, target, job_seq)

    await asyncio.gather(*(worker() for _ in range(parallel)))
    return time.perf_counter() - started


def setup(rows: int) -> tuple[str, str, Path]:
    """A migrated scratch database (its URL and the server's base URL) and the input file."""
    server = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/ingest")
    base = server.rsplit("/", 1)[0]
    url = f"{base}/lineage_bench_{uuid.uuid4().hex[:8]}"
    for folder, table in (("migrations", "schema_migrations"),
                          ("migrations-examples", "examples_schema_migrations")):
        subprocess.run([str(ROOT / ".venv/bin/dbmate"), "--url", url + "?sslmode=disable",
                        "--migrations-dir", str(ROOT / folder), "--migrations-table", table,
                        "--no-dump-schema", "up"], check=True, capture_output=True)
    folder = ROOT / "data" / "generated"
    path = folder / file_name(rows, DEFAULT_SEED, DEFAULT_SHAPE, False)  # the bench's file
    if not path.exists():
        subprocess.run([sys.executable, str(ROOT / "scripts/gendata.py"), "--rows",
                        str(rows), "--out-dir", str(folder)], check=True)
    return url, base, path


async def run(args: argparse.Namespace, url: str, base: str, path: Path) -> None:
    name = url.rsplit("/", 1)[1]
    dataset = from_file.load(str(ROOT / "datasets" / "customers.yaml"))
    pool = await asyncpg.create_pool(url, min_size=args.parallel, max_size=args.parallel,
                                     server_settings={"timezone": "UTC"})
    try:
        await pool.execute(PLAIN)
        best: dict[tuple[str, str], tuple[float, int, str]] = {}
        for _ in range(args.repeat):  # the variants alternate: load on the host hits both
            for table in ("customers", "customers_plain"):
                await pool.execute(f"TRUNCATE {table}, ingest_keys, ingest_batches, "
                                   "ingest_rejects, ingest_jobs")
                async with pool.acquire() as conn:
                    reflected = await reflect(conn, table)
                for job_seq, (round_, job) in enumerate(
                        (("first load", "first"), ("replay (all duplicates)", "again")), 1):
                    items = batches(path, args.batch_size, f"{table}-{job}")
                    mapped: Plan = plan(dataset, items[0].columns, partial=True)
                    target = target_for(mapped, reflected)
                    work = [(b, prepare(b, mapped, 16 << 20)) for b in items]
                    rows = sum(len(p.rows) for _, p in work)
                    await pool.execute("INSERT INTO ingest_jobs (job_id, dataset, job_seq) "
                                       "VALUES ($1, 'customers', $2)", f"{table}-{job}", job_seq)
                    seconds = await load_all(pool, url, work, target, args.parallel, job_seq)
                    lineage = "in-row job_id/line_no" if target.in_row else "ingest_keys"
                    key = (table, round_)
                    if key not in best or seconds < best[key][0]:
                        best[key] = (seconds, rows, lineage)
        for (table, round_), (seconds, rows, lineage) in best.items():
            print(f"{table:16} {lineage:22} {round_:24} {rows:>9,} rows "
                  f"{seconds:7.2f} s {rows / seconds:>10,.0f} rows/s (best of {args.repeat})",
                  flush=True)
    finally:
        await pool.close()
        conn = await asyncpg.connect(f"{base}/postgres")
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(run(args, *setup(args.rows)))


if __name__ == "__main__":
    main()
