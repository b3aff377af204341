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
from scripts.gendata import file_name

GENDATA: Final = ROOT / "scripts" / "gendata.py"
FIELDS: Final = tuple(from_file.load(str(ROOT / "datasets" / "customers.yaml")).field_names)
COLUMNS: Final = frozenset(FIELDS)


def generated_file(data_dir: Path, rows: int, seed: int, shape: str, dirty: bool) -> Path:
    """The cached generated file for (rows, seed, shape, dirty) in ``data_dir`` (the name
    ``make data`` gives it); generated if absent."""
    path = data_dir / file_name(rows, seed, shape, dirty)
    if path.exists():
        return path
    cmd = [sys.executable, str(GENDATA), "--rows", str(rows), "--seed", str(seed),
           "--shape", shape, "--out-dir", str(data_dir)] + (["--dirty"] if dirty else [])
    print(f"generating {path} ...", file=sys.stderr, flush=True)
    started = time.monotonic()
    done = subprocess.run(cmd, cwd=ROOT, check=False)
    if done.returncode != 0 or not path.exists():
        raise UsageError(f"scripts/gendata.py failed (exit {done.returncode})")
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


def input_files(args: argparse.Namespace, shape: str,
                dirty: bool) -> tuple[Path, Path | None, str]:
    """The file to load, the file psql and pgloader load (None: skip them) and a note on
    their figures."""
    if args.file is not None:
        if not args.file.is_file():
            raise UsageError(f"file not found: {args.file}")
        path = args.file.resolve()
        return path, (None if (args.skip_psql and args.skip_pgloader) or dirty else path), ""
    path = generated_file(args.data_dir, args.rows, args.seed, shape, dirty)
    if args.skip_psql and args.skip_pgloader:
        return path, None, ""
    if not dirty:
        return path, path, ""
    note = ("dirty records cannot load with \\copy: timed on the clean file of the same "
            "rows, seed and shape")
    return path, generated_file(args.data_dir, args.rows, args.seed, shape, False), note
