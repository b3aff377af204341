"""The CSV files to load: generated (and cached) by scripts/gendata.py or given by --file."""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import time
from pathlib import Path
from typing import Final

from errors import UsageError
from settings import ROOT

from libs.schema import from_file

GENDATA: Final = ROOT / "scripts" / "gendata.py"
CACHE: Final = ROOT / "data" / "generated"
COLUMNS: Final = frozenset(from_file.load(str(ROOT / "datasets" / "customers.yaml")).field_names)


def generated_file(rows: int, seed: int, dirty: bool) -> Path:
    """The cached generated file for (rows, seed, dirty); generate it if absent."""
    path = CACHE / f"customers-{rows}-seed{seed}-{'dirty' if dirty else 'clean'}.csv"
    if path.exists():
        return path
    if not GENDATA.exists():
        raise UsageError(f"{GENDATA.relative_to(ROOT)} not found: cannot generate data")
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.part")
    cmd = [sys.executable, str(GENDATA), "--rows", str(rows), "--seed", str(seed),
           "--out", str(tmp)] + (["--dirty"] if dirty else [])
    print(f"generating {path.relative_to(ROOT)} ...", file=sys.stderr, flush=True)
    started = time.monotonic()
    done = subprocess.run(cmd, cwd=ROOT, check=False)
    if done.returncode != 0 or not tmp.exists():
        tmp.unlink(missing_ok=True)
        raise UsageError(f"scripts/gendata.py failed (exit {done.returncode})")
    tmp.rename(path)
    print(f"generated in {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
    return path


def header_columns(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return next(csv.reader(f), [])


def plain_header(path: Path) -> list[str] | None:
    """The header's columns if plain COPY can load the file (no BOM, only table columns)."""
    with path.open("rb") as f:
        bom = f.read(3) == b"\xef\xbb\xbf"
    columns = header_columns(path)
    return columns if columns and not bom and set(columns) <= COLUMNS else None


def input_files(args: argparse.Namespace) -> tuple[Path, Path | None, str]:
    """The file to load, the file psql loads (None: skip) and a note on the psql figure."""
    if args.file is not None:
        if not args.file.is_file():
            raise UsageError(f"file not found: {args.file}")
        path = args.file.resolve()
        return path, (None if args.skip_psql or args.dirty else path), ""
    path = generated_file(args.rows, args.seed, args.dirty)
    if args.skip_psql:
        return path, None, ""
    if not args.dirty:
        return path, path, ""
    note = ("dirty records cannot load with \\copy: timed on the clean file of the same "
            "rows and seed")
    return path, generated_file(args.rows, args.seed, False), note
