"""One file through the real producer and consumer, and what it left in the database: for
the format tests (tests/test_jsonl.py, tests/test_compression.py).

The CSV load of a file is checked by the independent checker (tests/checker.py); its other
forms (JSON Lines made by scripts/convert_sample.py, gzip, zstd) must then give the same table
and the same rejects, by line, the record syntax's reasons (``malformed_csv``,
``wrong_column_count``) being JSON Lines' ``malformed_json``.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika

from tests.pipeline import ROOT, consume_burst, drain, execute, fetch, produce

ROWS_SQL = ("SELECT email, first_name, last_name, phone, birth_date, city, country, signup_at, "
            "balance, line_no FROM customers ORDER BY email")
REJECTS_SQL = "SELECT line_no, reason FROM ingest_rejects ORDER BY line_no"
EMPTY = "TRUNCATE customers, ingest_rejects, ingest_batches, ingest_jobs, ingest_keys"
SYNTAX = {"malformed_csv": "malformed_json", "wrong_column_count": "malformed_json"}
BATCH = ("--batch-size", "700")


@dataclass
class Loaded:
    job_id: str
    rows: list[tuple[Any, ...]]
    rejects: list[tuple[int, str]]  # (line, reason)
    produced: dict[str, Any]
    consumed: dict[str, Any]
    produced_log: str  # the producer's stderr

    def json_rejects(self) -> list[tuple[int, str]]:
        """The rejects with CSV's record-syntax reasons named as JSON Lines names them."""
        return [(line, SYNTAX.get(reason, reason)) for line, reason in self.rejects]

    def by_reason(self) -> Counter[str]:
        return Counter(reason for _, reason in self.json_rejects())


async def load(path: Path, env: dict[str, str], database_url: str, *args: str) -> Loaded:
    """Empty the tables, publish ``path`` and consume it (burst): what it left."""
    await execute(database_url, EMPTY)
    produced = produce(path, env, *BATCH, *args)
    assert produced.rc == 0, produced.stderr[-3000:]
    consumed = consume_burst(env)
    assert consumed.rc == 0, consumed.stderr[-3000:]
    rows = [tuple(r) for r in await fetch(database_url, ROWS_SQL)]
    rejects = [(int(r[0]), str(r[1])) for r in await fetch(database_url, REJECTS_SQL)]
    return Loaded(produced.summary["job_id"], rows, rejects, produced.summary,
                  consumed.summary, produced.stderr)


def convert(source: Path, out_dir: Path, *kinds: str) -> dict[str, Path]:
    """``source`` converted by scripts/convert_sample.py (JSON Lines on the CSV's line
    numbers): output kind -> path."""
    subprocess.run([sys.executable, str(ROOT / "scripts" / "convert_sample.py"), str(source),
                    "--out-dir", str(out_dir), "--to", ",".join(kinds), "--same-lines"],
                   check=True, capture_output=True)
    stem = source.name.removesuffix(".csv")
    return {kind: out_dir / f"{stem}.{kind}" for kind in kinds}


def assert_same_load(csv_load: Loaded, other: Loaded, what: str) -> None:
    """``other`` left the table and the rejects ``csv_load`` left (see the module)."""
    assert other.rows == csv_load.rows, f"{what}: the table differs from the CSV load's"
    assert other.json_rejects() == csv_load.json_rejects(), f"{what}: rejects differ"
    assert other.by_reason() == csv_load.by_reason()
    assert other.produced["rows_read"] == csv_load.produced["rows_read"], what


async def reverse_queue(amqp_url: str, queue: str) -> None:
    """Put the queue's messages back in reverse order: later batches commit first, so their
    duplicates of earlier lines load first and are then displaced (rebuilt rejects)."""
    messages = await drain(amqp_url, queue)
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(queue)
        for m in reversed(messages):
            await exchange.publish(aio_pika.Message(
                m.body, headers=m.headers, delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                message_id=m.message_id, content_type=m.content_type, type=m.type),
                routing_key=queue)
    finally:
        await connection.close()
