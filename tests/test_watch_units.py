"""``producer watch`` without services: names taken, when a file is ready, moving aside, the
settings' refusals and the CLI's routing (``producer --file`` unchanged)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from libs import constants as c
from libs.errors import FileChanged, UserError
from libs.settings import ProducerSettings, WatchSettings
from libs.sources import LocalSource
from producer.claims import HashedLocal, hash_file, local_stamp
from producer.inbox import Entry, LocalListing, Settling, free_name, listing_for, wanted

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("name", "patterns", "taken"), [
    ("a.csv", (), True),
    ("a.csv.part", (), False),
    ("a.tmp", (), False),
    (".a.csv", (), False),
    ("~$a.csv", (), False),
    ("a.csv", ("*.csv",), True),
    ("a.CSV", ("*.csv",), False),  # case-sensitive everywhere
    ("a.txt", ("*.csv", "*.txt"), True),
    ("a.csv.part", ("*.part",), False),  # a temporary name is never taken
])
def test_wanted_names(name: str, patterns: tuple[str, ...], taken: bool) -> None:
    assert wanted(name, patterns) is taken


def _entry(name: str, stamp: tuple[object, ...]) -> Entry:
    return Entry(f"/in/{name}", name, int(str(stamp[0])), stamp)


def test_a_file_is_ready_once_its_stamp_held_over_two_polls() -> None:
    settling = Settling()
    assert settling.ready([_entry("a", (1, 10))]) == []
    assert settling.ready([_entry("a", (2, 11))]) == []  # still growing
    assert [e.name for e in settling.ready([_entry("a", (2, 11)), _entry("b", (1, 5))])] == ["a"]
    ready = settling.ready([_entry("a", (2, 11)), _entry("b", (1, 5))])
    assert [e.name for e in ready] == ["b", "a"]  # oldest first
    assert settling.ready([_entry("a", (3, 12))]) == []  # changed again


def test_local_listing_lists_files_only_and_moves_them_under_a_free_name(
        tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.csv.gz").write_bytes(b"x")
    listing = LocalListing(str(tmp_path))
    [entry] = listing.entries()
    assert (entry.name, entry.size) == ("a.csv.gz", 1)
    assert listing.stamp(entry) == entry.stamp == local_stamp(tmp_path / "a.csv.gz")
    done = tmp_path / "done"
    (done).mkdir()
    (done / "a.csv.gz").write_bytes(b"old")
    assert listing.move(entry, str(done)) == str(done / "a.1.csv.gz")
    assert listing.stamp(entry) is None
    assert free_name(done, "a.csv.gz") == done / "a.2.csv.gz"


def test_listing_of_a_missing_folder_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="is not a folder"):
        listing_for(str(tmp_path / "nope"))


def test_hashing_gives_the_sources_identity_and_stops_on_halt(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(os.urandom(3 << 20))
    identity = hash_file(path, threading.Event())
    assert identity == LocalSource(str(path)).identity()
    halted = threading.Event()
    halted.set()
    assert hash_file(path, halted) is None
    assert identity is not None
    source = HashedLocal(str(path), identity, local_stamp(path))
    assert source.identity() == identity
    with path.open("ab") as handle:
        handle.write(b"more")
    with pytest.raises(FileChanged):
        source.identity()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"interval": 0}, "--interval must be positive"),
    ({"done_dir": Path("d"), "done_prefix": "s3://b/d/"}, "give one"),
    ({"done_prefix": "s3://b/d/"}, "--done-prefix is for a remote source"),
    ({"patterns": ("",)}, "--pattern is empty"),
])
def test_watch_settings_refuse(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(UserError, match=message):
        WatchSettings("in", ProducerSettings(file="in"), **kwargs)  # type: ignore[arg-type]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INGEST_", "PRODUCER_"))}
    return subprocess.run([sys.executable, "-m", "producer", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_producer_help_names_watch_and_watch_help_explains_it() -> None:
    top = _cli("--help")
    assert top.returncode == 0
    assert "producer watch SOURCE" in top.stdout
    assert "--file PATH|URL" in top.stdout  # the file command is still the default
    own = _cli("watch", "--help")
    assert own.returncode == 0
    assert own.stdout.startswith("Usage: python -m producer watch [OPTIONS] SOURCE")
    text = " ".join(own.stdout.split())
    for needle in ("--interval", "--pattern", "--done-dir", "--done-prefix", "--failed-dir",
                   "*.part *.tmp .* ~*", "advisory lock", "--dataset", "--mode", "--format",
                   "exits 0"):
        assert needle in text, needle
    for absent in ("--file", "--dry-run", "--wait", "--job-file", "--source-name"):
        assert absent not in own.stdout.split("Options:")[1], absent


@pytest.mark.parametrize(("args", "needles"), [
    (("watch",), ("Missing argument 'SOURCE'", "'python -m producer watch --help'")),
    (("watch", "/no/such/folder"), ("error: watch: /no/such/folder is not a folder",)),
    (("watch", ".", "--done-dir", "d", "--done-prefix", "s3://b/"), ("give one",)),
    (("watch", ".", "--interval", "-1"), ("--interval must be positive",)),
    (("watch", ".", "--file", "x.csv"), ("No such option '--file'",)),
    ((), ("Missing option '--file'", "'python -m producer --help'")),
])
def test_cli_errors_are_one_line_and_exit_2(args: tuple[str, ...],
                                            needles: tuple[str, ...]) -> None:
    run = _cli(*args)
    assert run.returncode == c.EXIT_USAGE, run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    for needle in needles:
        assert needle in lines[0]


def test_compose_has_a_watcher_on_volumes_inbox() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    watcher = services["watcher"]
    assert watcher["command"][:3] == ["producer", "watch", "/app/volumes/inbox"]
    assert "--done-dir" in watcher["command"]
    assert "./volumes/inbox:/app/volumes/inbox" in watcher["volumes"]
    assert watcher["env_file"] == "env/docker.env"
    assert watcher["profiles"] == ["producer"]  # `up` alone does not start it
    assert watcher["stop_signal"] == "SIGTERM"
    after = watcher["depends_on"]
    assert after["migrate-examples"]["condition"] == "service_completed_successfully"
    for name in ("rabbitmq", "postgres", "redis"):
        assert after[name]["condition"] == "service_healthy"


def test_make_watch_runs_producer_watch_on_watch_dir() -> None:
    run = subprocess.run(["make", "-n", "-o", ".venv/.installed", "watch",
                          "WATCH_DIR=/tmp/in-box"], cwd=ROOT, capture_output=True, text=True,
                         timeout=60, check=True)
    assert 'exec .venv/bin/producer watch "/tmp/in-box" --done-dir /tmp/in-box/done' in run.stdout
