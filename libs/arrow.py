"""Typed wrappers of the pyarrow calls the vectorized validator makes (pyarrow ships no type
information): one place that knows pyarrow's API, so the callers stay checked by mypy.

An ``Array`` is a pyarrow Array (strings, booleans, integers or floats). ``ArrowError`` is what
building or computing one may raise on input it cannot take (a string with a lone surrogate, a
number too large to cast); callers treat it as "not decided here". Modules that call pyarrow
directly take ``pa`` and ``pc`` from here, so the allocator is chosen before pyarrow loads.
"""

from __future__ import annotations

import os
from bisect import bisect_right

# The system allocator: Arrow's default (mimalloc) keeps the memory of freed batches (streaming
# a 1M-row Parquet file peaked about 80 MB higher, at the same speed). Arrow reads the choice
# when it is first imported, so before pyarrow below; a value already set wins.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

from collections.abc import Sequence
from typing import Any, Final, Protocol, cast

import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "INT64",
    "Array",
    "ArrowError",
    "above",
    "any_true",
    "as_array",
    "below",
    "booleans",
    "both",
    "compare",
    "concat",
    "fullmatch",
    "holding_any",
    "is_in",
    "join_columns",
    "lengths",
    "negate",
    "numbers_text",
    "pa",
    "pc",
    "replace_at",
    "string_data",
    "strings",
    "take",
    "to_float64",
    "to_int64",
    "true_positions",
    "where",
]

ArrowError: Final = (pa.ArrowException, UnicodeEncodeError, OverflowError)
INT64: Final = pa.int64()


class Array(Protocol):
    """The part of pyarrow.Array used here."""

    offset: int

    def __len__(self) -> int: ...

    def to_pylist(self) -> list[Any]: ...

    def buffers(self) -> list[Any]: ...


def strings(values: Sequence[str]) -> Array:
    """UTF-8 strings; ArrowError for a value that is not valid Unicode text."""
    return cast(Array, pa.array(values, pa.string()))


def numbers_text(values: Sequence[int]) -> Array:
    """Integers as their decimal text."""
    return cast(Array, pc.cast(pa.array(values, pa.int64()), pa.string()))


def booleans(values: Sequence[bool]) -> Array:
    return cast(Array, pa.array(values, pa.bool_()))


def as_array(value: Any) -> Array:
    """A pyarrow Array made by pyarrow itself, typed."""
    return cast(Array, value)


def fullmatch(values: Array, pattern: str) -> Array:
    """True where the whole value matches ``pattern`` (RE2 syntax); null stays null."""
    return cast(Array, pc.match_substring_regex(values, f"^(?:{pattern})$"))


def is_in(values: Array, allowed: Sequence[object], kind: Any = None) -> Array:
    """True where the value is one of ``allowed`` (an array of type ``kind``, or inferred)."""
    return cast(Array, pc.is_in(values, value_set=pa.array(list(allowed), kind)))


def lengths(values: Array) -> Array:
    """Characters (code points) of each string."""
    return cast(Array, pc.utf8_length(values))


def to_int64(values: Array) -> Array:
    return cast(Array, pc.cast(values, pa.int64()))


def to_float64(values: Array) -> Array:
    return cast(Array, pc.cast(values, pa.float64()))


def compare(values: Array, op: str, bound: object) -> Array:
    """``values <op> bound`` for op in ``<``, ``<=``, ``>=``, ``>``, ``==``, ``!=``."""
    name = {"<": "less", "<=": "less_equal", ">=": "greater_equal", ">": "greater",
            "==": "equal", "!=": "not_equal"}[op]
    return cast(Array, pc.call_function(name, [values, bound]))


def above(values: Array, bound: float, tolerance: float) -> Array:
    """True where the (float) value exceeds ``bound`` by more than ``tolerance`` times the
    larger of 1, |value| and |bound|: surely above, whatever the rounding of either."""
    scale = pc.max_element_wise(pc.abs(values), abs(bound), 1.0)
    return cast(Array, pc.greater(pc.subtract(values, bound), pc.multiply(scale, tolerance)))


def below(values: Array, bound: float, tolerance: float) -> Array:
    """True where the (float) value is below ``bound`` by more than the tolerance (above)."""
    return above(cast(Array, pc.negate(values)), -bound, tolerance)


def both(left: Array, right: Array) -> Array:
    """Logical and; null (a value a kernel could not read) counts as false."""
    return cast(Array, pc.and_kleene(pc.fill_null(left, False), pc.fill_null(right, False)))


def where(mask: Array, values: Array, other: str) -> Array:
    """``values`` where ``mask`` is true, else ``other``."""
    return cast(Array, pc.if_else(pc.fill_null(mask, False), values, other))


def negate(mask: Array) -> Array:
    return cast(Array, pc.invert(pc.fill_null(mask, False)))


def true_positions(mask: Array) -> list[int]:
    """The indices where ``mask`` is true (null: false)."""
    return cast(list[int], pc.indices_nonzero(pc.fill_null(mask, False)).to_pylist())


def any_true(mask: Array) -> bool:
    return bool(pc.any(pc.fill_null(mask, False)).as_py())


def join_columns(columns: Sequence[Array | str], separator: str) -> Array:
    """Each row's values joined by ``separator`` (a str: the same value in every row)."""
    return cast(Array, pc.binary_join_element_wise(*columns, separator))


def concat(arrays: Sequence[Array]) -> Array:
    return cast(Array, pa.concat_arrays(list(arrays)))


def sorted_places(values: Array) -> list[int]:
    """The places of ``values`` in ascending order (strings: by their UTF-8 bytes, which is
    code point order, as Python orders ``str``)."""
    return cast(list[int], pc.sort_indices(values).to_pylist())


def take(values: Array, indices: Sequence[int]) -> Array:
    return cast(Array, pc.take(values, pa.array(indices, pa.int64())))


def texts_at(values: Array, indices: Sequence[int]) -> list[str]:
    """The values at ``indices`` (in that order) as Python strings."""
    return cast(list[str], pc.take(values, pa.array(indices, pa.int64())).to_pylist())


def replace_at(values: Array, mask: Array, replacements: Sequence[str]) -> Array:
    """``values`` with the positions where ``mask`` is true replaced, in order."""
    return cast(Array, pc.replace_with_mask(values, mask, pa.array(replacements, pa.string())))


def string_data(values: Array) -> bytes:
    """The concatenated UTF-8 bytes of a string array's values, in order."""
    if not len(values):
        return b""
    offsets = _offsets(values)
    start, end = offsets[0], offsets[-1]
    data = values.buffers()[2]
    return b"" if data is None else bytes(memoryview(data)[start:end])


def holding_any(values: Array, needles: Sequence[bytes]) -> list[int]:
    """The places of the strings of ``values`` that hold one of ``needles`` (bytes that
    occur in UTF-8 only as themselves, such as ASCII), ascending. The values' bytes are
    searched (``bytes.find``) and each hit's value found by bisection on the offsets, so the
    cost is a C scan and a Python step per value found."""
    data = string_data(values)
    if not any(needle in data for needle in needles):
        return []
    offsets = _offsets(values)
    first = offsets[0]
    found: set[int] = set()
    for needle in needles:
        at = data.find(needle)
        while at >= 0:
            place = bisect_right(offsets, first + at) - 1
            found.add(place)
            at = data.find(needle, offsets[place + 1] - first)
    return sorted(found)


def _offsets(values: Array) -> memoryview:
    """The value offsets of a string array (int32), its slice's own: ``len(values) + 1``."""
    return memoryview(values.buffers()[1]).cast("i")[values.offset:
                                                     values.offset + len(values) + 1]
