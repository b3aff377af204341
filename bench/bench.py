"""Benchmark: the same customers CSV loaded by psql \\copy, by the pipeline and by pgloader.

Run from the repository root (``make bench`` does), with the services of env/*.env:

    python bench/bench.py --rows 1000000 [--shape plain] [--dirty] [--kill-at 0.5]
    python bench/bench.py --rows 1000000 --matrix      # every shape, clean and dirty

The pipeline is timed from the producer's start until every record is committed (the sum of
``ingest_batches.records`` equals the producer's ``rows_read``), with ``--consumers`` consumers
already running and idle. Figures are printed as tables and written as JSON under --out-dir.
Exit codes: 0 done; 1 the pipeline failed, timed out or loaded a wrong count; 2 user error.

The modules next to this script hold the parts: options, children (processes, peak RSS, CPU
ticks), cpu (CPU seconds of a window), services (databases, queue, Redis), inputs (CSV files),
baselines (psql), pgloader, pipeline, rerun (kill and rerun), machine (facts) and report.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # scripts.gendata
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling modules below

from baselines import bench_psql
from children import Children
from errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, BenchError, UsageError
from inputs import input_files
from machine import machine_facts
from options import combos, parse_args
from pgloader import bench_pgloader
from pipeline import bench_pipeline
from report import ratios, result, same_content, tables, write_report
from rerun import bench_rerun
from services import checkpoint
from settings import Urls

from libs.settings import redact_url

Baselines = dict[Path | None, tuple[dict[str, Any], dict[str, Any]]]


async def baselines(urls: Urls, children: Children, args: argparse.Namespace,
                    psql_path: Path | None, note: str, done: Baselines,
                    ) -> tuple[dict[str, Any], dict[str, Any]]:
    """psql and pgloader on ``psql_path``, timed once per file in a bench run: a later run of
    the same file (the dirty run of a shape) reuses the figures, marked ``reused``."""
    if psql_path in done:
        psql, pgl = done[psql_path]
        return psql | {"reused": True, "note": note}, pgl | {"reused": True}
    skipped = result("", None, None, status="skipped")
    psql = (await bench_psql(urls, children, psql_path, note, f"{args.db_prefix}_copy")
            if psql_path and not args.skip_psql else skipped | {"method": "psql \\copy"})
    pgl = (await bench_pgloader(urls, children, psql_path, f"{args.db_prefix}_pgloader")
           if psql_path and not args.skip_pgloader else skipped | {"method": "pgloader"})
    done[psql_path] = psql, pgl
    return psql, pgl


async def bench_one(urls: Urls, children: Children, args: argparse.Namespace, shape: str,
                    dirty: bool, index: int, done: Baselines) -> dict[str, Any]:
    """One (shape, dirty) run: psql, the pipeline, pgloader (and the rerun if asked)."""
    path, psql_path, note = input_files(args, shape, dirty)
    print(f"== {shape}, {'dirty' if dirty else 'clean'}: {path}", file=sys.stderr, flush=True)
    run: dict[str, Any] = {
        "shape": shape, "dirty": dirty, "rows": args.rows, "seed": args.seed, "file": str(path),
        "file_bytes": path.stat().st_size, "consumers": args.consumers, "mode": args.mode,
        "atomic": args.atomic or args.mode == "replace", "results": {}}
    res = run["results"]
    res["psql"], pgl = await baselines(urls, children, args, psql_path, note, done)
    name = f"bench-{os.getpid()}-{index}"
    res["pipeline"] = await bench_pipeline(urls, children, path, args, name,
                                           content=path == psql_path)
    res["pgloader"] = pgl
    run["rows"] = res["pipeline"]["rows"]  # the records read: --rows, or --file's count
    if args.kill_at is not None:
        res["rerun"] = await bench_rerun(urls, children, path, args, name,
                                         res["pipeline"]["rows"], res["pipeline"]["seconds"])
    run["ratios"] = ratios(res)
    run["same_content_as_psql"] = same_content(res)
    return run


async def bench(args: argparse.Namespace, children: Children) -> dict[str, Any]:
    urls = Urls.from_env()
    report: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "matrix": args.matrix, "rows": args.rows, "seed": args.seed,
        "services": {k: redact_url(v) for k, v in vars(urls).items()},
        "machine": await machine_facts(urls), "runs": []}
    report["checkpoint_before_each"] = await checkpoint(urls)
    if not report["checkpoint_before_each"]:
        print("bench: this role may not CHECKPOINT (superuser or pg_checkpoint): the writes "
              "of one run may slow the next", file=sys.stderr, flush=True)
    done: Baselines = {}
    for index, (shape, dirty) in enumerate(combos(args)):
        report["runs"].append(await bench_one(urls, children, args, shape, dirty, index, done))
    report["rows"] = report["runs"][0]["rows"]
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
    print(tables(report))
    print(f"written: {write_report(report, args.out_dir)}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
