"""Each type, format and constraint of the compiled validator: valid and invalid values, the
stored text and the reason code."""

from __future__ import annotations

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
    ({"type": "number", "x-ingest": {"columnType": "numeric(14,2)"}}, ".5",
     "reject:invalid_number"),
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
     "2024-03-04T14:11:12.1234567+00:00"),
    ({"type": "datetime"}, "2024-03-05T10:11:12.1234567890", "reject:invalid_datetime"),
    ({"type": "datetime"}, "2024-03-05T24:00:00", "reject:invalid_datetime"),
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
