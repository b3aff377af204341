"""Each type, format and constraint of the compiled validator: valid and invalid values, the
stored text and the reason code."""

from __future__ import annotations

import dataclasses

import pytest

from libs.errors import UserError
from libs.schema.compile import Reject, plan
from libs.schema.model import Dataset
from tests.schema_helpers import one_field, outcome

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("field", "value", "expected"), [
    # integer (Table Schema: integer)
    ({"type": "integer"}, "42", "42"),
    ({"type": "integer"}, " +007 ", "7"),
    ({"type": "integer"}, "-12", "-12"),
    ({"type": "integer"}, "1.0", "reject:invalid_integer"),
    ({"type": "integer"}, "1e3", "reject:invalid_integer"),
    ({"type": "integer"}, "\uff11\uff12", "reject:invalid_integer"),  # full-width
    ({"type": "integer"}, "\u0661\u0662", "reject:invalid_integer"),
    ({"type": "integer"}, "1_000", "reject:invalid_integer"),
    ({"type": "integer", "groupChar": "."}, "1.234.567", "1234567"),
    ({"type": "integer", "groupChar": "."}, "1.23.4", "reject:invalid_integer"),
    ({"type": "integer", "bareNumber": False}, "R$ 95", "95"),
    ({"type": "integer", "bareNumber": False}, "95%", "95"),
    ({"type": "integer", "x-ingest": {"columnType": "smallint"}}, "32767", "32767"),
    ({"type": "integer", "x-ingest": {"columnType": "smallint"}}, "32768",
     "reject:out_of_range"),
    ({"type": "integer", "x-ingest": {"columnType": "int4"}}, "-2147483649",
     "reject:out_of_range"),
    ({"type": "integer", "x-ingest": {"columnType": "bigint"}}, "9223372036854775807",
     "9223372036854775807"),
    # number (Table Schema: number)
    ({"type": "number"}, "3.14", "3.14"),
    ({"type": "number"}, "-1.5E3", "-1.5E3"),
    ({"type": "number"}, "nan", "NaN"),
    ({"type": "number"}, "-INF", "-Infinity"),
    ({"type": "number"}, "1,5", "reject:invalid_number"),
    ({"type": "number"}, ".5", ".5"),
    ({"type": "number"}, "5.", "5."),
    ({"type": "number"}, ".", "reject:invalid_number"),
    ({"type": "number"}, "Infinity", "reject:invalid_number"),
    ({"type": "number", "x-ingest": {"columnType": "numeric(14,2)"}}, ".5", ".5"),
    ({"type": "number"}, "\u0663.\u0661", "reject:invalid_number"),
    ({"type": "number", "decimalChar": ",", "groupChar": "."}, "1.234.567,89", "1234567.89"),
    ({"type": "number", "decimalChar": ",", "groupChar": "."}, "12,50", "12.50"),
    ({"type": "number", "decimalChar": ",", "groupChar": "."}, "1.5", "reject:invalid_number"),
    ({"type": "number", "decimalChar": ",", "groupChar": "."}, "12.50", "reject:invalid_number"),
    ({"type": "number", "decimalChar": ",", "groupChar": "."}, "1234,5", "1234.5"),
    ({"type": "number", "bareNumber": False}, "€ 9.99", "9.99"),
    ({"type": "number", "x-ingest": {"columnType": "numeric(14,2)"}}, "999999999999.99",
     "999999999999.99"),
    ({"type": "number", "x-ingest": {"columnType": "numeric(14,2)"}}, "1.234",
     "reject:invalid_number"),
    ({"type": "number", "x-ingest": {"columnType": "numeric(14,2)"}}, "1234567890123",
     "reject:invalid_number"),
    ({"type": "number", "x-ingest": {"columnType": "numeric(14,2)"}}, "1e3",
     "reject:invalid_number"),
    ({"type": "number", "x-ingest": {"columnType": "numeric(14,2)"}}, "NaN",
     "reject:invalid_number"),
    # boolean (Table Schema: boolean)
    ({"type": "boolean"}, "TRUE", "true"),
    ({"type": "boolean"}, "0", "false"),
    ({"type": "boolean"}, "yes", "reject:invalid_boolean"),
    ({"type": "boolean"}, "tRUE", "reject:invalid_boolean"),
    ({"type": "boolean", "trueValues": ["S"], "falseValues": ["N"]}, "S", "true"),
    ({"type": "boolean", "trueValues": ["S"], "falseValues": ["N"]}, "1", "reject:invalid_boolean"),
    # date (Table Schema: date)
    ({"type": "date"}, "2024-02-29", "2024-02-29"),
    ({"type": "date"}, "2023-02-29", "reject:invalid_date"),
    ({"type": "date"}, "2023-1-5", "reject:invalid_date"),
    ({"type": "date"}, "\uff12\uff10\uff12\uff14-01-01", "reject:invalid_date"),
    ({"type": "date", "format": "%d/%m/%Y"}, "31/12/2024", "2024-12-31"),
    ({"type": "date", "format": "%d/%m/%Y"}, "1/2/2024", "2024-02-01"),
    ({"type": "date", "format": "%d/%m/%Y"}, "30/02/2024", "reject:invalid_date"),
    ({"type": "date", "format": "%d/%m/%Y"}, "2024-12-31", "reject:invalid_date"),
    ({"type": "date", "format": "%d/%m/%y"}, "01/02/68", "2068-02-01"),
    ({"type": "date", "format": "%d/%m/%y"}, "01/02/69", "1969-02-01"),
    ({"type": "date", "format": "fmt:%Y%m%d"}, "20240131", "2024-01-31"),
    ({"type": "date", "format": "%d %b %Y"}, "05 Mar 2024", "2024-03-05"),  # strptime fallback
    # time (Table Schema: time)
    ({"type": "time"}, "23:59:59", "23:59:59"),
    ({"type": "time"}, "10:11:12.123456789", "10:11:12.123456789"),
    ({"type": "time"}, "24:00:00", "reject:invalid_time"),
    ({"type": "time"}, "10:11", "reject:invalid_time"),
    ({"type": "time", "format": "%H.%M"}, "9.05", "09:05:00"),
    # datetime (Table Schema: datetime)
    ({"type": "datetime"}, "2024-03-05T10:11:12Z", "2024-03-05T10:11:12Z"),
    ({"type": "datetime"}, "2024-03-05 10:11", "2024-03-05 10:11"),
    ({"type": "datetime"}, "2024-03-05T10:11:12.123456789+02:00",
     "2024-03-05T10:11:12.123456789+02:00"),
    ({"type": "datetime"}, "2024-03-05T10:11:12+20:00", "2024-03-04T14:11:12+00:00"),
    ({"type": "datetime"}, "2024-03-05T10:11:12.1234567+20:00",
     "2024-03-04T14:11:12.123457+00:00"),
    ({"type": "datetime"}, "2024-03-05T10:11:12.1234567890", "reject:invalid_datetime"),
    ({"type": "datetime"}, "2024-03-05T24:00:00", "2024-03-05T24:00:00"),  # PostgreSQL's
    ({"type": "datetime"}, "2024-03-05T10", "reject:invalid_datetime"),
    ({"type": "datetime"}, "20240305T101112", "reject:invalid_datetime"),
    ({"type": "datetime", "x-ingest": {"columnType": "timestamp"}},
     "2024-03-05T10:11:12+02:00", "2024-03-05T08:11:12"),
    ({"type": "datetime", "x-ingest": {"columnType": "timestamp"}},
     "2024-03-05T10:11:12", "2024-03-05T10:11:12"),
    ({"type": "datetime", "format": "%d/%m/%Y %H:%M"}, "05/03/2024 10:11",
     "2024-03-05T10:11:00"),
    ({"type": "datetime", "format": "%d/%m/%Y %H:%M:%S%z"}, "05/03/2024 10:11:12-0300",
     "2024-03-05T10:11:12-03:00"),
    # year (Table Schema: year)
    ({"type": "year"}, "2024", "2024"),
    ({"type": "year"}, "999", "reject:invalid_year"),
    ({"type": "year"}, "+999", "reject:invalid_year"),
    # object / array / any
    ({"type": "object"}, '{"a": [1, 2]}', '{"a": [1, 2]}'),
    ({"type": "object"}, "[1]", "reject:invalid_object"),
    ({"type": "object"}, '{"a": NaN}', "reject:invalid_object"),
    ({"type": "array"}, "[1, 2]", "[1, 2]"),
    ({"type": "array"}, "{}", "reject:invalid_array"),
    ({"type": "any"}, " as is ", " as is "),
])
def test_types(field: dict[str, object], value: str, expected: str) -> None:
    assert outcome(one_field(field), value) == expected


