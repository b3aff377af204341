"""Compressed inputs (``libs.formats.compression``): the stream's rules, then real loads.

gzip and zstd files of a CSV file (and of its JSON Lines form) must load to the CSV load's
table and rejects, which the independent checker verifies; a producer killed on a gzip file
resumes by re-reading it; a truncated file is one error line, exit 2.
"""

from __future__ import annotations

import gzip
import io
import json
import os
from pathlib import Path

import pytest
import zstandard

from libs.errors import UserError
from libs.formats import reader_for
from libs.formats.base import Position, stream_extent
from libs.formats.compression import (
    BLOCK,
    Decompressed,
    decompressed,
    open_stream,
    sniff,
    stored_handle,
)
from libs.schema import from_file
from libs.sources import LocalSource
from tests.format_loads import assert_same_load, convert, load, reverse_queue
from tests.pipeline import (
    ROOT,
    assert_loaded_exactly,
    consume_burst,
    customers_rows,
    fetch,
    gendata,
    kill_twice,
    produce,
    run_cli,
    write_csv,
)

CUSTOMERS = from_file.load("customers", ROOT / "datasets")
SAMPLE = ROOT / "data" / "customers_sample.csv"
DATA = b"".join(b"line %d,%s\n" % (i, os.urandom(6).hex().encode()) for i in range(60_000))


def stream(blob: bytes, kind: str) -> Decompressed:
    return Decompressed(io.BytesIO(blob), kind, "in.gz")


def read_all(handle: Decompressed, size: int = 1 << 20) -> bytes:
    pieces = []
    while piece := handle.read(size):
        pieces.append(piece)
    return b"".join(pieces)


def zstd(data: bytes) -> bytes:
    return zstandard.ZstdCompressor().compress(data)


@pytest.mark.unit
def test_gzip_members_padding_and_zstd_frames_read_whole() -> None:
    assert read_all(stream(gzip.compress(DATA), "gzip")) == DATA
    two = gzip.compress(DATA[:1000]) + gzip.compress(DATA[1000:]) + b"\0" * 512
    assert read_all(stream(two, "gzip"), 333) == DATA
    assert read_all(stream(zstd(DATA[:5]) + zstd(DATA[5:]), "zstd")) == DATA
    assert read_all(stream(b"", "gzip")) == b""


@pytest.mark.unit
def test_memory_is_bounded_whatever_the_ratio() -> None:
    handle = stream(gzip.compress(b"\0" * (64 << 20)), "gzip")
    total = 0
    while handle._fill():
        total += len(handle._buffer)
        assert len(handle._buffer) <= BLOCK
        handle._buffer.clear()
    assert total == 64 << 20


@pytest.mark.unit
def test_seek_rereads_from_the_start_and_readline() -> None:
    for kind, blob in (("gzip", gzip.compress(DATA)), ("zstd", zstd(DATA))):
        handle = stream(blob, kind)
        assert handle.read(70_000) == DATA[:70_000]
        assert handle.seek(0) == 0
        assert handle.readline() == DATA[: DATA.index(b"\n") + 1]
        assert handle.seek(123_456) == 123_456
        assert handle.tell() == 123_456
        assert handle.read(10) == DATA[123_456:123_466]
        handle.seek(100)
        assert handle.readline(5) == DATA[100:105]
        assert handle.seek(len(DATA) + 10) == len(DATA)
        assert handle.read(1) == b""
        assert stream_extent(handle, len(blob)) is None  # type: ignore[arg-type]


@pytest.mark.unit
@pytest.mark.parametrize(("kind", "blob", "message"), [
    ("gzip", gzip.compress(DATA)[:-9], "the gzip data ends inside a member (a truncated file?)"),
    ("gzip", gzip.compress(DATA)[:-8] + b"\0\0\0\0" + gzip.compress(DATA)[-4:],
     "incorrect data check"),
    ("gzip", b"plain text, not gzip\n", "not valid gzip data"),
    ("gzip", gzip.compress(DATA) + b"trailing", "incorrect header check"),
    ("zstd", zstd(DATA)[:-3], "the zstd data ends inside a frame (a truncated file?)"),
    ("zstd", b"plain text, not zstd\n", "not valid zstd data"),
])
def test_corrupt_or_truncated_data_is_one_user_error(kind: str, blob: bytes,
                                                     message: str) -> None:
    with pytest.raises(UserError) as caught:
        read_all(stream(blob, kind))
    text = str(caught.value)
    assert text.startswith("in.gz: ")
    assert message in text
    assert "\n" not in text
    assert "bytes into the decompressed data" in text


