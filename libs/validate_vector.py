"""Vectorized validation of a batch (issue 15): the same ``Prepared`` as ``libs.validate.prepare``
(rows, rejects with reasons and details, in-batch duplicates, the COPY payload), byte for byte,
with the values checked column by column.

The batch's records with as many fields as the header (the *candidates*) come as columns
(``libs.formats.columns``). Per checked field (``libs.schema.vector``) the kernel accepts the
values the field's closure returns unchanged; every other distinct value goes through the
closure itself, once. A candidate whose values were all decided without an exception gets its
row from the columns; every other record (a rule broken, another field count, a reader's
reject) goes through ``Plan.validate`` whole, so its reject is the row path's. In-batch
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
from typing import Any, Final

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
_UNSURE: Final = object()  # the closure raised on the value: its record goes through validate()
_MAX_CACHED: Final = 4096
_SPECIAL_BYTES: Final = tuple(char.encode() for char in ',"\r\n\\')  # NEEDS_QUOTES
_NEEDS_QUOTES_RE2: Final = '[,"\\r\\n\\\\]'
_plans: dict[int, tuple[Plan, VectorPlan]] = {}


class Checked:
    """The plan's columns of a ColumnBatch once checked: outputs, and the unsure places."""

    def __init__(self, batch: ColumnBatch, plan: Plan) -> None:
        self.batch, self.index = batch, plan.index
        self.unsure: set[int] = set()
        self._changed: dict[int, dict[int, str]] = {}  # column -> place -> output

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
        values = self.batch.values(position)
        memo: dict[str, Any] = {}
        changes: dict[int, str] = {}
        unsure = self.unsure
        for place in rest:
            value = values[place]
            result = memo.get(value, memo)
            if result is memo:
                try:
                    result = memo[value] = cell(value)
                except Exception:
                    result = memo[value] = _UNSURE
            if result is _UNSURE:
                unsure.add(place)
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
        """The same outputs as arrow strings."""
        raw = self.batch.array(self.index[at])
        changes = self._changed.get(at)
        if not changes:
            return raw
        mask = [False] * self.batch.size
        for place in changes:
            mask[place] = True
        return arrow.replace_at(raw, arrow.booleans(mask), list(changes.values()))


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
    final = rows if settle.lazy else _holding(out.rows)
    out.copy_data = _payload(checked, job, columns.lines, rows, order, extra, final, out.size)
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
    """Rows and rejects in line order, in-batch duplicates settled as the row path does."""

    def __init__(self, out: Prepared, plan: Plan, job: str, first_wins: bool) -> None:
        self.out, self.plan, self.job = out, plan, job
        self.key_at, self.key_of, self.key_name = (key_parts(plan) if first_wins
                                                   else (0, unique_keys(), ""))
        self.seen: dict[object, int] = {}
        self.order: list[int] = []  # where each row comes from: a candidate, or len + extra
        self.extra: list[Row] = []  # rows the row path made
        self.lazy = False  # the rows are left to be made (the common batch)

    def all(self, columns: ColumnBatch, checked: Checked,
            candidates: Callable[[], list[Row]]) -> tuple[list[int], list[Row]]:
        """Settle every record; returns (where each row comes from, the rows the row path
        made). ``candidates()``: the candidates' rows."""
        unsure, size = checked.unsure, columns.size
        if (columns.ordered and not columns.others and not unsure
                and self._distinct(checked, candidates)):
            # The common batch: every record a row, made only if a loader asks for them;
            # a key of one value gives the order COPY sends them in.
            self.out.made_rows(size, candidates)
            self.lazy = True
            if self.key_of is None and self.key_name:
                self.out.copy_order = arrow.sorted_places(checked.array(self.key_at))
            return list(range(size)), []
        rows, lines = candidates(), columns.lines
        places = range(size) if columns.ordered else sorted(range(size), key=lines.__getitem__)
        sure = [k for k in places if k not in unsure] if unsure else list(places)
        sure_lines = [lines[k] for k in sure]
        # Everything else, in line order: (line, candidate place or -1, the reader's record)
        events = sorted([(lines[k], k, None) for k in unsure]
                        + [(line_no, -1, fields) for line_no, fields in columns.others],
                        key=lambda event: event[0])
        at = 0
        for line_no, k, fields in [*events, (None, -1, None)]:
            end = len(sure) if line_no is None else bisect_left(sure_lines, line_no, at)
            if end > at:
                self.run(sure[at:end], rows, lines)
            at = end
            if line_no is None:
                break
            if k >= 0:
                self.validated(line_no, columns.fields(k), size)
            elif type(fields) is list:
                self.validated(line_no, fields, size)
            else:
                self.out.reject(line_no, fields)
        return self.order, self.extra

    def run(self, places: list[int], rows: list[Row], lines: list[int]) -> None:
        """Consecutive candidate rows: kept at once, but for the ones whose key is taken
        already (by an earlier line, or earlier in the run), settled one by one."""
        if self.key_of is None:
            key_at = self.key_at
            keys: list[object] = [rows[k][key_at] for k in places]
        else:
            keys = [self.key_of(rows[k]) for k in places]
        seen = self.seen
        conflicts: list[int] = []
        if len(set(keys)) != len(keys) or not seen.keys().isdisjoint(keys):
            earlier: set[object] = set()
            for i, key in enumerate(keys):
                if key in seen or key in earlier:
                    conflicts.append(i)
                else:
                    earlier.add(key)
        start = 0
        for i in [*conflicts, len(places)]:
            if i > start:
                part = places[start:i]
                seen.update(zip(keys[start:i], [lines[k] for k in part], strict=True))
                self.out.rows += [rows[k] for k in part]
                self.order += part
            if i < len(places):
                self.row(lines[places[i]], rows[places[i]], places[i])
            start = i + 1

    def _distinct(self, checked: Checked, candidates: Callable[[], list[Row]]) -> bool:
        """No two candidates share a key (a key of one value: from its column alone)."""
        keys: Sequence[object]
        if self.key_of is None:
            keys = checked.values(self.key_at)
        else:
            keys = list(map(self.key_of, candidates()))
        return len(set(keys)) == len(keys)

    def validated(self, line_no: int, fields: list[str], size: int) -> None:
        result = self.plan.validate(fields, (self.job, str(line_no)))
        if type(result) is not tuple:
            self.out.reject(line_no, result)
            return
        if self.row(line_no, result, size + len(self.extra)):
            self.extra.append(result)

    def row(self, line_no: int, result: Row, place: int) -> bool:
        """Keep ``result`` unless its key was taken by an earlier line (then its reject)."""
        key: Any = result[self.key_at] if self.key_of is None else self.key_of(result)
        first = self.seen.setdefault(key, line_no)
        if first != line_no:
            self.out.reject(line_no, Reject(DUPLICATE_KEY,
                                            f"{self.key_name} {key} already on line {first}"))
            self.out.duplicates.setdefault(key, []).append((line_no, result))
            return False
        self.out.rows.append(result)
        self.order.append(place)
        return True


