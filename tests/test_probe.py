"""Insert mode's probe for taken keys before COPY (libs/load/probe.py), against PostgreSQL.

Batches are cut from a file with keys repeated across batches and loaded by one InsertLoader,
as a consumer loads them. The expected table and rejects are computed here from the rows
written (the earliest line of each key loads; every later one is a duplicate_key reject), not
by the loader's code. A spy on the probe shows which batches took which path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import pytest

from libs.load import insert, probe
from libs.load.base import Outcome
from libs.load.insert import InsertLoader
from libs.load.target import Target, target_for
from libs.schema import from_file
from libs.schema.from_table import reflect
from libs.validate_vector import prepare_vector
from tests.pipeline import customers_rows, fetch, write_csv
from tests.test_vector_diff import batches

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_tables")]

BATCH = 500
ROWS = 3000
# (line index, the earlier line index whose key it repeats): in other batches, but for one.
REPEATS = {700: 10, 1200: 20, 1250: 699, 1900: 30, 2100: 1201, 2600: 40, 2601: 41,
           2950: 2900}


def dirty_rows() -> list[str]:
    rows = customers_rows(ROWS)
    for later, earlier in REPEATS.items():
        rows[later] = rows[later].replace(f"user{later}@", f"User{earlier}@")
    return rows


class Spy:
    """Counts the probe's calls and what each found; ``hide``: where it finds several keys
    taken, it does not report the last one."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, hide: bool = False) -> None:
        self.found: list[int] = []
        real = probe.held

        async def held(conn: Any, t: Target, sql: str, rows: Any) -> set[int]:
            taken = await real(conn, t, sql, rows)
            self.found.append(len(taken))
            return taken - {max(taken)} if hide and len(taken) > 1 else taken

        monkeypatch.setattr(insert, "held", held)


async def load(path: Path, database_url: str, order: str) -> tuple[list[Outcome], InsertLoader]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            reflected = await reflect(conn, "customers")
        loader = InsertLoader(pool, database_url)
        cut = list(batches(path, from_file.load("customers"), BATCH))
        outcomes = []
        for batch, mapped, reader in cut if order == "forward" else cut[::-1]:
            prepared = prepare_vector(batch, mapped, reader)
            assert prepared.copy_data is not None  # the vector path's payload, subsets too
            target = target_for(mapped, reflected)
            # Job order 0: the job is not registered, and a holder's unknown job counts as 0.
            outcomes.append(await loader.load(batch, prepared, target, 0))
        return outcomes, loader
    finally:
        await pool.close()


async def assert_earliest_lines_loaded(database_url: str) -> None:
    """The table holds each key from its earliest line; every later line is a reject."""
    rows = await fetch(database_url, "SELECT email, line_no FROM customers ORDER BY line_no")
    rejects = await fetch(database_url, "SELECT line_no, reason FROM ingest_rejects "
                          "ORDER BY line_no")
    lines = [index + 2 for index in range(ROWS) if index not in REPEATS]  # line 1: header
    assert [r["line_no"] for r in rows] == lines
    assert [(r["line_no"], r["reason"]) for r in rejects] == [
        (index + 2, "duplicate_key") for index in sorted(REPEATS)]
    batches = await fetch(database_url, "SELECT sum(inserted)::int AS i, "
                          "sum(rejected)::int AS r FROM ingest_batches")
    assert (batches[0]["i"], batches[0]["r"]) == (ROWS - len(REPEATS), len(REPEATS))


