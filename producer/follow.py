"""``producer --wait``: once the file is published and the job sealed, follow the job until
it ends (``libs.jobwait``), with a progress bar of the records loaded on a terminal."""

from __future__ import annotations

import asyncio
from typing import Any

from libs import constants as c
from libs.jobstatus import JobStatus
from libs.jobwait import Waited, wait
from libs.settings import PostgresSettings
from producer.progress import LoadProgress


class Follow:
    """Follow ``job_id`` for at most ``within`` seconds (None: no limit)."""

    def __init__(self, postgres: PostgresSettings, job_id: str, within: float | None,
                 progress: bool) -> None:
        self.postgres, self.job_id, self.within = postgres, job_id, within
        self.bar = LoadProgress(progress)
        self.stop = asyncio.Event()
        self.signal: int | None = None

    async def run(self) -> Waited:
        """UserError for a job not registered, TransientError when PostgreSQL cannot be
        reached at first."""
        try:
            return await wait(self.postgres, self.job_id, within=self.within,
                              on_status=self._show, stop=self.stop)
        finally:
            self.bar.close()

    def _show(self, status: JobStatus) -> None:
        self.bar.update(status.records_done, status.total_records, status.state)

    def handle_signal(self, signum: int) -> None:
        self.signal = signum
        self.stop.set()

    def exit_code(self, waited: Waited) -> int:
        """As ``ingest wait``: 0 succeeded*, 1 failed or aborted, 124 timeout, 130/143 a
        signal."""
        if waited.outcome == "stopped":
            return c.exit_code_of_signal(self.signal)
        return waited.exit_code()


def final_line(waited: Waited, publish: dict[str, Any]) -> dict[str, Any]:
    """The job's status, with the producer's summary under ``publish``."""
    return {**waited.status.as_dict(), "publish": publish}
