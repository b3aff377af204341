"""Reject reason codes: stable strings that users and tests rely on.

A record is checked field by field in the dataset's field order; within a field, the missing
value test, then the type (or format), then the constraints in the order of this table. The
first broken rule is the record's reason. A field may replace every code it produces with one
legacy code (``x-ingest.reason``: customers keeps ``invalid_timestamp`` for ``signup_at`` and
``invalid_email`` for an empty email).

- ``wrong_column_count``: the record has not as many fields as the header.
- ``missing_value``: a ``required`` field, or a primary-key field, holds a missing value
  (Table Schema: Constraints ``required``; Primary Key).
- ``invalid_<type>``: the value is not of the field's type: ``invalid_integer``,
  ``invalid_number``, ``invalid_boolean``, ``invalid_date``, ``invalid_time``,
  ``invalid_datetime``, ``invalid_year``, ``invalid_object``, ``invalid_array`` (Field Types).
- ``invalid_<format>``: the value breaks the field's format: ``invalid_email``,
  ``invalid_uuid`` (Field Types, string formats), ``invalid_cpf``, ``invalid_cnpj`` (ours).
- ``too_short``: shorter than ``minLength`` (Constraints).
- ``too_long``: longer than ``maxLength`` or than the column's ``varchar(n)`` (Constraints).
- ``pattern_mismatch``: the value does not match ``pattern`` as a whole (Constraints).
- ``not_in_enum``: not one of ``enum`` (Constraints).
- ``out_of_range``: below ``minimum``, above ``maximum``, or outside the column's integer type
  (Constraints).

A rule that fails on a value in a way no rule foresaw (an exception other than ``Invalid``)
gives its field's code all the same (``invalid_<format>``, else ``invalid_<type>``:
``invalid_string`` for a plain string), the detail naming the exception.

A number that does not fit the column's ``numeric(p,s)`` is ``invalid_number`` (the type of
the column is part of the type). The pipeline adds ``invalid_encoding``, ``malformed_csv``,
``malformed_json`` (a JSON Lines line that is not JSON, or not an object, or names one column
with two keys: ``libs.formats.jsonvalues``), ``duplicate_key`` and ``database_rejected``; they
are listed here so that one module names every code.
"""

from __future__ import annotations

from typing import Final

WRONG_COLUMN_COUNT: Final = "wrong_column_count"
MISSING_VALUE: Final = "missing_value"
TOO_SHORT: Final = "too_short"
TOO_LONG: Final = "too_long"
PATTERN_MISMATCH: Final = "pattern_mismatch"
NOT_IN_ENUM: Final = "not_in_enum"
OUT_OF_RANGE: Final = "out_of_range"

INVALID_ENCODING: Final = "invalid_encoding"
MALFORMED_CSV: Final = "malformed_csv"
MALFORMED_JSON: Final = "malformed_json"
DUPLICATE_KEY: Final = "duplicate_key"
DATABASE_REJECTED: Final = "database_rejected"


def invalid(kind: str) -> str:
    """The code of a type or format failure: ``invalid("integer")`` -> ``"invalid_integer"``."""
    return f"invalid_{kind}"


def show(value: str, limit: int = 60) -> str:
    """A value for a reject's detail: repr, cut to ``limit`` characters with ``...``."""
    return repr(value if len(value) <= limit else value[: limit - 3] + "...")
