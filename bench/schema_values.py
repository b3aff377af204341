"""Micro-benchmark of the compiled validator (libs/schema): values/s per type, rows/s per dataset.

    .venv/bin/python bench/schema_values.py [--seconds 0.5]

Each line: the label, the values (or rows) validated per second in one process, best of three
runs. Values are valid unless the label says otherwise (the reject path walks the record again).
(The exec-generated validator of libs/dataset.py it was compared with is retired: issue 11.)
"""

from __future__ import annotations

import argparse
import csv
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from libs.schema import from_file
from libs.schema.compile import plan
from libs.schema.model import Dataset

ROOT = Path(__file__).resolve().parents[1]
CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("string", {"type": "string"}, ["Alice", "São Paulo", "x" * 20]),
    ("string maxLength+pattern", {"type": "string", "constraints": {
        "maxLength": 20, "pattern": "[A-Z]{3}-[0-9]{4}"}}, ["ACM-0001", "BOL-0002"]),
    ("string enum", {"type": "string", "constraints": {"enum": ["I", "U", "D"]}}, ["I", "U"]),
    ("integer", {"type": "integer"}, ["42", "-1234567", "0"]),
    ("integer int4 bounds", {"type": "integer", "x-ingest": {"columnType": "integer"}},
     ["42", "-1234567", "0"]),
    ("number", {"type": "number"}, ["120.50", "-12.3", "0"]),
    ("number numeric(14,2)", {"type": "number", "x-ingest": {"columnType": "numeric(14,2)"}},
     ["120.50", "-12.3", "0"]),
    ("number decimal comma", {"type": "number", "decimalChar": ",", "groupChar": "."},
     ["1.234.567,89", "12,50", "0,00"]),
    ("boolean 0/1", {"type": "boolean", "trueValues": ["1"], "falseValues": ["0"]}, ["0", "1"]),
    ("date", {"type": "date"}, ["1988-04-12", "2024-02-29"]),
    ("date %d/%m/%Y", {"type": "date", "format": "%d/%m/%Y"}, ["12/04/1988", "29/02/2024"]),
    ("time", {"type": "time"}, ["10:11:12", "23:59:59.123456"]),
    ("datetime", {"type": "datetime"}, ["2023-01-15T09:30:00Z", "2022-07-01T18:05:12-07:00"]),
    ("datetime 9 digits", {"type": "datetime"}, ["2023-01-15T09:30:00.123456789Z"]),
    ("year", {"type": "year"}, ["1999", "2024"]),
    ("email", {"type": "string", "format": "email"},
     ["alice.martin@example.com", " Bob.Smith@Example.ORG "]),
    ("email non-ASCII", {"type": "string", "format": "email"}, ["chloé@exemple.fr"]),
    ("uuid", {"type": "string", "format": "uuid"}, ["0b6c1c8e-4f5a-4d2b-9a51-3f1e2d7c8b90"]),
    ("cpf", {"type": "string", "format": "cpf"}, ["158.813.998-03", "69879730917"]),
    ("cnpj", {"type": "string", "format": "cnpj"}, ["11.417.075/0001-99"]),
    ("integer (invalid)", {"type": "integer"}, ["12x"]),
    ("date (invalid)", {"type": "date"}, ["2023-02-30"]),
]


def rate(call: Callable[[], object], count: int, seconds: float) -> float:
    """Best of three: ``count`` items per ``call``, repeated for about ``seconds``."""
    best = 0.0
    for _ in range(3):
        loops, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            call()
            loops += 1
        best = max(best, loops * count / elapsed)
    return best


def value_rate(field: dict[str, Any], values: list[str], seconds: float) -> float:
    dataset = Dataset.from_descriptor({"name": "b", "schema": {"fields": [{"name": "v",
                                                                           **field}]}})
    validate = plan(dataset, ["v"]).validate
    records = [[v] for v in values] * (1000 // len(values))

    def run() -> None:
        for record in records:
            validate(record)

    return rate(run, len(records), seconds)


def row_rate(validate: Callable[[Sequence[str]], object], rows: list[list[str]],
             seconds: float) -> float:
    def run() -> None:
        for row in rows:
            validate(row)

    return rate(run, len(rows), seconds)


def customers_rows() -> tuple[list[str], list[list[str]]]:
    with (ROOT / "data/customers_sample.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    header = rows[0]
    return header, [r for r in rows[1:] if len(r) == len(header)] * 25


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=0.5)
    seconds = parser.parse_args().seconds
    for label, field, values in CASES:
        print(f"{label:28} {value_rate(field, values, seconds):>12,.0f} values/s")
    header, rows = customers_rows()
    new = plan(from_file.load(str(ROOT / "datasets/customers.yaml")), header).validate
    print(f"{'customers rows (libs.schema)':28} {row_rate(new, rows, seconds):>12,.0f} rows/s")


if __name__ == "__main__":
    main()