@pytest.mark.unit
def test_open_stream_by_suffix_option_or_magic(tmp_path: Path) -> None:
    (tmp_path / "a.csv.gz").write_bytes(gzip.compress(b"x\n"))
    (tmp_path / "a.zst").write_bytes(zstd(b"y\n"))
    (tmp_path / "noext").write_bytes(gzip.compress(b"z\n"))
    (tmp_path / "plain.csv").write_bytes(b"p\n")
    for name, option, want in (("a.csv.gz", "auto", b"x\n"), ("a.zst", "auto", b"y\n"),
                               ("noext", "auto", b"z\n"), ("noext", "gzip", b"z\n"),
                               ("plain.csv", "auto", b"p\n"), ("plain.csv", "none", b"p\n")):
        with open_stream(LocalSource(str(tmp_path / name)), option) as handle:
            assert handle.read() == want, name
            assert os.fstat(stored_handle(handle).fileno()).st_size == \
                (tmp_path / name).stat().st_size
    with pytest.raises(UserError, match="bzip2 input cannot be read"):
        decompressed(io.BytesIO(b""), "bzip2", "f")
    assert [sniff(b) for b in (b"\x1f\x8b\x08", b"\x28\xb5\x2f\xfd", b"a,b")] == [
        "gzip", "zstd", "none"]


@pytest.mark.unit
def test_batches_of_a_compressed_stream_are_the_files_from_any_resume_point() -> None:
    body = ("email,first_name,last_name,phone,birth_date,city,country,signup_at,balance\n" +
            "\n".join(customers_rows(3000)) + "\n").encode()
    reader = reader_for(CUSTOMERS)
    plain = io.BytesIO(body)
    header = reader.read_header(plain)
    start = Position(0, header.end_offset, header.next_line, 0)
    plain.seek(start.byte)
    want = list(reader.iter_chunks(plain, start, 100, 1 << 20))
    handle = stream(gzip.compress(body), "gzip")
    handle.read(5000)
    handle.seek(want[11].end.byte)  # a resume: back to the start, then skip
    assert list(reader.iter_chunks(handle, want[11].end, 100, 1 << 20)) == want[12:]


async def test_gzip_and_zstd_files_load_as_the_csv_does(
        tmp_path: Path, service_env: dict[str, str], database_url: str,
        clean_tables: None) -> None:
    dirty = gendata(tmp_path / "dirty.csv", 6000, 29, "--dirty")
    for source in (SAMPLE, dirty):
        made = convert(source, tmp_path, "csv.gz", "csv.zst", "jsonl.gz", "jsonl.zst")
        as_csv = await load(source, service_env, database_url)
        await assert_loaded_exactly(database_url, [source], [as_csv.job_id])
        for kind, path in made.items():
            other = await load(path, service_env, database_url)
            assert_same_load(as_csv, other, kind)
            assert other.job_id != as_csv.job_id  # the stored bytes' sha256
            if kind.startswith("csv"):
                assert other.rejects == as_csv.rejects
                await assert_loaded_exactly(database_url, [source], [other.job_id])
            assert other.produced["bytes"] == path.stat().st_size  # the seal: stored bytes


async def test_killed_producer_on_a_gzip_file_resumes_by_rereading_it(
        tmp_path: Path, service_env: dict[str, str], database_url: str,
        clean_tables: None) -> None:
    source = write_csv(tmp_path / "big.csv", customers_rows(40_000))
    path = convert(source, tmp_path, "csv.gz")["csv.gz"]
    args = ("--batch-size", "10", "--parallel", "4")
    kill_twice(path, service_env, 300, *args)
    rerun = produce(path, service_env, *args)
    assert rerun.rc == 0, rerun.stderr
    s = rerun.summary
    assert s["resumed_from_line"] > 2
    assert s["batches_published"] < s["batches_total"] == 4000
    assert s["rows_confirmed"] == 40_000
    assert s["sealed"]
    assert s["bytes"] == path.stat().st_size
    assert any("resuming from saved offset" in line for line in rerun.lines)
    assert consume_burst(service_env).rc == 0
    await assert_loaded_exactly(database_url, [source], [s["job_id"]])


