#!/usr/bin/env python3
"""Deterministic customers CSV generator: the same arguments give a byte-identical file.

Clean mode writes well-formed rows fast from fixed pools of ready-made strings (see
``gendata_rows``). ``--dirty`` replaces about 7% of the records, spread over the file, by bad or
hard ones (see ``gendata_dirty.KINDS``), shuffles the header, adds a ``notes`` column, puts a BOM
in front and leaves the last record without a line end. ``--shape plain`` spells the same rows
in ASCII with UTC ``Z`` timestamps.

Keys: record i (from 0) has the e-mail ``<first>.<last>.<first_key + i>@<domain>``, so keys are
unique within a file, and two files whose key ranges do not overlap share no key. Files whose
ranges overlap share keys: with the same seed (either shape) a smaller file's records are the
bigger one's first records but for its last chunk of up to CHUNK_ROWS (the draws are made per
chunk), so all but a few thousand keys of the 1M file are in the 2M file; with different seeds
a key number gives the same e-mail by chance (about 1 record in 41,000). ``--first-key`` moves a
file's range, to load several generated files into one table as new rows. ``--out-dir`` names
the file after everything that makes it (``file_name``): shape, rows, seed, key range, clean or
dirty.

Usage: python scripts/gendata.py --rows 100000 --seed 7 --out data/customers.csv [--dirty]
       python scripts/gendata.py --rows 2000000 --first-key 1000000 --out-dir data/generated
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Final

# Run by path, Python puts scripts/ on sys.path; the repository root makes `scripts.` importable
# (the names mypy gives these modules) whether run by path or imported from the root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.gendata_dirty import KINDS, Dirt, Kind, huge_plain, huge_quoted
from scripts.gendata_rows import (
    COLUMNS,
    SHAPES,
    Chunk,
    Pools,
    clean_rows,
    draw_chunk,
    format_rows,
)

# The defaults of `make data` and of the bench (bench/bench.py reads them from here).
DEFAULT_ROWS: Final = 1_000_000
DEFAULT_SEED: Final = 1
DEFAULT_SHAPE: Final = "bench"
CHUNK_ROWS: Final = 8192
DIRTY_SHARE: Final = 0.07
BOM: Final = "\ufeff"


@dataclass
class Generator:
    rows: int
    seed: int
    dirty: bool
    crlf: bool
    shape: str = DEFAULT_SHAPE
    first_key: int = 0
    rng: random.Random = field(init=False)
    pools: Pools = field(init=False)
    header: tuple[str, ...] = COLUMNS
    far_emails: deque[str] = field(default_factory=lambda: deque(maxlen=256))
    invalid: deque[tuple[str, str]] = field(default_factory=lambda: deque(maxlen=64))
    kinds_done: int = 0
    order: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.pools = Pools(self.shape)
        if self.dirty:
            names = [*COLUMNS, "notes"]
            self.rng.shuffle(names)
            self.header = tuple(names)

    def header_line(self) -> str:
        if not self.dirty:
            return ",".join(self.header) + ("\r\n" if self.crlf else "\n")
        looks = (str.lower, str.upper, lambda s: f" {s} ", str.title)
        shown = [self.rng.choice(looks)(name) for name in self.header]
        return BOM + ",".join(shown) + "\r\n"

    def chunks(self) -> Iterator[str]:
        yield self.header_line()
        eol = "\r\n" if self.crlf else "\n"
        for start in range(0, self.rows, CHUNK_ROWS):
            size = min(CHUNK_ROWS, self.rows - start)
            last = start + size >= self.rows
            if self.dirty:
                chunk = draw_chunk(self.rng, self.pools, start, size, notes=True,
                                   key_offset=self.first_key)
                rows = format_rows(chunk, self.header)
                self.soil(chunk, rows, last)
            else:
                rows = clean_rows(self.rng, self.pools, self.first_key + start, size)
            text = eol.join(rows)
            yield text if (last and self.dirty) else text + eol

    def soil(self, chunk: Chunk, rows: list[str], last: bool) -> None:
        """Replace ~7% of the rows by dirty kinds (never the file's last row)."""
        room = chunk.size - 1 if last else chunk.size
        picks = set(self.rng.sample(range(room), min(room, round(chunk.size * DIRTY_SHARE))))
        huge = {self.rows // 3 - chunk.first_index: huge_plain,
                2 * self.rows // 3 - chunk.first_index: huge_quoted}
        picks |= {i for i in huge if 0 <= i < room}
        for i in sorted(picks):
            dirt = Dirt(self.rng, self.header, chunk, i, self.far_emails, self.invalid)
            kind = huge.get(i) or self.next_kind()
            rows[i] = kind(dirt, chunk.fields(i))
        for i in self.rng.sample(range(chunk.size), min(chunk.size, 32)):
            self.far_emails.append(chunk.email(i))

    def next_kind(self) -> Kind:
        """Kinds in turn (so every kind occurs early), the round's order drawn by seed."""
        if self.kinds_done % len(KINDS) == 0:
            self.order = self.rng.sample(range(len(KINDS)), len(KINDS))
        kind = KINDS[self.order[self.kinds_done % len(KINDS)]][1]
        self.kinds_done += 1
        return kind


def write(gen: Generator, out: BinaryIO) -> int:
    """Write the file in large blocks; return its size in bytes."""
    size = 0
    for text in gen.chunks():
        data = text.encode("utf-8", "surrogateescape")  # lone surrogates = raw non-UTF-8 bytes
        out.write(data)
        size += len(data)
    return size


def file_name(rows: int, seed: int, shape: str, dirty: bool, first_key: int = 0) -> str:
    """The name of a generated file: everything that makes its content, the key range included
    (``customers-bench-1000000-seed1-keys0-999999-clean.csv``)."""
    keys = f"keys{first_key}-{first_key + rows - 1}" if rows else "nokeys"
    return f"customers-{shape}-{rows}-seed{seed}-{keys}-{'dirty' if dirty else 'clean'}.csv"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="data records to write")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help="random seed (same seed, same file)")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", help="output path, or - for stdout")
    where.add_argument("--out-dir", help="write DIR/<file_name(...)>, atomically")
    parser.add_argument("--dirty", action="store_true", help="mix in bad and hard records")
    parser.add_argument("--variant", choices=("clean", "dirty"), default=None,
                        help="clean or dirty (dirty is the same as --dirty)")
    parser.add_argument("--shape", choices=SHAPES, default=DEFAULT_SHAPE,
                        help="bench: accented values, mixed zones; plain: ASCII, UTC Z")
    parser.add_argument("--first-key", type=int, default=0,
                        help="key number of the first record (e-mail <name>.<number>@...)")
    parser.add_argument("--crlf", action="store_true", help="clean mode: CRLF line ends")
    args = parser.parse_args(argv)
    if args.rows < 0 or args.first_key < 0:
        parser.error("--rows and --first-key must be >= 0")
    if args.variant == "dirty":
        args.dirty = True
    if args.out_dir is not None:
        if args.crlf:
            parser.error("--out-dir names LF files: give --out for --crlf")
        args.out = str(Path(args.out_dir) / file_name(args.rows, args.seed, args.shape,
                                                       args.dirty, args.first_key))
    return args


def write_file(gen: Generator, path: Path) -> int:
    """Write ``path`` through ``path.part``: a file under its final name is complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    try:
        with part.open("wb", buffering=1 << 20) as out:
            size = write(gen, out)
        part.replace(path)
    finally:
        part.unlink(missing_ok=True)
    return size


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    gen = Generator(args.rows, args.seed, args.dirty, args.crlf, args.shape, args.first_key)
    started = time.perf_counter()
    if args.out == "-":
        size = write(gen, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    elif args.out_dir is not None:
        size = write_file(gen, Path(args.out))
    else:
        with open(args.out, "wb", buffering=1 << 20) as out:
            size = write(gen, out)
    took = time.perf_counter() - started
    mode = "dirty" if args.dirty else "clean"
    print(f"gendata: {args.rows} {mode} {args.shape} rows, {size} bytes, seed {args.seed}, "
          f"keys from {args.first_key}, {took:.2f}s "
          f"({args.rows / max(took, 1e-9):,.0f} rows/s) -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