@pytest.mark.parametrize(("field", "value", "expected"), [
    # email (issue 10): NFC, Unicode whitespace trimmed, str.lower, no IDNA
    ({"format": "email"}, "  Mixed.Case@Example.COM\u00a0", "mixed.case@example.com"),
    ({"format": "email"}, "Cafe\u0301@exemplo.com.br", "café@exemplo.com.br"),
    ({"format": "email"}, "ÁLVARO@ÉXAMPLE.COM", "álvaro@éxample.com"),
    ({"format": "email"}, "STRASSE@x.de", "strasse@x.de"),
    ({"format": "email"}, "Straße@x.de", "straße@x.de"),  # lower, not casefold
    ({"format": "email"}, "a@b.co.", "reject:invalid_email"),  # trailing dot
    ({"format": "email"}, "a@b..co", "reject:invalid_email"),
    ({"format": "email"}, "a@.co", "reject:invalid_email"),
    ({"format": "email"}, "a@bco", "reject:invalid_email"),
    ({"format": "email"}, "@b.co", "reject:invalid_email"),
    ({"format": "email"}, "a@@b.co", "reject:invalid_email"),
    ({"format": "email"}, "a b@c.co", "reject:invalid_email"),
    ({"format": "email"}, "a@b\u00a0c.co", "reject:invalid_email"),
    # uuid
    ({"format": "uuid"}, "6F9619FF-8B86-D011-B42D-00C04FC964FF",
     "6f9619ff-8b86-d011-b42d-00c04fc964ff"),
    ({"format": "uuid"}, "6f9619ff8b86d011b42d00c04fc964fF",
     "6f9619ff-8b86-d011-b42d-00c04fc964ff"),
    ({"format": "uuid"}, "{6f9619ff-8b86-d011-b42d-00c04fc964ff}",
     "6f9619ff-8b86-d011-b42d-00c04fc964ff"),
    ({"format": "uuid"}, "6f9619ff-8b86-d011-b42d-00c04fc964f", "reject:invalid_uuid"),
    ({"format": "uuid"}, "6f9619ff-8b86-d011-b42d-00c04fc964fg", "reject:invalid_uuid"),
    # cpf / cnpj (python-stdnum)
    ({"format": "cpf"}, "158.813.998-03", "15881399803"),
    ({"format": "cpf"}, "15881399803", "15881399803"),
    ({"format": "cpf"}, "684.697.880-10", "reject:invalid_cpf"),
    ({"format": "cpf"}, "000.000.000-00", "reject:invalid_cpf"),
    ({"format": "cpf"}, "\uff11\uff15\uff18.813.998-03", "reject:invalid_cpf"),
    ({"format": "cpf"}, "158.813.998", "reject:invalid_cpf"),
    ({"format": "cnpj"}, "11.417.075/0001-99", "11417075000199"),
    ({"format": "cnpj"}, "87.534.778/0001-60", "reject:invalid_cnpj"),
    ({"format": "cnpj"}, "00.000.000/0000-00", "reject:invalid_cnpj"),
    ({"format": "cnpj"}, "12.ABC.345/01DE-35", "12ABC34501DE35"),  # alphanumeric CNPJ
    ({"format": "cnpj"}, "12.abc.345/01de-35", "12ABC34501DE35"),
    ({"format": "cnpj"}, "12.ABC.345/01DE-36", "reject:invalid_cnpj"),
])
def test_formats(field: dict[str, object], value: str, expected: str) -> None:
    assert outcome(one_field({"type": "string", **field}), value) == expected


