"""Vectorized validation of a batch (issue 15): the same ``Prepared`` as ``libs.validate.prepare``
(rows, rejects with reasons and details, in-batch duplicates, the COPY payload), byte for byte,
with the values checked column by column.

The batch's records with as many fields as the header (the *candidates*) come as columns
(``libs.formats.columns``). Per checked field (``libs.schema.vector``) the kernel accepts the
values the field's closure returns unchanged; every other distinct value goes through the
closure itself, once. A candidate whose values were all decided without an exception gets its
row from the columns; a candidate with a value its closure raised on is rejected as
``Plan.validate`` rejects it (``Plan.broken``: the first such field in field order, which is
the order of the checks); every other record (another field count, a reader's reject) goes
through ``Plan.validate`` whole, so its reject is the row path's. In-batch
duplicates are then settled in line order as the row path settles them. The COPY payload of
the rows (``Prepared.copy_data``) is joined in arrow from the columns, with the row path's
``csv_line`` for the rows that need quoting and the rows the row path made.

If pyarrow cannot take a batch (a value that is not valid Unicode text), the batch goes
through the row path whole.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Sequence
from functools import cache
from itertools import repeat
from operator import itemgetter
from typing import Any, Final, cast

from libs import arrow
from libs.formats import Reader
from libs.formats.columns import ColumnBatch, column_batch
from libs.load.payload import NEEDS_QUOTES, copy_payload, csv_line
from libs.load.prepared import CopyData, Prepared
from libs.messages import Batch
from libs.schema.compile import Plan, Reject
from libs.schema.reasons import DUPLICATE_KEY
from libs.schema.vector import VectorPlan, vector_plan
from libs.validate import is_plain, key_parts, prepare, unique_keys

Row = tuple[str, ...]
_MAX_CACHED: Final = 4096
_SPECIAL_BYTES: Final = tuple(char.encode() for char in ',"\r\n\\')  # NEEDS_QUOTES
_plans: dict[int, tuple[Plan, VectorPlan]] = {}


class _Raised:
    """A value the closure raised on: the reject of a record whose first broken field holds
    it (``Plan.broken``). Made where the exception is caught and kept instead of it: an
    exception's context holds frames that hold the batch (a cycle)."""

    __slots__ = ("reject",)

    def __init__(self, reject: Reject) -> None:
        self.reject = reject


class Checked:
    """The plan's columns of a ColumnBatch once checked: outputs, and the unsure places, each
    with its reject (the first of its fields whose closure raised, in field order)."""

    def __init__(self, batch: ColumnBatch, plan: Plan) -> None:
        self.batch, self.index, self.plan = batch, plan.index, plan
        self.unsure: dict[int, Reject] = {}
        self._changed: dict[int, dict[int, str]] = {}  # column -> place -> output
        self._arrays: dict[int, arrow.Array] = {}

    def check(self, at: int, cell: Callable[[str], str],
              accept: Callable[[arrow.Array], arrow.Array] | None) -> None:
        """Decide column ``at``: values the kernel accepts stay; the closure decides each
        other distinct value once."""
        position = self.index[at]
        if accept is None:
            rest: Sequence[int] = range(self.batch.size)
        else:
            rest = arrow.true_positions(arrow.negate(accept(self.batch.array(position))))
        if not rest:
            return
        values = self.batch.values_at(position, rest)
        memo: dict[str, Any] = {}
        changes: dict[int, str] = {}
        unsure = self.unsure
        for place, value in zip(rest, values, strict=True):
            result = memo.get(value, memo)
            if result is memo:
                try:
                    result = memo[value] = cell(value)
                except Exception as exc:  # its record: the row path's reject
                    result = memo[value] = _Raised(self.plan.broken(at, value, exc))
            if type(result) is _Raised:
                if place not in unsure:  # the checks run in field order: the first broken
                    unsure[place] = result.reject
            elif result != value:
                changes[place] = result
        if changes:
            self._changed[at] = changes

    def values(self, at: int) -> Sequence[str]:
        """Column ``at``'s outputs as Python strings (an unsure place keeps its raw value)."""
        raw = self.batch.values(self.index[at])
        changes = self._changed.get(at)
        if not changes:
            return raw
        out = list(raw)
        for place, value in changes.items():
            out[place] = value
        return out

    def array(self, at: int) -> arrow.Array:
        """The same outputs as arrow strings (made once)."""
        found = self._arrays.get(at)
        if found is None:
            found = self._arrays[at] = self._array(at)
        return found

    def _array(self, at: int) -> arrow.Array:
        raw = self.batch.array(self.index[at])
        changes = self._changed.get(at)
        if not changes:
            return raw
        mask = [False] * self.batch.size
        for place in changes:
            mask[place] = True
        return arrow.replace_at(raw, arrow.booleans(mask), list(changes.values()))

    def rows_at(self, places: Sequence[int], job: str, lines: Sequence[int]) -> dict[int, Row]:
        """The rows of the candidates at ``places`` (as ``prepare_vector``'s ``rows()`` makes
        them), by place, without making the others."""
        columns = [arrow.texts_at(self.array(at), places) for at in range(len(self.index))]
        return {place: (*values, job, str(lines[place]))
                for place, values in zip(places, zip(*columns, strict=True), strict=True)}


