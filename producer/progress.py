"""Progress bars on a terminal only, nothing in non-TTY logs: bytes published (rate, ETA),
and with --wait the records loaded. rich is imported when a bar is shown (a run without one,
under a pipe or with --no-progress, never loads it)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import Progress as RichProgress
    from rich.progress import TaskID


class Progress:
    def __init__(self, enabled: bool) -> None:
        self._enabled = enabled and sys.stderr.isatty()
        self._bar: RichProgress | None = None
        self._task: TaskID | None = None

    def start(self, total: int | None, done: int) -> None:
        """``total`` None: unknown (a compressed stream), the bar shows what is done."""
        if not self._enabled:
            return
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
        from rich.progress import Progress as RichProgress

        self._bar = RichProgress("[progress.description]{task.description}", BarColumn(),
                                 DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
                                 transient=True)
        self._bar.start()
        self._task = self._bar.add_task("publishing", total=total, completed=done)

    def advance(self, amount: int) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.advance(self._task, amount)

    def describe(self, text: str) -> None:
        """The bar's label: ``publishing``, or why it waits (``blocked by RabbitMQ: ...``)."""
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, description=text)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


class LoadProgress:
    """``producer --wait``: records loaded (done or dead-lettered batches) of the job's
    total, with rate and ETA, on a terminal only."""

    def __init__(self, enabled: bool) -> None:
        self._enabled = enabled and sys.stderr.isatty()
        self._bar: RichProgress | None = None
        self._task: TaskID | None = None

    def update(self, done: int, total: int | None, state: str) -> None:
        if not self._enabled:
            return
        if self._bar is None:
            from rich.progress import BarColumn, MofNCompleteColumn, TimeRemainingColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress("[progress.description]{task.description}", BarColumn(),
                                     MofNCompleteColumn(), TimeRemainingColumn(),
                                     transient=True)
            self._bar.start()
            self._task = self._bar.add_task(state, total=total)
        assert self._task is not None
        self._bar.update(self._task, completed=done, total=total, description=state)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