@pytest.mark.parametrize(("field", "value", "expected"), [
    ({"constraints": {"minLength": 2}}, "ab", "ab"),
    ({"constraints": {"minLength": 2}}, "a", "reject:too_short"),
    ({"constraints": {"maxLength": 3}}, "abc", "abc"),
    ({"constraints": {"maxLength": 3}}, "abcd", "reject:too_long"),
    ({"constraints": {"maxLength": 3}}, "ção", "ção"),  # characters, not bytes
    ({"x-ingest": {"columnType": "varchar(2)"}}, "abc", "reject:too_long"),
    ({"x-ingest": {"columnType": "varchar(9)"}, "constraints": {"maxLength": 2}}, "abc",
     "reject:too_long"),
    ({"constraints": {"pattern": "[A-Z]{3}-[0-9]{4}"}}, "SUP-0001", "SUP-0001"),
    ({"constraints": {"pattern": "[A-Z]{3}-[0-9]{4}"}}, "xSUP-0001", "reject:pattern_mismatch"),
    ({"constraints": {"pattern": "[A-Z]{3}"}}, "ABCD", "reject:pattern_mismatch"),  # anchored
    ({"constraints": {"enum": ["I", "U", "D"]}}, "U", "U"),
    ({"constraints": {"enum": ["I", "U", "D"]}}, "u", "reject:not_in_enum"),
    ({"constraints": {"required": True}}, "", "reject:missing_value"),
    ({"constraints": {"required": True}}, " ", " "),  # strings keep their spaces
    ({"type": "integer", "constraints": {"minimum": 1, "maximum": 10}}, "10", "10"),
    ({"type": "integer", "constraints": {"minimum": 1, "maximum": 10}}, "0", "reject:out_of_range"),
    ({"type": "integer", "constraints": {"minimum": "5"}}, "4", "reject:out_of_range"),
    ({"type": "integer", "constraints": {"enum": [1, 2]}}, "+02", "2"),
    ({"type": "integer", "constraints": {"enum": [1, 2]}}, "3", "reject:not_in_enum"),
    ({"type": "number", "constraints": {"minimum": 0}}, "-0.01", "reject:out_of_range"),
    ({"type": "number", "constraints": {"maximum": 1.5}}, "1.50", "1.50"),
    ({"type": "number", "constraints": {"maximum": 1.5}}, "NaN", "reject:out_of_range"),
    ({"type": "number", "decimalChar": ",", "constraints": {"enum": ["1,5"]}}, "1,50", "1.50"),
    ({"type": "date", "constraints": {"minimum": "2000-01-01"}}, "1999-12-31",
     "reject:out_of_range"),
    ({"type": "date", "format": "%d/%m/%Y", "constraints": {"maximum": "31/12/2024"}},
     "01/01/2025", "reject:out_of_range"),
    ({"type": "datetime", "constraints": {"minimum": "2024-01-01T00:00:00Z"}},
     "2024-01-01T01:00:00+02:00", "reject:out_of_range"),
    ({"type": "time", "constraints": {"maximum": "12:00:00"}}, "12:00:00.000001",
     "reject:out_of_range"),
    ({"type": "year", "constraints": {"minimum": 1900}}, "1899", "reject:out_of_range"),
    ({"type": "boolean", "constraints": {"enum": [True]}}, "0", "reject:not_in_enum"),
])
def test_constraints(field: dict[str, object], value: str, expected: str) -> None:
    assert outcome(one_field({"type": "string", **field}), value) == expected