async def test_batches_probe_once_a_key_was_met_and_load_exactly(
        tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    spy = Spy(monkeypatch)
    path = write_csv(tmp_path / "repeats.csv", dirty_rows())
    outcomes, loader = await load(path, database_url, "forward")
    # Batch 0 holds no repeat; batch 1 (line 700) meets a taken key in its COPY, so the
    # probe is on from batch 2: it finds each batch's repeats of earlier batches (2950
    # repeats 2900, in its own batch: the validator rejects it, nothing to find).
    assert spy.found == [2, 1, 1, 2]
    assert [o.inserted for o in outcomes] == [500, 499, 498, 499, 499, 497]
    assert sum(sum(o.rejected.values()) for o in outcomes) == len(REPEATS)
    (state,) = loader._probing.values()
    assert state.on
    await assert_earliest_lines_loaded(database_url)


async def test_reverse_order_the_probe_finds_later_lines_and_displaces_them(
        tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    spy = Spy(monkeypatch)
    path = write_csv(tmp_path / "repeats.csv", dirty_rows())
    outcomes, _ = await load(path, database_url, "reverse")
    # The later lines load first, and nothing is taken until batch 2's COPY meets line 1201's
    # key (loaded from line 2100); then the probe of batch 1 finds line 699's key (taken by
    # line 1250) and the probe of batch 0 the five later lines that repeat its keys. Each
    # earlier line takes its key back: the displaced records' batches count them rejected
    # (2950 repeats 2900 inside its batch: rejected by the validator).
    assert spy.found == [1, 5]
    assert sum(o.moved[("inserted", "rejected")] for o in outcomes) == len(REPEATS) - 1
    await assert_earliest_lines_loaded(database_url)


async def test_a_probe_that_misses_a_taken_key_costs_time_not_exactness(
        tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A key taken between the probe and the COPY (a concurrent batch committed it) is what
    # the hidden key stands for: the COPY of the free rows fails on it, the probe is asked
    # again about them, finds it (alone now, so not hidden) and it takes the stage path.
    spy = Spy(monkeypatch, hide=True)
    path = write_csv(tmp_path / "repeats.csv", dirty_rows())
    await load(path, database_url, "forward")
    assert spy.found == [2, 1, 1, 1, 2, 1]
    await assert_earliest_lines_loaded(database_url)


async def test_a_batch_whose_probe_finds_nothing_falls_back_to_the_stage_path_whole(
        tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async def blind(conn: Any, t: Target, sql: str, rows: Any) -> set[int]:
        return set()

    monkeypatch.setattr(insert, "held", blind)
    path = write_csv(tmp_path / "repeats.csv", dirty_rows())
    _, loader = await load(path, database_url, "forward")
    (state,) = loader._probing.values()
    assert state.on  # each batch's COPY met a taken key
    await assert_earliest_lines_loaded(database_url)


def test_probing_turns_on_at_a_taken_key_and_off_after_quiet_batches() -> None:
    state = probe.Probing()
    assert not state.on
    state.met(True)
    for _ in range(probe.QUIET - 1):
        state.met(False)
        assert state.on
    state.met(True)  # a taken key starts the count again
    for _ in range(probe.QUIET - 1):
        state.met(False)
    assert state.on
    state.met(False)
    assert not state.on


@pytest.mark.parametrize("key", [("a",), ("a", "b")])
async def test_the_probe_finds_held_keys_of_one_or_several_typed_columns(
        database_url: str, key: tuple[str, ...]) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("CREATE TEMP TABLE t (a integer, b text, c text, "
                           f"PRIMARY KEY ({', '.join(key)}))")
        await conn.execute("INSERT INTO t VALUES (1, 'x', ''), (2, 'y\"', ''), (10, 'é', '')")
        kinds = {"a": "integer", "b": "text"}
        t = Target(name="t", table="t", relname="t", schema=None, columns=("a", "b", "c"),
                   key=key, in_row=False, key_types=tuple(kinds[k] for k in key))
        rows = [("2", 'y"', "", "job", "5"), ("3", "x", "", "job", "6"),
                ("10", "é", "", "job", "7"), ("1", "z", "", "job", "8")]
        found = await probe.held(conn, t, probe.probe_sql(t), rows)
    finally:
        await conn.close()
    # One column: a is 2, 10 and 1 in the table; two: (2, y") and (10, é) only.
    assert found == ({0, 2, 3} if key == ("a",) else {0, 2})


async def test_free_rows_in_small_pieces_a_missed_key_fails_only_its_piece(
        tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(insert, "FREE_PIECE", 64)
    spy = Spy(monkeypatch, hide=True)
    path = write_csv(tmp_path / "repeats.csv", dirty_rows())
    await load(path, database_url, "forward")
    # Each hidden key fails its piece of 64 rows: only that piece is probed again (at most
    # 64 keys, and it finds the hidden one alone).
    assert spy.found == [2, 1, 1, 1, 2, 1]
    await assert_earliest_lines_loaded(database_url)