def _holding(rows: list[Row]) -> Callable[[], list[Row]]:
    return lambda: rows


def _payload(checked: Checked, job: str, lines: list[int], candidates: Callable[[], list[Row]],
             order: list[int], extra: list[Row], final_rows: Callable[[], list[Row]],
             size: int) -> CopyData:
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
            pieces.append(_quoted(joined, parts, candidates, width))
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


def _quoted(joined: arrow.Array, parts: list[Any], candidates: Callable[[], list[Row]],
            width: int) -> arrow.Array:
    """``joined`` (each row's ``parts`` joined by commas, then LF) with ``csv_line`` where a
    value holds the delimiter, a quote, CR, LF or a backslash (``NEEDS_QUOTES``); only the
    columns that hold one somewhere are searched."""
    mask = None
    for part in parts:
        if isinstance(part, str):  # the job id: in every row
            found = NEEDS_QUOTES.search(part) is not None
            mask = arrow.booleans([True] * len(joined)) if found else mask
        elif any(char in arrow.string_data(part) for char in _SPECIAL_BYTES):
            hits = arrow.search(part, _NEEDS_QUOTES_RE2)
            mask = hits if mask is None else arrow.either(mask, hits)
    if mask is None:
        return joined
    rows = candidates()
    fixes = [csv_line(rows[place][:width]) + "\n" for place in arrow.true_positions(mask)]
    return arrow.replace_at(joined, mask, fixes) if fixes else joined