@pytest.mark.parametrize(("schema", "field", "value", "expected"), [
    ({}, {"type": "integer"}, "", ""),  # "" is NULL
    ({}, {"type": "integer"}, "  ", ""),  # trimmed first for non-strings
    ({}, {"type": "integer"}, "NA", "reject:invalid_integer"),
    ({"missingValues": ["", "NA"]}, {"type": "integer"}, "NA", ""),
    ({"missingValues": ["NA"]}, {"type": "integer"}, "", ""),  # empty is always NULL
    ({"missingValues": ["NA"]}, {"type": "string", "missingValues": ["-"]}, "NA", "NA"),
    ({"missingValues": ["NA"]}, {"type": "string", "missingValues": ["-"]}, "-", ""),
    ({"missingValues": ["NULL"]}, {"type": "integer", "constraints": {"required": True}}, "NULL",
     "reject:missing_value"),
    ({"primaryKey": "v"}, {"type": "integer"}, "", "reject:missing_value"),
    ({}, {"type": "string", "format": "email"}, " \u00a0", ""),  # formats trim first
])
def test_missing_values(schema: dict[str, object], field: dict[str, object], value: str,
                        expected: str) -> None:
    assert outcome(one_field(field, **schema), value) == expected


def test_reason_override_replaces_every_code() -> None:
    p = one_field({"type": "datetime", "x-ingest": {"reason": "invalid_timestamp"},
                   "constraints": {"required": True}})
    assert outcome(p, "2024-13-01") == "reject:invalid_timestamp"
    assert outcome(p, "") == "reject:invalid_timestamp"


def test_detail_names_column_and_truncated_value() -> None:
    p = one_field({"type": "integer"})
    result = p.validate(["x" * 100])
    assert isinstance(result, Reject)
    assert result.detail.startswith("v: 'xxxx")
    assert "..." in result.detail
    assert len(result.detail) < 100


