"""Where the map's layouts are computed: a worker process of the map's own.

t-SNE, PCA and the landmark placement are long library calls that hold the GIL for tens
of milliseconds at a time; on a thread of the window's process they stalled its paints
by 60-70 ms while a retrain's predictions streamed in (``benchmarks/responsiveness_bench.py``).
They run in a one-thread worker (:class:`core.jobs.worker.WorkerProcess`, without the
training stack's preload) beside the training's, so that a map and a retrain never wait
for each other. A layout cannot stop halfway: a stopped job ends its worker, and the next
job starts a fresh one.
"""

from __future__ import annotations

from PySide6.QtCore import QObject

from core.jobs.worker import JobCall, WorkerProcess
from core.map.job import MapRequest, map_job
from labelapp.jobs.process_runner import WorkerJobRunner


class MapJobs(QObject):
    """Starts map jobs in the map's worker, one at a time."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._worker: WorkerProcess | None = None
        self._runner: WorkerJobRunner | None = None

    def start(self, request: MapRequest, parent: QObject) -> WorkerJobRunner:
        """A runner for ``request`` (connect its signals, then ``start`` it); a job still
        running is stopped first."""
        self.stop()
        if self._worker is None:
            self._worker = WorkerProcess(threads=1, preload=False)
        self._runner = WorkerJobRunner(JobCall(map_job, (request,)), self._worker, parent)
        return self._runner

    def stop(self, *, wait: bool = False) -> None:
        """Ends the running job, if any, with its worker (a layout cannot stop halfway)."""
        runner, self._runner = self._runner, None
        if runner is not None and runner.is_running():
            runner.stop_now()
            self._worker = None
            if wait:
                runner.wait()

    def close(self) -> None:
        """Stops any job and ends the idle worker (the project closes)."""
        self.stop(wait=True)
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.close()
