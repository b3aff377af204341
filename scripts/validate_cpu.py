#!/usr/bin/env python3
"""Consumer CPU per stage, without broker or database: the row and the vector validation path.

    .venv/bin/python scripts/validate_cpu.py --rows 1000000 --seed 1 [--dirty] [--shape S]
        [--file F] [--dataset customers] [--batch-size 20000] [--paths row,vector] [--repeat 1]
        [--verify]

The file (``--file``, else made by ``scripts/gendata.py`` with ``--rows``, ``--seed``,
``--dirty`` and ``--shape`` in a temporary directory) is cut into batches as the producer
cuts them (the dataset's reader, ``--batch-size`` records, the default byte bound; not timed).
Then, per path, each batch goes through the consumer's three CPU stages, each timed with
``time.process_time()`` (this process's CPU time, so other load on the machine counts little):

- split: the reader turns the batch body into records (``Reader.records``), or, for the vector
  path, into columns (``libs.validate_vector.split``: ``libs.formats.columns``);
- validate: ``libs.validate.prepare`` (row) or ``libs.validate_vector.prepare_vector``
  (vector) on those records: rows, rejects, in-batch duplicates;
- payload: the COPY data of the rows as the insert loader sends it (lineage kept:
  ``copy_payload(rows)``, or the vector path's ``copy_data(0, None)``).

Prints one line per path: CPU seconds per 1M rows for each stage and in total (the best of
``--repeat`` runs, per stage). ``--verify`` also checks that both paths give the same rows,
rejects and payload (the differential test does this thoroughly: tests/test_vector_diff.py).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from libs.constants import DEFAULT_BATCH_BYTES, DEFAULT_BATCH_SIZE  # noqa: E402
from libs.formats import Position, Reader, reader_for  # noqa: E402
from libs.load.payload import copy_payload  # noqa: E402
from libs.load.prepared import Prepared  # noqa: E402
from libs.messages import Batch  # noqa: E402
from libs.schema import from_file  # noqa: E402
from libs.schema.compile import Plan, plan  # noqa: E402
from libs.validate import prepare  # noqa: E402
from libs.validate_vector import prepare_vector, split  # noqa: E402

STAGES = ("split", "validate", "payload")


def row_split(batch: Batch, mapped: Plan, reader: Reader) -> Any:
    return list(reader.records(batch.body, batch.first_line))


def row_validate(batch: Batch, mapped: Plan, reader: Reader, records: Any) -> Prepared:
    return prepare(batch, mapped, reader, records=records)


def vector_validate(batch: Batch, mapped: Plan, reader: Reader, columns: Any) -> Prepared:
    return prepare_vector(batch, mapped, reader, columns=columns)


# Each path: (split, validate); the vector path splits into columns (libs.formats.columns).
PATHS: dict[str, tuple[Callable[..., Any], Callable[..., Prepared]]] = {
    "row": (row_split, row_validate), "vector": (split, vector_validate)}


def batches(path: Path, reader: Reader, size: int) -> list[Batch]:
    """The file cut as the producer cuts it (job id and file name are placeholders)."""
    with path.open("rb") as handle:
        header = reader.read_header(handle)
        handle.seek(header.end_offset)
        start = Position(0, header.end_offset, header.next_line, 0)
        return [Batch("bench-0", reader.dataset.name, ch.seq, ch.first_line, ch.last_line,
                      ch.records, header.columns, path.name, ch.body)
                for ch in reader.iter_chunks(handle, start, size, DEFAULT_BATCH_BYTES)]


def payload(prepared: Prepared) -> bytes:
    if prepared.copy_data is not None:
        return prepared.copy_data(0, None)
    return copy_payload(prepared.rows, prepared.plain)


def run(name: str, items: list[Batch], mapped: Plan, reader: Reader) -> dict[str, float]:
    """CPU seconds of each stage over every batch, for one path."""
    cut, validate = PATHS[name]
    spent = dict.fromkeys(STAGES, 0.0)
    clock = time.process_time
    for batch in items:
        started = clock()
        records = cut(batch, mapped, reader)
        was_split = clock()
        prepared = validate(batch, mapped, reader, records)
        validated = clock()
        payload(prepared)
        done = clock()
        spent["split"] += was_split - started
        spent["validate"] += validated - was_split
        spent["payload"] += done - validated
    return spent


def verify(items: list[Batch], mapped: Plan, reader: Reader) -> int:
    """Batches on which the two paths differ (rows, rejects, duplicates, payload)."""
    differ = 0
    for batch in items:
        row, vector = prepare(batch, mapped, reader), prepare_vector(batch, mapped, reader)
        same = (row.rows, row.rejects, row.duplicates) == (
            vector.rows, vector.rejects, vector.duplicates)
        differ += not (same and payload(row) == payload(vector))
    return differ


def make_file(args: argparse.Namespace, folder: str) -> Path:
    shape = f"-{args.shape}" if args.shape else ""
    path = Path(folder) / f"customers-{args.rows}-seed{args.seed}{shape}-{args.kind}.csv"
    command = [sys.executable, str(ROOT / "scripts" / "gendata.py"), "--rows", str(args.rows),
               "--seed", str(args.seed), "--out", str(path)]
    command += (["--dirty"] if args.dirty else []) + (["--shape", args.shape] if args.shape
                                                      else [])
    subprocess.run(command, check=True)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dirty", action="store_true")
    parser.add_argument("--shape", default=None, help="gendata.py's --shape (its default if "
                                                       "absent)")
    parser.add_argument("--file", type=Path, default=None, help="an existing file instead")
    parser.add_argument("--dataset", default="customers")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                        help="records per batch (default: the producer's)")
    parser.add_argument("--paths", default="row,vector")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--verify", action="store_true")
    args = parser.parse_args(argv)
    args.kind = "dirty" if args.dirty else "clean"
    with tempfile.TemporaryDirectory() as folder:
        path = args.file or make_file(args, folder)
        dataset = from_file.load(args.dataset)
        reader = reader_for(dataset)
        items = batches(path, reader, args.batch_size)
    mapped = plan(dataset, items[0].columns, partial=True)
    rows = sum(batch.records for batch in items)
    print(f"{path.name}: {rows} records, {len(items)} batches of up to {args.batch_size}; "
          "CPU seconds per 1M records (time.process_time)", flush=True)
    for name in args.paths.split(","):
        best: dict[str, Any] = {}
        for _ in range(args.repeat):
            spent = run(name, items, mapped, reader)
            best = {stage: min(best.get(stage, spent[stage]), spent[stage]) for stage in STAGES}
        scaled = {stage: best[stage] * 1e6 / rows for stage in STAGES}
        print(f"{name:7} " + "  ".join(f"{stage} {scaled[stage]:.2f}" for stage in STAGES)
              + f"  total {sum(scaled.values()):.2f}", flush=True)
    if args.verify:
        print(f"verify: {verify(items, mapped, reader)} batches differ", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