def test_header_matching() -> None:
    dataset = Dataset.from_descriptor({"name": "t", "schema": {"fields": [
        {"name": "data_da_compra", "type": "date"}, {"name": "id", "type": "integer"}]}})
    p = plan(dataset, ["ID", "", "Data da Compra ", "extra"])
    assert (p.columns, p.index, p.extra) == (("data_da_compra", "id"), (2, 0), ("", "extra"))
    assert p.validate(["7", "x", "2024-01-31", "y"], ("job",)) == ("2024-01-31", "7", "job")
    with pytest.raises(UserError, match=r"lacks column.*id"):
        plan(dataset, ["data_da_compra"])
    with pytest.raises(UserError, match="all match column id"):
        plan(dataset, ["Id", "ID", "data_da_compra"])
    with pytest.raises(UserError, match="names 'id' more than once"):
        plan(dataset, ["id", "id", "data_da_compra"])


def test_one_header_column_never_fills_two_columns() -> None:
    """Columns that differ only in case: a header name matching both loosely is refused (it
    used to fill both); exact names still map each to its own column."""
    dataset = Dataset.from_descriptor({"name": "t", "schema": {"fields": [
        {"name": "id", "type": "integer"}, {"name": "Name"}, {"name": "name"}]}})
    with pytest.raises(UserError, match="'NAME' matches both columns Name and name"):
        plan(dataset, ["id", "NAME"], partial=True)
    assert plan(dataset, ["id", "Name", "name"]).index == (0, 1, 2)
    assert plan(dataset, ["id", "Name", "NAME"]).index == (0, 1, 2)
    assert plan(dataset, ["id", "name"], partial=True).columns == ("id", "name")


# --- issue 10, values found by the tester (findings F1, F3, F9, F10) -------------------------

STAMP = {"type": "datetime"}
NAIVE = {"type": "datetime", "x-ingest": {"columnType": "timestamp"}}
BALANCE = {"type": "number", "x-ingest": {"columnType": "numeric(14,2)"}}


def reject_of(field: dict[str, object], value: str) -> Reject:
    result = one_field(field).validate([value])
    assert isinstance(result, Reject), result
    return result


@pytest.mark.parametrize("value", [
    "0001-01-01T00:00:00+16:00", "9999-12-31T23:59:59-16:00",
    "9999-12-31T23:59:59.9999999-16:00", "9999-12-31T24:00:00-23:59",
])
@pytest.mark.parametrize("field", [STAMP, NAIVE, {**STAMP, "x-ingest": {
    "columnType": "timestamptz", "reason": "invalid_timestamp"}}])
def test_f1_conversion_out_of_range_is_the_fields_reason(field: dict[str, object],
                                                         value: str) -> None:
    """A zone of 16 h or more is converted to UTC; leaving the years 0001-9999 is a reject with
    the field's reason and a detail that says so (was: OverflowError, a lost batch)."""
    result = reject_of(field, value)
    assert result.reason == ("invalid_timestamp" if "reason" in str(field) else
                             "invalid_datetime")
    assert "outside the years 0001-9999 once converted to UTC" in result.detail


def test_f1_naive_column_converts_any_zone_and_may_overflow() -> None:
    assert "outside" in reject_of(NAIVE, "9999-12-31T23:00:00-01:00").detail
    assert outcome(one_field(NAIVE), "0001-01-01T01:00:00+01:00") == "0001-01-01T00:00:00"


@pytest.mark.parametrize("error", [OverflowError("date value out of range"),
                                   ValueError("odd"), ZeroDivisionError("x"),
                                   RecursionError("deep"), KeyError("k")])
def test_f1_any_exception_of_a_rule_costs_only_its_record(error: Exception) -> None:
    """Defence in depth: whatever a rule raises (but BaseException) rejects that record with the
    field's reason, naming the column, the value and the exception; the next record loads."""
    p = one_field({"type": "datetime", "x-ingest": {"reason": "invalid_timestamp"}})

    def broken(raw: str) -> str:
        if raw == "bad":
            raise error
        return raw

    p = dataclasses.replace(p, _active=((0, broken),))
    result = p.validate(["bad"])
    assert isinstance(result, Reject)
    assert result.reason == "invalid_timestamp"
    assert result.detail.startswith("v: 'bad' could not be checked (")
    assert type(error).__name__ in result.detail
    assert p.validate(["good"]) == ("good",)


@pytest.mark.parametrize(("field", "code"), [
    ({"type": "integer"}, "invalid_integer"), ({"type": "string", "format": "email"},
                                               "invalid_email"),
    ({"type": "string"}, "invalid_string"), ({"type": "number"}, "invalid_number")])