def split(batch: Batch, plan: Plan, reader: Reader) -> ColumnBatch | None:
    """The batch's records as columns (``libs.formats.columns``); None if pyarrow cannot
    take them."""
    try:
        return column_batch(reader.with_header(batch.columns), batch.body, batch.first_line,
                            plan.field_count)
    except arrow.ArrowError:
        return None


def prepare_vector(batch: Batch, plan: Plan, reader: Reader, *, first_wins: bool = True,
                   columns: ColumnBatch | None = None) -> Prepared:
    """``libs.validate.prepare``'s result, computed column-wise (see the module).
    ``columns``: the batch's ``split`` when the caller made it already."""
    reader = reader.with_header(batch.columns)
    columns = columns or split(batch, plan, reader)
    if columns is None:
        return prepare(batch, plan, reader, first_wins=first_wins)
    try:
        checked = Checked(columns, plan)
        for check in _compiled(plan).checks:
            checked.check(check.at, check.cell, check.accept)
    except arrow.ArrowError:
        return prepare(batch, plan, reader, first_wins=first_wins)
    job = batch.job_id

    @cache
    def rows() -> list[Row]:
        """The candidates' rows (each column's outputs, then the lineage), made once."""
        return list(zip(*(checked.values(at) for at in range(len(plan.index))), repeat(job),
                        map(str, columns.lines), strict=False))

    out = Prepared(body=batch.body, first_line=batch.first_line, reader=reader,
                   raw_index=columns.raw)
    out.plain = is_plain(batch.body)
    settle = _Settle(out, plan, job, first_wins)
    order, extra = settle.all(columns, checked, rows)
    # The payload keeps no reference to ``out`` (which holds it): a cycle would keep the
    # batch's arrow buffers alive until the cycle collector runs, and a clean batch now makes
    # few Python objects, so it seldom does (consumer RSS grew to ~500 MB).
    final = settle.final or _holding(out.rows)
    out.copy_data = _payload(checked, job, columns.lines, order, extra, final, out.size)
    return out


Validator = Callable[..., Prepared]  # (batch, plan, reader, *, first_wins) -> Prepared
# The validator of each ``ConsumerSettings.validation`` (libs.settings.VALIDATIONS).
VALIDATORS: Final[dict[str, Validator]] = {"vector": prepare_vector, "row": prepare}


def _compiled(plan: Plan) -> VectorPlan:
    """The plan's column checks, compiled once per plan."""
    found = _plans.get(id(plan))
    if found is None or found[0] is not plan:
        if len(_plans) >= _MAX_CACHED:
            _plans.clear()
        found = _plans[id(plan)] = (plan, vector_plan(plan))
    return found[1]


