#!/usr/bin/env python3
"""Convert a CSV file (with a header) into the other inputs the producer reads: JSON Lines and
compressed files, for tests, samples and benchmarks. Outputs are made, never committed.

- ``jsonl``: each CSV record, read with Python's ``csv`` module (strict quoting), becomes one
  object of the header's names (as written) to the raw field strings. A record the ``csv``
  module refuses, or whose field count is not the header's, becomes a line that is a JSON
  string (its text), not an object: the producer rejects it ``malformed_json`` where the CSV
  load rejects ``malformed_csv`` or ``wrong_column_count``. Bytes that are not UTF-8 are
  written as they were (the record stays ``invalid_encoding``). Blank lines are left out,
  unless ``--same-lines``: then each record stays on its CSV line number (the header's line
  and the extra lines of a multi-line record become blank lines), so rejects compare by line.
- ``csv.gz``, ``csv.zst``: the CSV file's bytes compressed (gzip without a time stamp, so the
  same input gives the same file; zstd level 3).
- ``jsonl.gz``, ``jsonl.zst``: the JSON Lines file compressed.

Usage: python scripts/convert_sample.py data/customers_sample.csv --out-dir volumes/samples
       [--to jsonl,csv.gz,csv.zst,jsonl.gz] [--same-lines]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Final, TextIO

import zstandard

KINDS: Final = ("jsonl", "csv.gz", "csv.zst", "jsonl.gz", "jsonl.zst")
DEFAULT_KINDS: Final = ("jsonl", "csv.gz", "csv.zst", "jsonl.gz")
ZSTD_LEVEL: Final = 3
COPY_BLOCK: Final = 1 << 20


class Lines:
    """The file's lines as the ``csv`` module takes them, keeping those it consumed."""

    def __init__(self, handle: TextIO) -> None:
        self.handle = handle
        self.taken: list[str] = []

    def __iter__(self) -> Iterator[str]:
        for line in self.handle:
            self.taken.append(line)
            yield line

    def take(self) -> str:
        """The text consumed since the last call."""
        text = "".join(self.taken)
        self.taken.clear()
        return text


def records(handle: TextIO) -> Iterator[tuple[str, list[str] | None]]:
    """(the record's text with its line end, its fields or None if ``csv`` refuses it)."""
    lines = Lines(handle)
    reader = csv.reader(lines, strict=True)
    while True:
        try:
            fields: list[str] | None = next(reader)
        except StopIteration:
            return
        except csv.Error:
            fields = None
        yield lines.take(), fields


def json_line(header: list[str], text: str, fields: list[str] | None) -> str:
    """The JSON Lines line of one CSV record (see the module), without its line end."""
    if fields is None or len(fields) != len(header):
        bare = text.removesuffix("\n").removesuffix("\r")
        return json.dumps(bare, ensure_ascii=False)
    pairs = (json.dumps(name, ensure_ascii=False) + ": " + json.dumps(value, ensure_ascii=False)
             for name, value in zip(header, fields, strict=True))
    return "{" + ", ".join(pairs) + "}"


def to_jsonl(source: Path, out: BinaryIO, same_lines: bool) -> int:
    """Write ``source`` as JSON Lines to ``out``; the number of records written."""
    csv.field_size_limit(sys.maxsize)
    written = 0
    with source.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        rows = records(handle)
        head = next(rows, None)
        if head is None or head[1] is None:
            raise SystemExit(f"convert_sample: {source} has no readable header line")
        header = head[1]
        if same_lines:
            out.write(b"\n" * head[0].count("\n"))
        for text, fields in rows:
            ends = text.count("\n")
            if fields == []:  # a blank line
                if same_lines:
                    out.write(b"\n" * ends)
                continue
            line = json_line(header, text, fields) + "\n"
            out.write(line.encode("utf-8", "surrogateescape"))
            if same_lines and ends > 1:
                out.write(b"\n" * (ends - 1))
            written += 1
    return written


def compress(source: Path, target: Path) -> None:
    """``target`` (``.gz`` or ``.zst``): ``source``'s bytes compressed."""
    with source.open("rb") as inp, target.open("wb") as raw:
        if target.suffix == ".gz":
            with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as out:
                while block := inp.read(COPY_BLOCK):
                    out.write(block)
        else:
            zstandard.ZstdCompressor(level=ZSTD_LEVEL).copy_stream(inp, raw)


def convert(source: Path, out_dir: Path, kinds: list[str], same_lines: bool) -> list[Path]:
    """Every output of ``kinds`` for ``source`` in ``out_dir``; their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = source.name.removesuffix(".csv")
    jsonl = out_dir / f"{stem}.jsonl"
    made: list[Path] = []
    if any(kind.startswith("jsonl") for kind in kinds):
        with jsonl.open("wb") as out:
            to_jsonl(source, out, same_lines)
        if "jsonl" in kinds:
            made.append(jsonl)
    for kind in kinds:
        if kind == "jsonl":
            continue
        base = jsonl if kind.startswith("jsonl") else source
        target = out_dir / f"{stem}.{kind}"
        compress(base, target)
        made.append(target)
    if "jsonl" not in kinds and jsonl.exists():
        jsonl.unlink()
    return made


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("source", type=Path, help="a CSV file with a header line")
    parser.add_argument("--out-dir", type=Path, default=Path("volumes/samples"))
    parser.add_argument("--to", default=",".join(DEFAULT_KINDS),
                        help=f"comma-separated outputs among {', '.join(KINDS)}")
    parser.add_argument("--same-lines", action="store_true",
                        help="JSON Lines: keep each record on its CSV line number")
    args = parser.parse_args(argv)
    args.kinds = [kind.strip() for kind in args.to.split(",") if kind.strip()]
    unknown = [kind for kind in args.kinds if kind not in KINDS]
    if unknown:
        parser.error(f"unknown output(s) {', '.join(unknown)}: use {', '.join(KINDS)}")
    if not args.source.is_file():
        parser.error(f"{args.source} is not a file")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for path in convert(args.source, args.out_dir, args.kinds, args.same_lines):
        print(f"convert_sample: {path} ({path.stat().st_size} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