def test_f1_failure_code_is_the_fields_type_or_format(field: dict[str, object],
                                                      code: str) -> None:
    p = one_field({**field, "constraints": {"required": True}})

    def broken(raw: str) -> str:
        raise OverflowError(raw)

    p = dataclasses.replace(p, _active=((0, broken),))
    assert outcome(p, "x") == f"reject:{code}"


def test_f1_base_exceptions_are_not_swallowed() -> None:
    p = one_field({"type": "integer"})

    def interrupted(raw: str) -> str:
        raise KeyboardInterrupt

    p = dataclasses.replace(p, _active=((0, interrupted),))
    with pytest.raises(KeyboardInterrupt):
        p.validate(["1"])


@pytest.mark.parametrize(("field", "value", "code"), [
    ({"type": "integer"}, "9" * 5000, "invalid_integer"),  # int() refuses > 4300 digits
    ({"type": "integer"}, "0" * 5000 + "1", "1"),  # leading zeros do not count
    ({"type": "array"}, "[" * 100_000, "invalid_array"),  # RecursionError in json
    ({"type": "object"}, '{"a":' * 100_000, "invalid_object"),
    ({"type": "datetime", "format": "%Y-%m-%d %H:%M%z"}, "0001-01-01 00:00+1600",
     "invalid_datetime"),
    ({"type": "datetime", "constraints": {"minimum": "2020-01-01T00:00:00Z"}},
     "2020-01-01T24:00", "2020-01-01T24:00"),  # the bound reads PostgreSQL's forms too
    ({"type": "datetime", "constraints": {"maximum": "2020-01-01T23:59:59Z"}},
     "2020-01-01T23:59:60Z", "invalid_datetime:out_of_range"),
])
def test_f1_other_types_never_raise(field: dict[str, object], value: str, code: str) -> None:
    result = one_field(field).validate([value])
    if isinstance(result, Reject):
        assert code.split(":")[-1] == result.reason
        assert "could not be checked" not in result.detail
    else:
        assert result[0] == code


@pytest.mark.parametrize("value", [
    "2020-01-01T10:00:00+15:99", "2020-01-01T10:00:00-15:75", "2020-01-01T10:00:00+16:60",
    "2020-01-01T10:00:00+14:60", "2020-01-01T10:00:00+2399", "2020-01-01T10:00:00+24:00",
    "2020-01-01T10:00:00+1460", "2020-01-01T10:00:00-00:60",
])
@pytest.mark.parametrize("field", [STAMP, NAIVE])
def test_f3_impossible_zone_offsets_are_rejected(field: dict[str, object], value: str) -> None:
    """Python's fromisoformat reads +15:99 as 16:39 and +14:60 as 15:00: never used for zones.
    Minutes are 00-59 (PostgreSQL's rule), hours 00-23 (a well-formed offset of 16-23 h is
    converted to UTC); +14:60 is the validator's reason, not database_rejected."""
    result = reject_of(field, value)
    assert result.reason == "invalid_datetime"
    assert f"has zone offset {value[19:]}" in result.detail


@pytest.mark.parametrize(("value", "stored"), [
    ("2020-01-01T10:00:00+15:59", "2020-01-01T10:00:00+15:59"),  # PostgreSQL reads it
    ("2020-01-01T10:00:00+16:00", "2019-12-31T18:00:00+00:00"),
    ("2020-01-01T10:00:00-2359", "2020-01-02T09:59:00+00:00"),
    ("2020-01-01T10:00+16", "2019-12-31T18:00:00+00:00"),
    ("2020-01-01T10:00:00.9999995+16:00", "2019-12-31T18:00:01+00:00"),  # rint, then UTC
    ("2020-01-01T23:59:60+20:00", "2020-01-01T04:00:00+00:00"),
])
def test_f3_well_formed_large_offsets_are_converted(value: str, stored: str) -> None:
    assert outcome(one_field(STAMP), value) == stored