class _Settle:
    """Rows and rejects in line order, in-batch duplicates settled as the row path does: the
    earliest line of a key keeps it, each later one is rejected ``duplicate_key``."""

    def __init__(self, out: Prepared, plan: Plan, job: str, first_wins: bool) -> None:
        self.out, self.plan, self.job = out, plan, job
        self.key_at, self.key_of, self.key_name = (key_parts(plan) if first_wins
                                                   else (0, unique_keys(), ""))
        # The rows, when they are left to be made (insert mode with a key of one value, or
        # the common batch): made only if a loader asks for them. None: ``out.rows``.
        self.final: Callable[[], list[Row]] | None = None

    def all(self, columns: ColumnBatch, checked: Checked,
            candidates: Callable[[], list[Row]]) -> tuple[list[int], list[Row]]:
        """Settle every record; returns (where each row comes from: a candidate's place, or
        the candidates' count + an index in the second list; the rows the row path made).
        ``candidates()``: the candidates' rows."""
        unsure, size = checked.unsure, columns.size
        if (columns.ordered and not columns.others and not unsure
                and self._distinct(checked, candidates)):
            # The common batch: every record a row, made only if a loader asks for them;
            # a key of one value gives the order COPY sends them in.
            self.out.made_rows(size, candidates)
            self.final = candidates
            if self.key_of is None and self.key_name:
                self.out.copy_order = arrow.sorted_places(checked.array(self.key_at))
            return list(range(size)), []
        lines = columns.lines
        places = range(size) if columns.ordered else sorted(range(size), key=lines.__getitem__)
        sure = [k for k in places if k not in unsure] if unsure else list(places)
        extra = self._others(columns, unsure)
        # A key of one value: the keys come from its column and the rows are left to be made.
        rows = None if self.key_of is None else candidates()
        if rows is None:
            keys = checked.values(self.key_at)
            sure_keys: list[object] = [keys[k] for k in sure]
        else:
            key_of = self.key_of
            assert key_of is not None
            sure_keys = [key_of(rows[k]) for k in sure]
        losers = self._losers(sure, sure_keys, extra, lines, checked, rows)
        order = _merged(sure, [lines[k] for k in sure], extra, losers, size)
        if rows is None:
            self._left_to_make(order, extra, size, candidates, checked)
        else:
            self.out.rows = [rows[place] if place < size else extra[place - size][1]
                             for place in order]
        self.out.rejects.sort(key=lambda reject: reject.line_no)
        return order, [row for _, row in extra]

    def _others(self, columns: ColumnBatch,
                unsure: dict[int, Reject]) -> list[tuple[int, Row]]:
        """The unsure candidates rejected as ``Plan.validate`` rejects them (the first field
        whose closure raised: ``Plan.broken``), and every other record through
        ``Plan.validate``: the (line, row) of the valid ones, in line order; the rejects are
        kept."""
        lines, plan, out = columns.lines, self.plan, self.out
        for place, reject in unsure.items():
            out.reject(lines[place], reject)
        valid: list[tuple[int, Row]] = []
        for line_no, fields in columns.others:
            result = plan.validate(fields, (self.job, str(line_no))) if type(fields) is list \
                else fields
            if type(result) is tuple:
                valid.append((line_no, result))
            else:
                out.reject(line_no, result)
        return valid

    def _losers(self, sure: list[int], sure_keys: list[object], extra: list[tuple[int, Row]],
                lines: list[int], checked: Checked, rows: list[Row] | None) -> set[int]:
        """The rows whose key an earlier line holds, as indices of ``sure + extra``: each
        rejected ``duplicate_key`` and kept in ``out.duplicates`` (line order, by key)."""
        key_of = (itemgetter(self.key_at) if self.key_of is None else self.key_of)
        keys = sure_keys + [key_of(row) for _, row in extra]
        repeated = _repeated(keys)
        if not repeated:
            return set()
        count = len(sure)

        def line_of(index: int) -> int:
            return lines[sure[index]] if index < count else extra[index - count][0]

        first: dict[object, int] = {}
        losers = [index for index in sorted(repeated, key=line_of)
                  if first.setdefault(keys[index], line_of(index)) != line_of(index)]
        lazy = (checked.rows_at([sure[i] for i in losers if i < count], self.job, lines)
                if rows is None else {})
        for index in losers:
            key, line_no = keys[index], line_of(index)
            if index >= count:
                row = extra[index - count][1]
            else:
                row = rows[sure[index]] if rows is not None else lazy[sure[index]]
            self.out.reject(line_no, Reject(
                DUPLICATE_KEY, f"{self.key_name} {key} already on line {first[key]}"))
            self.out.duplicates.setdefault(cast(str, key), []).append((line_no, row))
        return set(losers)

    def _left_to_make(self, order: list[int], extra: list[tuple[int, Row]], size: int,
                      candidates: Callable[[], list[Row]], checked: Checked) -> None:
        """The rows are made only if a loader asks for them; COPY sends them in key order."""
        def final() -> list[Row]:
            made = candidates()
            return [made[place] if place < size else extra[place - size][1] for place in order]

        self.final = final
        self.out.made_rows(len(order), final)
        if self.key_name:  # the keys of the rows in ``order``, taken in arrow
            keys = checked.array(self.key_at)
            if extra:
                keys = arrow.concat([keys, arrow.strings([row[self.key_at] for _, row in extra])])
            self.out.copy_order = arrow.sorted_places(arrow.take(keys, order))

    def _distinct(self, checked: Checked, candidates: Callable[[], list[Row]]) -> bool:
        """No two candidates share a key (a key of one value: from its column alone)."""
        keys: Sequence[object]
        if self.key_of is None:
            keys = checked.values(self.key_at)
        else:
            keys = list(map(self.key_of, candidates()))
        return len(set(keys)) == len(keys)


