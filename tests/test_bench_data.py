"""The bench's generated files (scripts/gendata.py): names that say what made them, the plain
shape, key ranges that do not collide when asked, and `make data` naming the file the bench uses.

The files are checked with tests/checker.py (it shares no code with the generator or the
pipeline) and by reading the CSV directly.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.checker import expected
from tests.pipeline import ROOT
from tests.test_make import dry_run

pytestmark = pytest.mark.unit

GENDATA = ROOT / "scripts" / "gendata.py"
KEY_NUMBER = re.compile(r"^[a-z]+\.[a-z]+\.(\d+)@")


def generate(out_dir: Path, *args: str) -> Path:
    """Run the generator with --out-dir; the one file it made there."""
    before = set(out_dir.glob("*.csv")) if out_dir.exists() else set()
    subprocess.run([sys.executable, str(GENDATA), "--out-dir", str(out_dir), *args],
                   check=True, capture_output=True)
    [made] = set(out_dir.glob("*.csv")) - before
    assert not list(out_dir.glob("*.part"))
    return made


def records(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def key_numbers(path: Path) -> set[int]:
    """The numbers in the e-mails of the rows the checker says load (clean or dirty file)."""
    numbers = set()
    for email in expected([path]).rows:
        match = KEY_NUMBER.match(email)
        assert match, email
        numbers.add(int(match[1]))
    return numbers


def test_names_say_shape_rows_seed_keys_and_dirt(tmp_path: Path) -> None:
    names = {generate(tmp_path, *args).name for args in [
        ("--rows", "100"), ("--rows", "100", "--seed", "42"), ("--rows", "100", "--dirty"),
        ("--rows", "100", "--shape", "plain"), ("--rows", "100", "--first-key", "1000")]}
    assert names == {
        "customers-bench-100-seed1-keys0-99-clean.csv",
        "customers-bench-100-seed42-keys0-99-clean.csv",
        "customers-bench-100-seed1-keys0-99-dirty.csv",
        "customers-plain-100-seed1-keys0-99-clean.csv",
        "customers-bench-100-seed1-keys1000-1099-clean.csv"}


def test_plain_shape_is_the_same_rows_in_ascii_and_utc(tmp_path: Path) -> None:
    bench = records(generate(tmp_path, "--rows", "20000"))
    plain_path = generate(tmp_path, "--rows", "20000", "--shape", "plain")
    plain = records(plain_path)
    assert plain_path.read_bytes().isascii()
    assert len(plain) == len(bench) == 20000
    zones = set()
    for b, p in zip(bench, plain, strict=True):
        for column in ("email", "phone", "birth_date", "country", "balance"):
            assert p[column] == b[column]
        for column in ("first_name", "last_name", "city"):
            assert p[column] == b[column] or not b[column].isascii()
        assert p["signup_at"] == b["signup_at"][:19] + "Z"
        zones.add(b["signup_at"][19:])
    assert {"Z", "", "+02:00"} <= zones  # the bench shape has zones and no zone
    exp = expected([plain_path])
    assert len(exp.rows) == 20000
    assert not exp.rejects


def test_key_ranges(tmp_path: Path) -> None:
    """A bigger file of the same seed holds the smaller one's key numbers; a file
    given the next range shares none, clean or dirty."""
    small = generate(tmp_path, "--rows", "3000")
    big = generate(tmp_path, "--rows", "6000")
    after = generate(tmp_path, "--rows", "3000", "--first-key", "3000", "--seed", "2")
    dirty_after = generate(tmp_path, "--rows", "3000", "--first-key", "6000", "--dirty")
    assert key_numbers(small) == set(range(3000))
    assert key_numbers(small) < key_numbers(big)
    assert key_numbers(after) == set(range(3000, 6000))
    assert not {r["email"] for r in records(small)} & {r["email"] for r in records(after)}
    dirty = key_numbers(dirty_after)
    assert min(dirty) >= 6000
    assert max(dirty) < 9000
    assert len(dirty) > 2700


def test_make_data_passes_only_what_is_set() -> None:
    out = dry_run("data")
    assert ".venv/bin/python scripts/gendata.py --out-dir data/generated" in out
    assert not re.search(r"--(rows|seed|shape|first-key|dirty)\b", out)
    out = dry_run("data", "ROWS=2000000", "SEED=7", "SHAPE=plain", "FIRST_KEY=1000000",
                  "DIRTY=1")
    for arg in ("--rows 2000000", "--seed 7", "--shape plain", "--first-key 1000000",
                "--dirty"):
        assert arg in out


def test_bench_options_take_the_generator_defaults() -> None:
    """Rows, seed and shape are defined once, in scripts/gendata.py."""
    bench_dir = str(ROOT / "bench")
    modules = set(sys.modules)
    sys.path.insert(0, bench_dir)
    try:
        from options import combos, parse_args  # the bench's modules are scripts' siblings

        from scripts import gendata
        args = parse_args([])
        assert (args.rows, args.seed, args.shape) == (
            gendata.DEFAULT_ROWS, gendata.DEFAULT_SEED, gendata.DEFAULT_SHAPE)
        assert combos(args) == [("bench", False)]
        assert combos(parse_args(["--matrix"])) == [
            ("bench", False), ("bench", True), ("plain", False), ("plain", True)]
        with pytest.raises(SystemExit):
            parse_args(["--matrix", "--dirty"])
    finally:
        sys.path.remove(bench_dir)
        for name in set(sys.modules) - modules:  # options, settings, ...: no name left behind
            if (getattr(sys.modules[name], "__file__", None) or "").startswith(bench_dir):
                del sys.modules[name]