@pytest.mark.parametrize(("field", "value", "expected"), [
    (STAMP, "2020-01-01T24:00", "2020-01-01T24:00"),  # PostgreSQL: the next day's 00:00
    (STAMP, "2020-01-01T24:00:00Z", "2020-01-01T24:00:00Z"),
    (STAMP, "2020-01-01T24:00:00.0000004Z", "2020-01-01T24:00:00.0000004Z"),  # rounds to 0
    (STAMP, "2020-01-01T23:59:60Z", "2020-01-01T23:59:60Z"),  # a leap second
    (STAMP, "2020-01-01T10:59:60.5Z", "2020-01-01T10:59:60.5Z"),
    (STAMP, "2020-12-31 23:59:60+02:00", "2020-12-31 23:59:60+02:00"),
    (NAIVE, "2020-01-01T24:00", "2020-01-01T24:00"),
    (NAIVE, "2020-01-01T24:00:00Z", "2020-01-02T00:00:00"),
    (NAIVE, "2020-01-01T23:59:60+01:00", "2020-01-01T23:00:00"),
    (STAMP, "2020-01-01T24:00:00.5Z", "reject:invalid_datetime"),  # after 24:00:00
    (STAMP, "2020-01-01T24:01Z", "reject:invalid_datetime"),
    (STAMP, "2020-01-01T23:59:60.000001Z", "reject:invalid_datetime"),
    (STAMP, "2020-01-01T23:59:61Z", "reject:invalid_datetime"),
    (STAMP, "2020-01-01T23:60Z", "reject:invalid_datetime"),
    (STAMP, "2020-01-01T25:00Z", "reject:invalid_datetime"),
    (STAMP, "2020-01-01.5", "reject:invalid_datetime"),  # a fraction needs seconds
    (STAMP, "2020-01-01Z", "reject:invalid_datetime"),
])
def test_f9_end_of_day_and_leap_second(field: dict[str, object], value: str,
                                       expected: str) -> None:
    assert outcome(one_field(field), value) == expected


@pytest.mark.parametrize(("field", "value", "detail"), [
    (STAMP, "2020-13-01", "has month 13 (months are 01-12)"),
    (STAMP, "2020-00-10T10:00Z", "has month 00 (months are 01-12)"),
    (STAMP, "2021-02-29T10:00:00Z", "has day 29, but 2021-02 has 28 days"),
    (STAMP, "0000-01-01T00:00:00Z", "has year 0000 (years are 0001-9999)"),
    (STAMP, "2020-01-01T24:00:01Z", "has a time of day after 24:00:00"),
    (STAMP, "2020-01-01T10:61Z", "has time 10:61:00 (hours are 00-24, minutes 00-59, "
                                 "seconds 00-60)"),
    (STAMP, "2020-01-01t10:00z", "is not an ISO 8601 datetime"),
    ({"type": "date"}, "2020-13-01", "has month 13 (months are 01-12)"),
    ({"type": "date"}, "2020-02-30", "has day 30, but 2020-02 has 29 days"),
    ({"type": "date"}, "2020-W01-1", "is not a date YYYY-MM-DD"),  # no week form
    ({"type": "date"}, "2020-001", "is not a date YYYY-MM-DD"),  # no ordinal form
    ({"type": "date"}, "+2020-01-01", "is not a date YYYY-MM-DD"),
    ({"type": "time"}, "24:00:00", "is not a time of day 00:00:00-23:59:59"),
    ({"type": "time"}, "10:00", "is not a time hh:mm:ss"),
    (BALANCE, "1.234", "has 1 integer and 3 fraction digits; numeric(14,2) holds at most 12 "
                       "and 2"),
    (BALANCE, "1234567890123", "has 13 integer and 0 fraction digits"),
    (BALANCE, "1e3", "has an exponent; a numeric(14,2) value is written without one"),
    (BALANCE, "NaN", "is not a finite number, which a numeric(14,2) column needs"),
    (BALANCE, "+-1", "is not a number (ASCII digits, decimal mark '.')"),
    (BALANCE, "\uff11.00", "is not a number (ASCII digits"),
])
def test_f9_details_are_true(field: dict[str, object], value: str, detail: str) -> None:
    assert detail in reject_of(field, value).detail