def _merged(sure: list[int], sure_lines: list[int], extra: list[tuple[int, Row]],
            losers: set[int], size: int) -> list[int]:
    """Where each kept row comes from, in line order: the sure candidates' places and, for
    the rows of ``extra``, the candidates' count + their index; ``losers`` (indices of
    ``sure + extra``) left out."""
    count = len(sure)
    if losers:
        kept = [i for i in range(count) if i not in losers]
        sure, sure_lines = [sure[i] for i in kept], [sure_lines[i] for i in kept]
    order: list[int] = []
    at = 0
    for index, (line_no, _) in enumerate(extra):
        if count + index in losers:
            continue
        end = bisect_left(sure_lines, line_no, at)
        order += sure[at:end]
        order.append(size + index)
        at = end
    order += sure[at:]
    return order


def _repeated(keys: Sequence[object]) -> list[int]:
    """The places of the values that occur more than once in ``keys``."""
    last = dict(zip(keys, range(len(keys)), strict=False))
    if len(last) == len(keys):
        return []
    earlier = [place for place, key in enumerate(keys) if last[key] != place]
    return sorted({*earlier, *(last[keys[place]] for place in earlier)})


def _holding(rows: list[Row]) -> Callable[[], list[Row]]:
    return lambda: rows


def _payload(checked: Checked, job: str, lines: list[int], order: list[int], extra: list[Row],
             final_rows: Callable[[], list[Row]], size: int) -> CopyData:
    """``copy_payload`` of the final rows, or of those at ``places`` (each without its last
    ``strip`` values), from the columns: each candidate's line joined in arrow, ``csv_line``
    for the lines that need quoting and for the rows the row path made, all put in the rows'
    order. ``final_rows()``: the rows, ``size`` of them."""
    count = len(checked.index)

    made: dict[int, arrow.Array] = {}  # by strip: each final row's line, in row order

    def every_line(strip: int) -> arrow.Array:
        """Each final row's COPY line (without its last ``strip`` values), made once."""
        if strip in made:
            return made[strip]
        width = count + 2 - strip
        pieces: list[arrow.Array] = []
        if lines:
            parts: list[Any] = [checked.array(at) for at in range(count)]
            parts += [job, arrow.numbers_text(lines)][: 2 - strip]
            joined = arrow.join_columns([*parts[:-1], last_line(parts[-1])], ",")
            if (order == list(range(len(lines))) and not extra
                    and _plain_lines(arrow.string_data(joined), len(lines), width)):
                made[strip] = joined
                return joined
            pieces.append(_quoted(joined, parts))
        if extra:
            pieces.append(arrow.strings([csv_line(row[:width]) + "\n" for row in extra]))
        every = pieces[0] if len(pieces) == 1 else arrow.concat(pieces)
        if len(order) != len(every) or order != list(range(len(order))):
            every = arrow.take(every, order)
        made[strip] = every
        return every

    def build(strip: int, places: Sequence[int] | None = None) -> bytes:
        if not size or strip not in (0, 1, 2) or size != len(order):
            width = count + 2 - strip
            final = final_rows()
            chosen = final if places is None else [final[place] for place in places]
            return copy_payload([row[:width] for row in chosen] if strip else chosen)
        every = every_line(strip)
        return arrow.string_data(every if places is None else arrow.take(every, places))

    return build


def last_line(part: Any) -> Any:
    """The last value of each line, with the line's LF."""
    return part + "\n" if isinstance(part, str) else arrow.join_columns([part, "\n"], "")


def _plain_lines(data: bytes, size: int, width: int) -> bool:
    """True if ``data`` (``size`` lines of ``width`` values joined by commas, each ending in
    LF) needs no quoting: copy_payload's own test."""
    return (data.count(b",") == (width - 1) * size and data.count(b"\n") == size
            and b'"' not in data and b"\r" not in data and b"\\" not in data)


def _quoted(joined: arrow.Array, parts: list[Any]) -> arrow.Array:
    """``joined`` (each row's ``parts`` joined by commas, then LF) with ``csv_line`` where a
    value holds the delimiter, a quote, CR, LF or a backslash (``NEEDS_QUOTES``), found by
    searching each column's bytes (``arrow.holding_any``)."""
    size = len(joined)
    found: set[int] = set()
    for part in parts:
        if isinstance(part, str):  # the job id: in every row
            if NEEDS_QUOTES.search(part) is not None:
                found = set(range(size))
                break
        else:
            found.update(arrow.holding_any(part, _SPECIAL_BYTES))
    if not found:
        return joined
    places = sorted(found)
    mask = [False] * size
    for place in places:
        mask[place] = True
    values = [[part] * len(places) if isinstance(part, str) else arrow.texts_at(part, places)
              for part in parts]
    fixes = [csv_line(row) + "\n" for row in zip(*values, strict=True)]
    return arrow.replace_at(joined, arrow.booleans(mask), fixes)
