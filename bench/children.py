"""Child processes: started with their output in log files, peak RSS (VmHWM) and CPU ticks
(utime + stime) sampled."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TextIO

from settings import ROOT, Urls

# Variables a child must not inherit: fault injection, and the file the producer is given.
DROPPED_ENV: Final = ("INGEST_FAULT", "INGEST_FAULT_AFTER", "INGEST_FAULT_KEY", "INGEST_FILE")
SAMPLE_S: Final = 0.02
STOP_TIMEOUT_S: Final = 60.0


@dataclass
class Child:
    """A child process with its output files and its sampled peak RSS (VmHWM)."""

    name: str
    proc: asyncio.subprocess.Process
    out: Path
    err: Path
    hwm_kb: int = 0
    cpu_ticks: int = 0  # the last sample: a child that exited keeps its last one

    @property
    def running(self) -> bool:
        return self.proc.returncode is None

    def sample(self) -> None:
        if self.running:
            self.hwm_kb = max(self.hwm_kb, read_hwm_kb(self.proc.pid))
            self.cpu_ticks = max(self.cpu_ticks, cpu_ticks(self.proc.pid) or 0)

    def signal(self, signum: int) -> None:
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signum)

    def result(self) -> dict[str, Any] | None:
        """The last JSON line of the child's stdout (its summary)."""
        return last_json_line(self.out)

    def stderr_tail(self, lines: int = 5) -> str:
        try:
            return "\n".join(self.err.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    @property
    def peak_mb(self) -> float:
        return round(self.hwm_kb / 1024, 1)


def read_hwm_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def cpu_ticks(pid: int) -> int | None:
    """utime + stime of ``pid`` in clock ticks (/proc/<pid>/stat fields 14 and 15), None if it
    is gone or unreadable."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, ValueError, IndexError):
        return None


def last_json_line(path: Path) -> dict[str, Any] | None:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        with contextlib.suppress(ValueError):
            data = json.loads(line)
            if isinstance(data, dict):
                return data
    return None


def open_logs(log_dir: Path, name: str) -> tuple[Path, Path, TextIO, TextIO]:
    log_dir.mkdir(parents=True, exist_ok=True)
    out, err = log_dir / f"{name}.out", log_dir / f"{name}.err"
    return out, err, out.open("w"), err.open("w")


class Children:
    """Every child the bench starts: sampled in the background, killed on error."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.all: list[Child] = []

    async def start(self, name: str, cmd: list[str], env: dict[str, str]) -> Child:
        out, err, out_f, err_f = open_logs(self.log_dir, name)
        try:
            proc = await asyncio.create_subprocess_exec(
                *cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out_f, stderr=err_f)
        finally:
            out_f.close()
            err_f.close()
        child = Child(name, proc, out, err)
        child.sample()
        self.all.append(child)
        return child

    async def sample_forever(self) -> None:
        while True:
            for child in self.all:
                child.sample()
            await asyncio.sleep(SAMPLE_S)

    async def stop(self, children: list[Child], signum: int = signal.SIGTERM) -> None:
        """Signal ``children`` and wait for them (SIGKILL after STOP_TIMEOUT_S)."""
        for child in children:
            child.signal(signum)
        for child in children:
            try:
                await asyncio.wait_for(child.proc.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                child.signal(signal.SIGKILL)
                await child.proc.wait()

    def kill_all(self) -> None:
        for child in self.all:
            child.signal(signal.SIGKILL)


def child_env(urls: Urls, database_url: str, queue: str, prefix: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
    env.update(AMQP_URL=urls.amqp, DATABASE_URL=database_url, REDIS_URL=urls.redis,
               INGEST_QUEUE=queue, INGEST_REDIS_PREFIX=prefix, LOG_FORMAT="json",
               PYTHONUNBUFFERED="1")
    return env