@pytest.mark.parametrize(("field", "value", "expected"), [
    (BALANCE, ".5", ".5"), (BALANCE, "5.", "5."), (BALANCE, "-.5", "-.5"),
    (BALANCE, "+.5", "+.5"), (BALANCE, "+5", "+5"), (BALANCE, "-0", "-0"),
    (BALANCE, "0000000000001.00", "0000000000001.00"),  # 1 significant integer digit
    (BALANCE, "000000000000999999999999.99", "000000000000999999999999.99"),
    (BALANCE, "1.230", "1.230"),  # 1.23: trailing zeros do not count
    (BALANCE, "0.000", "0.000"),
    (BALANCE, ".", "reject:invalid_number"), (BALANCE, "1e-2", "reject:invalid_number"),
    (BALANCE, "1_000", "reject:invalid_number"), (BALANCE, "\u0663.00", "reject:invalid_number"),
    ({**BALANCE, "decimalChar": ",", "groupChar": "."}, ",5", ".5"),
    ({**BALANCE, "decimalChar": ",", "groupChar": "."}, "5,", "5."),
    ({**BALANCE, "decimalChar": ",", "groupChar": "."}, "0.000.000.000.001,00",
     "0000000000001.00"),
    ({**BALANCE, "decimalChar": ",", "groupChar": "."}, "1.5", "reject:invalid_number"),
    ({"type": "number", "bareNumber": False}, "€.5", ".5"),  # the mark is kept: never 5
    ({"type": "number", "bareNumber": False, "decimalChar": ","}, "R$ ,5", ".5"),
    ({"type": "integer"}, "+0", "0"), ({"type": "integer"}, "-000", "0"),
    ({"type": "integer"}, "1e5", "reject:invalid_integer"),
    ({"type": "year"}, "\uff12\uff10\uff12\uff14", "reject:invalid_year"),
])
def test_f9_numbers_postgresql_reads(field: dict[str, object], value: str,
                                     expected: str) -> None:
    assert outcome(one_field(field), value) == expected


EMAIL = {"type": "string", "format": "email"}


@pytest.mark.parametrize(("value", "detail"), [
    ("m1@x.org\u200b", "contains an invisible character U+200B"),
    ("\ufeffm1@x.org", "contains an invisible character U+FEFF"),
    ("m\u00adx@x.org", "contains an invisible character U+00AD"),
    ("a\u200d@x.org", "contains an invisible character U+200D"),
    ("m1@x.org\u200e", "contains an invisible character U+200E"),
    ("a\x00b@x.org", "contains a control character U+0000"),
    ("a\x7f@x.org", "contains a control character U+007F"),
    ("a\x1fb@x.org", "contains whitespace U+001F"),  # inside: not trimmed
    ("a b@x.org", "contains whitespace U+0020"),
    ("m2\uff20x.org", "has 0 '@' (exactly one is needed)"),
    ("a@b.co.", "ends its domain with a dot"),
    ("a@b..co", "has an empty label in its domain"),
    ("@b.co", "has an empty local part"),
    ("a@bco", "has a domain without a dot"),
])
def test_f10_invisible_characters_make_no_second_key(value: str, detail: str) -> None:
    result = reject_of(EMAIL, value)
    assert result.reason == "invalid_email"
    assert detail in result.detail


@pytest.mark.parametrize(("value", "key"), [
    ("\u00a0m4@x.org\u2003", "m4@x.org"),  # Unicode whitespace is trimmed
    ("\x1fm5@x.org\x1c", "m5@x.org"),  # str.strip: U+001C-U+001F are whitespace to Python
    ("\tm6@x.org\r\n", "m6@x.org"),
    ("\u3000m7@x.org\u2029", "m7@x.org"),
])
def test_f10_what_is_trimmed(value: str, key: str) -> None:
    assert outcome(one_field(EMAIL), value) == key


@pytest.mark.parametrize(("field", "value", "expected"), [
    ({"type": "datetime", "format": "%d/%m/%Y %H:%M:%S"}, "31/12/2016 23:59:60",
     "2017-01-01T00:00:00"),  # a leap second, as PostgreSQL reads it
    ({"type": "datetime", "format": "%d/%m/%Y %H:%M:%S"}, "31/12/2016 23:59:61",
     "reject:invalid_datetime"),
    ({"type": "datetime", "format": "%d/%m/%Y %H:%M%z"}, "01/01/2020 10:00+1600",
     "2019-12-31T18:00:00+00:00"),  # PostgreSQL reads offsets up to 15:59
    ({"type": "datetime", "format": "%d/%m/%Y %H:%M%z"}, "01/01/2020 10:00+1559",
     "2020-01-01T10:00:00+15:59"),
    ({"type": "datetime", "format": "%d/%m/%Y %H:%M%z"}, "01/01/2020 10:00+1560",
     "reject:invalid_datetime"),
    ({"type": "datetime", "format": "%d/%m/%Y %H:%M%z", "x-ingest": {"columnType": "timestamp"}},
     "01/01/2020 10:00+0200", "2020-01-01T08:00:00"),  # a timestamp column keeps no zone
])
def test_pattern_datetimes_like_the_default_form(field: dict[str, object], value: str,
                                                 expected: str) -> None:
    assert outcome(one_field(field), value) == expected
