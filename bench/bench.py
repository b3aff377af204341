"""Benchmark: the same customers CSV loaded by psql \\copy, by the pipeline and by pgloader.

Run from the repository root (``make bench`` does), with the services of env/*.env:

    python bench/bench.py --rows 1000000 [--dirty] [--kill-at 0.5]

The pipeline is timed from the producer's start until every record is committed (the sum of
``ingest_batches.records`` equals the producer's ``rows_read``), with ``--consumers`` consumers
already running and idle. Figures are printed as a table and written as JSON under --out-dir.
Exit codes: 0 done; 1 the pipeline failed, timed out or loaded a wrong count; 2 user error.

The modules next to this script hold the parts: children (processes, peak RSS), services
(databases, queue, Redis), inputs (CSV files), baselines (psql, pgloader), pipeline, rerun
(kill and rerun), machine (facts) and report (table, JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling modules below

from baselines import bench_pgloader, bench_psql
from children import Children
from errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, BenchError, UsageError
from inputs import input_files
from machine import machine_facts
from pipeline import bench_pipeline
from report import result, table, write_report
from rerun import bench_rerun
from settings import Urls

from libs.settings import redact_url


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Load one customers CSV with psql \\copy, the pipeline and pgloader; "
                    "print rows/s, the ratio to psql and peak RSS; write JSON.")
    p.add_argument("--rows", type=int, default=1_000_000, help="records to generate")
    p.add_argument("--dirty", action="store_true", help="generate dirty data (bad records)")
    p.add_argument("--seed", type=int, default=1, help="generator seed")
    p.add_argument("--consumers", type=int, default=2, help="consumer processes")
    p.add_argument("--skip-psql", action="store_true", help="skip the psql \\copy baseline")
    p.add_argument("--out-dir", type=Path, default=Path("volumes/bench"))
    p.add_argument("--kill-at", type=float, default=None, metavar="FRACTION",
                   help="also SIGKILL the producer at this fraction and time the rerun")
    p.add_argument("--kill-on", choices=("published", "offset", "committed"),
                   default="published",
                   help="what the kill fraction counts: rows published (committed + queued), "
                        "rows in the producer's saved resume offset, or rows committed")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds the pipeline gets to commit everything "
                        "(default max(300, rows/2000))")
    p.add_argument("--mode", choices=("insert", "upsert", "replace"), default="insert",
                   help="the producer's load mode (the customers file has no merge operation "
                        "column)")
    p.add_argument("--atomic", action="store_true",
                   help="an atomic job: staged, then applied in one transaction")
    p.add_argument("--file", type=Path, default=None,
                   help="use this CSV instead of generating one (--dirty labels it)")
    args = p.parse_args(argv)
    if args.rows < 1 or args.consumers < 1:
        p.error("--rows and --consumers must be at least 1")
    if args.kill_at is not None and not 0 < args.kill_at < 1:
        p.error("--kill-at must be a fraction between 0 and 1")
    if args.timeout is None:
        args.timeout = max(300.0, args.rows / 2000)
    return args


async def bench(args: argparse.Namespace, children: Children) -> dict[str, Any]:
    urls = Urls.from_env()
    path, psql_path, psql_note = input_files(args)
    report: dict[str, Any] = {
        "rows": args.rows, "dirty": args.dirty, "seed": args.seed, "file": str(path),
        "file_bytes": path.stat().st_size, "consumers": args.consumers, "mode": args.mode,
        "atomic": args.atomic or args.mode == "replace",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "services": {k: redact_url(v) for k, v in vars(urls).items()},
        "machine": await machine_facts(urls), "results": {}}
    res = report["results"]
    res["psql"] = (await bench_psql(urls, children, psql_path, psql_note)
                   if psql_path else result("psql \\copy", None, None, status="skipped"))
    res["pipeline"] = await bench_pipeline(urls, children, path, args.consumers, args.timeout,
                                           args.mode, args.atomic)
    res["pgloader"] = await bench_pgloader(urls, children, psql_path or path)
    if args.kill_at is not None:
        res["rerun"] = await bench_rerun(urls, children, path, args,
                                         res["pipeline"]["rows"], res["pipeline"]["seconds"])
    psql_rate = res["psql"].get("rows_per_s")
    report["ratio_pipeline_to_psql"] = (round(res["pipeline"]["rows_per_s"] / psql_rate, 3)
                                        if psql_rate else None)
    return report


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    children = Children(args.out_dir / "logs")
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    sampler = asyncio.create_task(children.sample_forever())
    try:
        return await bench(args, children)
    finally:
        sampler.cancel()
        children.kill_all()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        report = asyncio.run(amain(args))
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BenchError as exc:
        print(f"bench failed: {exc} (logs in {args.out_dir / 'logs'})", file=sys.stderr)
        return EXIT_FAILED
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("bench interrupted", file=sys.stderr)
        return 130
    print(table(report))
    print(f"written: {write_report(report, args.out_dir)}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
