"""A Plan's fields as column kernels: the vectorized twin of the row validator (issue 15).

``vector_plan(plan)`` compiles, from the same dataset and the same closures as ``compile.plan``,
one ``ColumnCheck`` per field that has a closure (``Plan.checked``):

- ``accept``: a kernel over a column of raw values (a pyarrow string array) that is true where
  the field's closure surely returns the value unchanged: the value fully matches the field's
  form (``vector_forms``: the fast forms of ``cells``, dates and datetimes with a calendar
  check; for plain strings, any value but a missing one) and passes each constraint, checked on
  the column (lengths, a translated pattern, enum, minimum/maximum in integer or date order,
  or as floats with a safety margin for numbers). A missing-value token is never accepted.
  None when the field has no form or a constraint has no column form (a CPF, a boolean, a
  ``%d/%m/%Y`` date, a pattern RE2 may read otherwise, a datetime bound...);
- ``cell``: the row path's own closure, the reference for every value ``accept`` leaves (the
  validator calls it once per distinct value): its result or its exception is the row path's.

So a value is decided by a kernel only where the kernel's answer is the closure's; everything
else is the closure's answer itself, and a record with any rule broken is rejected as
``Plan.validate`` rejects it (``Plan.broken``: first broken rule, reason and detail as the row
path says them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Final

from libs import arrow
from libs.arrow import Array
from libs.schema import vector_forms as forms
from libs.schema.cells import Cell, fast_pattern, parser_for
from libs.schema.compile import Plan
from libs.schema.constraints import Limits, limits_for
from libs.schema.model import Dataset, Field
from libs.schema.types import ColumnRules, column_rules

Kernel = Callable[[Array], Array]  # raw values -> mask (true: the closure returns the value)
ANYTHING: Final = ""  # the form of a plain string: any value that is not a missing one
_INT64: Final = (-(2**63), 2**63 - 1)
_MARGIN: Final = 1e-9  # relative: far above float64's rounding of a decimal (1.1e-16)
# A value each converting constraint kernel reads, put where the form did not match.
_FILLER: Final = {"integer": "0", "year": "2000", "number": "0", "date": "2000-01-01"}


@dataclass(frozen=True)
class ColumnCheck:
    at: int  # the field's place in Plan.columns (and in a validated row)
    name: str
    cell: Cell  # the row path's closure: the reference for every value ``accept`` leaves
    accept: Kernel | None


@dataclass(frozen=True)
class VectorPlan:
    plan: Plan
    checks: tuple[ColumnCheck, ...]


def vector_plan(plan: Plan) -> VectorPlan:
    """The column checks of ``plan`` (see the module)."""
    return VectorPlan(plan, tuple(ColumnCheck(at, f.name, cell, accept_kernel(plan.dataset, f))
                                  for at, f, cell in plan.checked))


def form_of(f: Field) -> str | None:
    """The RE2 form whose full matches ``f``'s closure returns unchanged (ANYTHING: every
    value but a missing one), or None."""
    if f.format == "default" and f.type == "date":
        return forms.DATE
    if f.format == "default" and f.type == "datetime":
        naive = (f.column_type or "").lower() in ("timestamp", "timestamp without time zone")
        return forms.NAIVE if naive else forms.STAMP
    fast = fast_pattern(f)
    if fast is not None:
        return forms.translate(fast.pattern)
    if f.type in ("string", "any") and f.format == "default":
        return ANYTHING  # kept as written, untrimmed
    return None


def accept_kernel(dataset: Dataset, f: Field) -> Kernel | None:
    """The kernel of values ``f``'s closure returns unchanged, or None (see the module)."""
    form = form_of(f)
    if form is None:
        return None
    missing = sorted(set(dataset.missing_values_of(f)) | {""})
    if form != ANYTHING and _matches_any(form, fast_pattern(f), missing):
        return None  # a missing token in the form: the closure decides every value
    parse = parser_for(f)
    rules = column_rules(f.column_type) if f.type in ("integer", "string") else ColumnRules()
    kernels = _constraint_kernels(f.type, limits_for(f, rules, parse or str))
    if kernels is None:
        return None
    if form == ANYTHING:
        return _all_of(lambda values: arrow.negate(arrow.is_in(values, missing)), kernels,
                       None)
    return _all_of(lambda values: arrow.fullmatch(values, form), kernels, _FILLER.get(f.type))


