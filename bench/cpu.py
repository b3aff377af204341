"""CPU seconds of a timed window, per group of processes, from /proc/<pid>/stat (utime + stime).

Groups: the bench's children (a Child samples its own ticks every SAMPLE_S), the PostgreSQL
backends connected to the run's database (listed from pg_stat_activity every POLL_S, the bench's
own connections left out), PostgreSQL's background processes (checkpointer, WAL writer, ...:
shared with every other client of the server) and the RabbitMQ broker (``beam.smp``, whole
broker, shared too). A process started inside the window counts from 0; one that exits inside it
counts up to its last sample, so it can lose one interval (20 ms for children, 50 ms for
backends). Processes that /proc does not show (a server in a container) give no figure (None).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import asyncpg
from children import Child, cpu_ticks

TICK_S: Final = 1 / os.sysconf("SC_CLK_TCK")
POLL_S: Final = 0.05
BACKENDS_SQL: Final = ("SELECT pid, datname IS NULL AS background FROM pg_stat_activity "
                       "WHERE (datname = $1 AND pid <> ALL($2::int[])) OR datname IS NULL")


@dataclass
class Tally:
    """Ticks of each process of a group: first seen (0 if it started in the window) and last."""

    first: dict[int, int] = field(default_factory=dict)
    last: dict[int, int] = field(default_factory=dict)

    def see(self, pid: int, ticks: int | None, at_start: bool = False) -> None:
        if ticks is None:
            return
        self.first.setdefault(pid, ticks if at_start else 0)
        self.last[pid] = max(ticks, self.last.get(pid, 0))

    def seconds(self) -> float | None:
        if not self.last:
            return None
        return round(sum(t - self.first[p] for p, t in self.last.items()) * TICK_S, 2)


def postgres_ticks(pid: int) -> int | None:
    """A PostgreSQL process's ticks, None unless /proc shows it as ``postgres``."""
    try:
        if Path(f"/proc/{pid}/comm").read_text().strip() != "postgres":
            return None
    except OSError:
        return None
    return cpu_ticks(pid)


def broker_pid() -> int | None:
    """The pid of the one RabbitMQ node (``beam.smp``) on this machine, if there is one."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == "beam.smp":
                    found.append(int(entry.name))
    return found[0] if len(found) == 1 else None


class CpuMeter:
    """CPU seconds over a window: ``start()``, ``add()`` children started later, ``stop()``."""

    def __init__(self, admin_url: str, database: str, exclude: Iterable[int] = ()) -> None:
        self.admin_url, self.database, self.exclude = admin_url, database, list(exclude)
        self.children: dict[str, list[tuple[Child, int]]] = {}
        self.pg = {"postgres": Tally(), "postgres_background": Tally()}
        self.broker, self.broker_pid = Tally(), broker_pid()
        self.conn: asyncpg.Connection | None = None
        self.task: asyncio.Task[None] | None = None

    def add(self, group: str, children: Iterable[Child]) -> None:
        """Count ``children`` in ``group`` from now (a child started now counts from 0)."""
        for child in children:
            child.sample()
            self.children.setdefault(group, []).append((child, child.cpu_ticks))

    async def start(self, groups: dict[str, list[Child]] | None = None) -> None:
        for group, children in (groups or {}).items():
            self.add(group, children)
        self.conn = await asyncpg.connect(self.admin_url)
        await self.poll(at_start=True)
        if self.broker_pid is not None:
            self.broker.see(self.broker_pid, cpu_ticks(self.broker_pid), at_start=True)
        self.task = asyncio.create_task(self.poll_forever())

    async def poll(self, at_start: bool = False) -> None:
        assert self.conn is not None
        for row in await self.conn.fetch(BACKENDS_SQL, self.database, self.exclude):
            tally = self.pg["postgres_background" if row["background"] else "postgres"]
            tally.see(row["pid"], postgres_ticks(row["pid"]), at_start)

    async def poll_forever(self) -> None:
        while True:
            await asyncio.sleep(POLL_S)
            await self.poll()

    async def stop(self) -> dict[str, float | None]:
        """CPU seconds of each group since ``start()`` (None: not visible in /proc)."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        out: dict[str, float | None] = {}
        for group, members in self.children.items():
            for child, _ in members:
                child.sample()
            out[group] = round(sum(c.cpu_ticks - t0 for c, t0 in members) * TICK_S, 2)
        if self.conn is not None:
            await self.poll()
            await self.conn.close()
        out |= {name: tally.seconds() for name, tally in self.pg.items()}
        if self.broker_pid is not None:
            self.broker.see(self.broker_pid, cpu_ticks(self.broker_pid))
            out["rabbitmq"] = self.broker.seconds()
        return out


def per_million(cpu: dict[str, float | None], rows: int | None) -> dict[str, float | None]:
    """CPU seconds per 1M rows of each group."""
    return {k: (round(v * 1_000_000 / rows, 2) if v is not None and rows else None)
            for k, v in cpu.items()}
