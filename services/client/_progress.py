"""A rich progress bar while a job runs (off when not asked for and stderr is no terminal)."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

from services.core.jobs import JobInfo


class JobProgress:
    """Context manager: ``update(info)`` after each poll of the job."""

    def __init__(self, job_id: str, enabled: bool | None) -> None:
        self.job_id = job_id
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> JobProgress:
        if self.enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TimeElapsedColumn(),
                TextColumn("{task.fields[message]}"),
                transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task(self.job_id, total=1.0, message="submitted")
        return self

    def update(self, info: JobInfo) -> None:
        if self._progress is not None:
            message = f"{info.status.value} {info.message or ''}".strip()
            self._progress.update(self._task, completed=info.progress, message=message[:60])

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