def _matches_any(form: str, fast: Any, tokens: Sequence[str]) -> bool:
    """True if a token fully matches the RE2 form or the row path's fast regex."""
    if fast is not None and any(fast.fullmatch(token) for token in tokens):
        return True
    return arrow.any_true(arrow.fullmatch(arrow.strings(tokens), form))


def _all_of(form: Kernel, kernels: list[Kernel], filler: str | None) -> Kernel:
    """The form's mask and each constraint's; a constraint sees ``filler`` (a value of the
    type it can convert) where the form failed, its answer there being moot."""
    if not kernels:
        return form

    def kernel(values: Array) -> Array:
        mask = form(values)
        if filler is not None:
            values = arrow.where(mask, values, filler)
        for more in kernels:
            mask = arrow.both(mask, more(values))
        return mask

    return kernel


def _constraint_kernels(kind: str, limits: Limits) -> list[Kernel] | None:
    """The constraints as kernels on accepted (canonical) values; None if one has none."""
    kernels: list[Kernel] = []
    if limits.min_length is not None:
        shortest = limits.min_length
        kernels.append(lambda values: arrow.compare(arrow.lengths(values), ">=", shortest))
    if limits.max_length is not None:
        longest = limits.max_length
        kernels.append(lambda values: arrow.compare(arrow.lengths(values), "<=", longest))
    if limits.pattern is not None:
        pattern = forms.translate(limits.pattern)
        if pattern is None:
            return None
        kernels.append(lambda values: arrow.fullmatch(values, pattern))
    if limits.enum is not None:
        member = _enum_kernel(kind, limits.enum)
        if member is None:
            return None
        kernels.append(member)
    if limits.low is not None or limits.high is not None:
        inside = _range_kernel(kind, limits.low, limits.high)
        if inside is None:
            return None
        kernels.append(inside)
    return kernels


def _enum_kernel(kind: str, allowed: list[Any]) -> Kernel | None:
    if kind in ("string", "any") and all(isinstance(item, str) for item in allowed):
        return lambda values: arrow.is_in(values, allowed)
    if kind in ("integer", "year") and all(type(item) is int for item in allowed):
        fits = [item for item in allowed if _INT64[0] <= item <= _INT64[1]]
        return lambda values: arrow.is_in(arrow.to_int64(values), fits, arrow.INT64)
    if kind == "date" and all(type(item) is date for item in allowed):
        days = [item.isoformat() for item in allowed]
        return lambda values: arrow.is_in(values, days)
    return None


def _range_kernel(kind: str, low: Any, high: Any) -> Kernel | None:
    """``low <= value <= high`` (either may be None) in the order of the field's type."""
    bounds = [(op, bound) for op, bound in ((">=", low), ("<=", high)) if bound is not None]
    if kind in ("integer", "year"):
        if not all(type(b) is int and _INT64[0] <= b <= _INT64[1] for _, b in bounds):
            return None
        return _compared(arrow.to_int64, bounds)
    if kind == "date" and all(type(b) is date for _, b in bounds):
        return _compared(lambda values: values, [(op, b.isoformat()) for op, b in bounds])
    if kind == "number" and all(isinstance(b, Decimal) and b.is_finite() for _, b in bounds):
        return _surely_between(None if low is None else float(low),
                               None if high is None else float(high))
    return None


def _compared(convert: Callable[[Array], Array], bounds: list[tuple[str, Any]]) -> Kernel:
    def kernel(values: Array) -> Array:
        converted = convert(values)
        masks = [arrow.compare(converted, op, bound) for op, bound in bounds]
        return masks[0] if len(masks) == 1 else arrow.both(masks[0], masks[1])

    return kernel


def _surely_between(low: float | None, high: float | None) -> Kernel:
    """Numbers as float64, inside the bounds by a margin where rounding cannot matter; a value
    near a bound is left to the closure (exact decimal comparison)."""
    def kernel(values: Array) -> Array:
        floats = arrow.to_float64(values)
        above = None if low is None else arrow.above(floats, low, _MARGIN)
        below = None if high is None else arrow.below(floats, high, _MARGIN)
        if above is None or below is None:
            found = above if below is None else below
            assert found is not None
            return found
        return arrow.both(above, below)

    return kernel
