"""The load modes' oracle: the final table and each job's counters, from the input files alone.

Records are read and validated by the independent checker's code (``tests/checker.py``,
``tests/checker_rules.py``; never libs/ or the pipeline), then applied in job order (the order
of ``paths``) and line order, as the issue defines each mode:

- insert: the first valid record of a key wins;
- upsert: the last one wins;
- merge: ``I`` and ``U`` write the row, ``D`` removes it (nothing if absent), one record after
  the other: the bulk API's ``MERGE ... WHEN MATCHED AND op <> 'D' THEN UPDATE, WHEN NOT
  MATCHED AND op <> 'D' THEN INSERT, WHEN MATCHED AND op = 'D' THEN DELETE`` per record;
- replace: the table is emptied, then loaded with insert's rule (what was there before the
  job does not count).

An atomic job must give what its streaming job gives (the same ``final``); ``before``: the
rows of the table before the first job (by key), e.g. rows a replace removes.

Counters (jobs loaded one after the other): within a job the last record of a key is the one
that counts (insert: the first), the others are ``superseded`` (insert: ``rejected``
duplicate_key); it counts ``inserted``/``updated`` (a write) or ``deleted``/``unchanged`` (a
delete) after whether the key was present before the job.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests import checker, checker_rules
from tests.checker_rules import Invalid

MERGE_CODES = {"I": "write", "U": "write", "D": "delete"}


@dataclass
class Final:
    """The expected table by key (values by column, typed as the checker types them) and
    each job's counters (by file index)."""

    rows: dict[Any, dict[str, Any]] = field(default_factory=dict)
    counts: list[Counter[str]] = field(default_factory=list)


def valid_records(path: Path, dataset: str) -> tuple[list[tuple[int, Any, dict[str, Any]]],
                                                       int]:
    """The file's valid records in line order as (line, key, values), and its record count."""
    rules = checker_rules.RULES[dataset]
    out: list[tuple[int, Any, dict[str, Any]]] = []
    records = 0
    for line, raw in checker._delimited(path, rules):
        records += 1
        try:
            if isinstance(raw, Invalid):
                raise raw
            values = rules.row(raw)
        except Invalid:
            continue
        key = tuple(values[name] for name in rules.key)
        out.append((line, key[0] if len(key) == 1 else key, values))
    return out, records


def final(paths: Sequence[Path], dataset: str, mode: str, op: str = "op",
          before: dict[Any, dict[str, Any]] | None = None) -> Final:
    """What loading ``paths`` as jobs in this order, in ``mode``, must leave."""
    result = Final(rows=dict(before or {}))
    for path in paths:
        if mode == "replace":
            result.rows.clear()
        records, total = valid_records(path, dataset)
        if mode == "merge":
            records = [r for r in records if r[2][op] in MERGE_CODES]
        counts: Counter[str] = Counter(rejected=total - len(records))
        winners: dict[Any, dict[str, Any]] = {}
        for _, key, values in records:
            if key in winners:
                first_wins = mode in ("insert", "replace")
                counts["rejected" if first_wins else "superseded"] += 1
                if first_wins:
                    continue
            winners[key] = values
        for key, values in winners.items():
            _apply(result.rows, key, values, mode, op, counts)
        result.counts.append(counts)
    return result


def _apply(rows: dict[Any, dict[str, Any]], key: Any, values: dict[str, Any], mode: str,
           op: str, counts: Counter[str]) -> None:
    present = key in rows
    if mode in ("insert", "replace"):
        if present:
            counts["rejected"] += 1
        else:
            rows[key] = values
            counts["inserted"] += 1
    elif mode == "upsert" or MERGE_CODES[values[op]] == "write":
        rows[key] = values
        counts["updated" if present else "inserted"] += 1
    else:
        rows.pop(key, None)
        counts["deleted" if present else "unchanged"] += 1


def merge_statement_sql(table: str, columns: dict[str, str], key: str, op: str = "op") -> str:
    """The bulk API's MERGE for one record (parameters in ``columns`` order, each cast to its
    type), to replay the records one by one in PostgreSQL as a second reference."""
    params = ", ".join(f"${i}::{kind} AS {name}" for i, (name, kind) in
                       enumerate(columns.items(), 1))
    sets = ", ".join(f"{c} = s.{c}" for c in columns if c != key)
    names = ", ".join(columns)
    values = ", ".join(f"s.{c}" for c in columns)
    return (f"MERGE INTO {table} t USING (SELECT {params}) s ON t.{key} = s.{key} "
            f"WHEN MATCHED AND s.{op} <> 'D' THEN UPDATE SET {sets} "
            f"WHEN NOT MATCHED AND s.{op} <> 'D' THEN INSERT ({names}) VALUES ({values}) "
            f"WHEN MATCHED AND s.{op} = 'D' THEN DELETE")