async def test_truncated_gzip_exits_2_with_one_line_after_the_batches_before_it(
        tmp_path: Path, service_env: dict[str, str], database_url: str,
        clean_tables: None) -> None:
    source = write_csv(tmp_path / "t.csv", customers_rows(20_000))
    whole = gzip.compress(source.read_bytes())
    path = tmp_path / "t.csv.gz"
    path.write_bytes(whole[: len(whole) // 2])
    run = produce(path, service_env, "--batch-size", "100")
    assert run.rc == 2, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    errors = [line for line in run.lines if line.startswith("error:")]
    [error] = errors
    assert "the gzip data ends inside a member" in error
    assert str(path) in error
    s = run.summary
    assert s["status"] == "refused"
    assert not s["sealed"]
    assert 0 < s["rows_confirmed"] < 20_000
    assert consume_burst(service_env).rc == 0
    loaded = await fetch(database_url, "SELECT count(*) FROM customers")
    assert loaded[0][0] == s["rows_confirmed"]
    # Not gzip at all: refused before anything is published.
    path.write_bytes(b"email,first_name\nnot,gzip\n")
    run = produce(path, service_env)
    assert run.rc == 2
    errors = [line for line in run.lines if line.startswith("error:")]
    [error] = errors
    assert "not valid gzip data" in error
    assert run.summary.get("batches_published", 0) == 0


async def test_rejects_export_reads_displaced_records_from_a_compressed_jsonl_file(
        tmp_path: Path, service_env: dict[str, str], database_url: str,
        clean_tables: None) -> None:
    lines = [json.dumps({"email": f"u{i}@x.io", "first_name": "F"}) for i in range(30)]
    lines.append('{"email": "U3@x.io", "first_name": "Again"}')
    path = tmp_path / "dups.jsonl.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    produced = produce(path, service_env, "--batch-size", "10")
    assert produced.rc == 0, produced.stderr
    job = produced.summary["job_id"]
    await reverse_queue(service_env["AMQP_URL"], service_env["INGEST_QUEUE"])
    assert consume_burst(service_env, "--parallel", "1").rc == 0
    rebuilt = await fetch(database_url, "SELECT line_no, raw FROM ingest_rejects WHERE detail "
                                        "LIKE '%(record rebuilt from the loaded row)'")
    assert [r[0] for r in rebuilt] == [31]  # loaded first, then line 4 took the key back
    for fmt, out in (("jsonl", tmp_path / "r.jsonl"), ("csv", tmp_path / "r.csv")):
        run = run_cli("ingest", "rejects", job, "--format", fmt, "--out", str(out),
                      env=service_env)
        assert run.rc == 0, run.stderr
        text = out.read_text()
        assert "rebuilt" not in text
        assert "not available" not in text
        last = text.splitlines()[-1]
        if fmt == "jsonl":
            assert json.loads(last)["raw"] == lines[30]
        else:
            assert last.startswith("31,duplicate_key,")
            assert last.endswith(",U3@x.io,Again,,,,,,,")


def test_dry_run_of_a_compressed_jsonl_file_reports_what_a_load_would_reject(
        tmp_path: Path, service_env: dict[str, str], clean_tables: None) -> None:
    path = convert(SAMPLE, tmp_path, "jsonl.zst")["jsonl.zst"]
    report = tmp_path / "report.csv"
    run = produce(path, service_env, "--dry-run", "--rejects-out", str(report))
    assert run.rc == 0, run.stderr
    s = run.summary
    assert s["rejects_by_reason"] == {"duplicate_key": 1, "invalid_date": 1, "invalid_email": 1,
                                      "invalid_number": 1, "invalid_timestamp": 1,
                                      "malformed_json": 1}
    assert (s["records"], s["loadable"], s["bytes"]) == (40, 34, path.stat().st_size)
    rows = report.read_text().splitlines()
    assert rows[0].startswith("_line,_reason,_detail,email,first_name,")
    assert len(rows) == 7


async def test_a_gzip_file_with_no_suffix_is_found_by_its_magic_bytes(
        tmp_path: Path, service_env: dict[str, str], database_url: str,
        clean_tables: None) -> None:
    """An upload or a signed URL has no .gz in its name: --compression auto looks at the
    bytes (the producer once decided by the name alone and read the gzip bytes as CSV)."""
    path = tmp_path / "upload-0001"
    path.write_bytes(gzip.compress(SAMPLE.read_bytes()))
    run = produce(path, service_env, "--source-name", "partner-export")
    assert run.rc == 0, run.stderr[-2000:]
    assert run.summary["rows_confirmed"] == 40
    assert consume_burst(service_env).rc == 0
    await assert_loaded_exactly(database_url, [SAMPLE], [run.summary["job_id"]])
