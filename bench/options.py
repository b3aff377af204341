"""The bench's options, each default defined once: rows, seed and shape are scripts/gendata.py's
(``make data`` makes the same file), the rest are here."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Final

from settings import ROOT

from scripts.gendata import DEFAULT_ROWS, DEFAULT_SEED, DEFAULT_SHAPE
from scripts.gendata_rows import SHAPES

DEFAULT_CONSUMERS: Final = 2
DEFAULT_DB_PREFIX: Final = "bench"
MIN_TIMEOUT_S: Final = 300.0
TIMEOUT_ROWS_PER_S: Final = 2000  # the default timeout: max(MIN_TIMEOUT_S, rows / this)
DB_PREFIX: Final = re.compile(r"^[a-z_][a-z0-9_]{0,40}$")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="Load the same customers CSV with psql \\copy, the pipeline and pgloader; "
                    "print times, rows/s, ratios, CPU per 1M rows and peak RSS; write JSON.")
    p.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="records to generate")
    p.add_argument("--dirty", action="store_true", help="generate dirty data (bad records)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="generator seed")
    p.add_argument("--shape", choices=SHAPES, default=None,
                   help=f"generated values: bench (accents, mixed zones) or plain (ASCII, "
                        f"UTC Z); default {DEFAULT_SHAPE}")
    p.add_argument("--matrix", action="store_true",
                   help="run every shape, clean then dirty (psql and pgloader timed once per "
                        "shape, on the clean file)")
    p.add_argument("--consumers", type=int, default=DEFAULT_CONSUMERS, help="consumer processes")
    p.add_argument("--skip-psql", action="store_true", help="skip the psql \\copy baseline")
    p.add_argument("--skip-pgloader", action="store_true", help="skip pgloader")
    p.add_argument("--out-dir", type=Path, default=ROOT / "volumes" / "bench",
                   help="JSON results and child logs")
    p.add_argument("--data-dir", type=Path, default=ROOT / "data" / "generated",
                   help="where generated files are made and reused")
    p.add_argument("--db-prefix", default=DEFAULT_DB_PREFIX,
                   help="databases PREFIX_copy, PREFIX_pipeline, PREFIX_pgloader (dropped and "
                        "made again by each run)")
    p.add_argument("--kill-at", type=float, default=None, metavar="FRACTION",
                   help="also SIGKILL the producer at this fraction and time the rerun")
    p.add_argument("--kill-on", choices=("published", "offset", "committed"),
                   default="published",
                   help="what the kill fraction counts: rows published (committed + queued), "
                        "rows in the producer's saved resume offset, or rows committed")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds the pipeline gets to commit everything "
                        f"(default max({MIN_TIMEOUT_S:.0f}, rows/{TIMEOUT_ROWS_PER_S}))")
    p.add_argument("--mode", choices=("insert", "upsert", "replace"), default="insert",
                   help="the producer's load mode (the customers file has no merge operation "
                        "column)")
    p.add_argument("--atomic", action="store_true",
                   help="an atomic job: staged, then applied in one transaction")
    p.add_argument("--file", type=Path, default=None,
                   help="use this CSV instead of generating one (--dirty labels it)")
    return p


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = parser()
    args = p.parse_args(argv)
    if args.rows < 1 or args.consumers < 1:
        p.error("--rows and --consumers must be at least 1")
    if args.kill_at is not None and not 0 < args.kill_at < 1:
        p.error("--kill-at must be a fraction between 0 and 1")
    if args.matrix and (args.file is not None or args.shape is not None or args.dirty):
        p.error("--matrix runs every shape, clean and dirty: no --file, --shape or --dirty")
    if args.file is not None and args.shape is not None:
        p.error("--shape is for generated files, not --file")
    if not DB_PREFIX.match(args.db_prefix):
        p.error(f"--db-prefix must match {DB_PREFIX.pattern}")
    if args.timeout is None:
        args.timeout = max(MIN_TIMEOUT_S, args.rows / TIMEOUT_ROWS_PER_S)
    args.shape = args.shape or DEFAULT_SHAPE
    args.out_dir, args.data_dir = args.out_dir.resolve(), args.data_dir.resolve()
    return args


def combos(args: argparse.Namespace) -> list[tuple[str, bool]]:
    """The (shape, dirty) runs, in order: ``--matrix`` gives each shape clean, then dirty."""
    if args.matrix:
        return [(shape, dirty) for shape in SHAPES for dirty in (False, True)]
    return [("file" if args.file is not None else args.shape, args.dirty)]
