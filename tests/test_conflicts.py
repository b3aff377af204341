"""Insert mode's stage path for batches that meet taken keys (libs/load/conflicts.py), against
PostgreSQL.

Batches are cut from a file with keys repeated across batches and loaded by one InsertLoader,
as a consumer loads them, into the customers table (lineage in its rows) or into the same table
without lineage columns (lineage in ingest_keys). The expected table and rejects are computed
here from the rows written (the earliest line of each key loads; every later one is a
duplicate_key reject), not by the loader's code. A spy on the direct COPY and on the stage
shows which batches took which path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from libs.load import conflicts, insert
from libs.load.base import Outcome
from libs.load.insert import InsertLoader
from libs.load.target import target_for
from libs.schema import from_file
from libs.schema.from_table import reflect
from libs.validate_vector import prepare_vector
from tests.pipeline import customers_rows, execute, fetch, write_csv
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
    """The path each batch took: "copy" (straight into the table), "stage" (the whole batch
    through the stage) or "copy+stage" (a direct COPY that met a taken key, then the stage)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.paths: list[str] = []
        write_rows, merge = insert._Run.write_rows, insert._Run._merge

        async def spied_write(run: Any, *args: Any, **kwargs: Any) -> Any:
            self.paths.append("copy")
            return await write_rows(run, *args, **kwargs)

        async def spied_merge(run: Any, *args: Any, **kwargs: Any) -> Any:
            if self.paths and self.paths[-1] == "copy" and not getattr(run, "_spied", False):
                self.paths[-1] = "copy+stage"
            elif not getattr(run, "_spied", False):
                self.paths.append("stage")
            run._spied = True
            return await merge(run, *args, **kwargs)

        monkeypatch.setattr(insert._Run, "write_rows", spied_write)
        monkeypatch.setattr(insert._Run, "_merge", spied_merge)


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
            assert prepared.copy_data is not None  # the vector path's payload
            target = target_for(mapped, reflected)
            # Job order 0: the job is not registered, and a holder's unknown job counts as 0.
            outcomes.append(await loader.load(batch, prepared, target, 0))
        return outcomes, loader
    finally:
        await pool.close()


@pytest.fixture(params=["in_row", "side"])
async def lineage(request: pytest.FixtureRequest, database_url: str) -> AsyncIterator[str]:
    """Where the lineage is: in the customers table's rows, or, for "side", in ingest_keys
    (customers without its lineage columns, for one test)."""
    if request.param == "in_row":
        yield "in_row"
        return
    await execute(database_url, "ALTER TABLE customers DROP COLUMN job_id, DROP COLUMN line_no")
    try:
        yield "side"
    finally:
        await execute(database_url, "TRUNCATE customers", "ALTER TABLE customers ADD COLUMN "
                      "job_id text, ADD COLUMN line_no integer")


async def assert_earliest_lines_loaded(database_url: str, in_row: bool = True) -> None:
    """The table holds each key from its earliest line; every later line is a reject."""
    lineage = ("SELECT email, line_no FROM customers ORDER BY line_no" if in_row else
               "SELECT key AS email, line_no FROM ingest_keys WHERE NOT deleted ORDER BY line_no")
    rows = await fetch(database_url, lineage)
    rejects = await fetch(database_url, "SELECT line_no, reason FROM ingest_rejects "
                          "ORDER BY line_no")
    lines = [index + 2 for index in range(ROWS) if index not in REPEATS]  # line 1: header
    assert [r["line_no"] for r in rows] == lines
    count = await fetch(database_url, "SELECT count(*)::int AS n FROM customers")
    assert count[0]["n"] == len(lines)
    assert [(r["line_no"], r["reason"]) for r in rejects] == [
        (index + 2, "duplicate_key") for index in sorted(REPEATS)]
    batches = await fetch(database_url, "SELECT sum(inserted)::int AS i, "
                          "sum(rejected)::int AS r FROM ingest_batches")
    assert (batches[0]["i"], batches[0]["r"]) == (ROWS - len(REPEATS), len(REPEATS))


async def test_once_a_batch_meets_a_taken_key_the_next_ones_take_the_stage_path(
        tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch,
        lineage: str) -> None:
    spy = Spy(monkeypatch)
    path = write_csv(tmp_path / "repeats.csv", dirty_rows())
    outcomes, loader = await load(path, database_url, "forward")
    # Batch 0 holds no repeat; batch 1 (line 700) meets a taken key in its COPY and goes
    # through the stage; from batch 2 on, every batch does at once (2950 repeats 2900 in its
    # own batch: the validator rejects it).
    assert spy.paths == ["copy", "copy+stage", "stage", "stage", "stage", "stage"]
    assert [o.inserted for o in outcomes] == [500, 499, 498, 499, 499, 497]
    assert sum(sum(o.rejected.values()) for o in outcomes) == len(REPEATS)
    (state,) = loader._conflicts.values()
    assert state.on
    await assert_earliest_lines_loaded(database_url, in_row=lineage == "in_row")


async def test_reverse_order_the_stage_path_displaces_later_lines(
        tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    spy = Spy(monkeypatch)
    path = write_csv(tmp_path / "repeats.csv", dirty_rows())
    outcomes, _ = await load(path, database_url, "reverse")
    # The later lines load first; nothing is taken until batch 2's COPY meets line 1201's key
    # (loaded from line 2100). Then every earlier line takes its key back: the displaced
    # records' batches count them rejected (2950 repeats 2900 inside its batch).
    assert spy.paths == ["copy", "copy", "copy", "copy+stage", "stage", "stage"]
    assert sum(o.moved[("inserted", "rejected")] for o in outcomes) == len(REPEATS) - 1
    await assert_earliest_lines_loaded(database_url)


async def test_a_value_refused_in_a_staged_batch_is_rejected_and_the_rest_loads(
        tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A CHECK the stage does not copy (LIKE ... INCLUDING DEFAULTS): the INSERT from the stage
    # refuses the row, the other staged rows load and the refusal is database_rejected.
    await execute(database_url, "ALTER TABLE customers ADD CONSTRAINT no_2500 "
                  "CHECK (email <> 'user2500@example.com')")
    try:
        spy = Spy(monkeypatch)
        path = write_csv(tmp_path / "repeats.csv", dirty_rows())
        outcomes, _ = await load(path, database_url, "forward")
    finally:
        await execute(database_url, "ALTER TABLE customers DROP CONSTRAINT no_2500")
    assert spy.paths[5] == "stage"
    assert outcomes[5].inserted == 496
    refused = await fetch(database_url, "SELECT line_no, reason FROM ingest_rejects "
                          "WHERE reason <> 'duplicate_key'")
    assert [(r["line_no"], r["reason"]) for r in refused] == [(2502, "database_rejected")]


def test_the_stage_path_turns_on_at_a_taken_key_and_off_after_quiet_batches() -> None:
    state = conflicts.Conflicts()
    assert not state.on
    state.met(True)
    for _ in range(conflicts.QUIET - 1):
        state.met(False)
        assert state.on
    state.met(True)  # a taken key starts the count again
    for _ in range(conflicts.QUIET - 1):
        state.met(False)
    assert state.on
    state.met(False)
    assert not state.on
