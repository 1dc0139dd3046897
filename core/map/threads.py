"""Running a library call that cannot stop halfway (t-SNE, PCA, k-means) on a helper thread
while the map's job reports progress and checks its cancel flag."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator
from typing import TypeVar

from core.jobs.base import Progress, check_cancel

T = TypeVar("T")

POLL_S = 0.2  # progress interval while t-SNE runs
TSNE_S_PER_LANDMARK = 0.003  # rough single-thread t-SNE cost, for the progress bar only


class Reporter:
    """Progress records over the stages of :func:`core.map.layout.refined_layout`, weighted by their
    expected share of the time."""

    STAGES = {"reducing the features": 0.05, "choosing landmarks": 0.05, "laying out": 0.8,  # the t-SNE
              "placing the other images": 0.1}

    def __init__(self, n: int, landmarks: int) -> None:
        self.n = n
        self.landmarks = landmarks
        self.expected_tsne_s = max(0.5, TSNE_S_PER_LANDMARK * landmarks)

    def __call__(self, stage: str, fraction: float) -> Progress:
        done = 0.0
        for name, weight in self.STAGES.items():
            if stage.startswith(name):
                done += weight * min(1.0, fraction)
                break
            done += weight
        return Progress(phase="map", step=int(1000 * done), total=1000,
                        message=f"Map: {stage} ({self.n:,} images)")


def in_thread(work: Callable[[], T], cancel: threading.Event | None, report: Reporter, stage: str, *,
               expected_s: float) -> Generator[Progress, None, T]:
    """Runs ``work`` (a library call that cannot stop halfway) on a daemon thread with one
    OpenMP / BLAS thread (a core stays free for the window and a training job), reporting
    every :data:`POLL_S` until it ends; a cancel raises at once and leaves the thread to
    finish alone."""
    box: dict[str, object] = {}

    def target() -> None:
        from threadpoolctl import threadpool_limits

        try:
            # spinning OpenMP / BLAS threads: 2 took 3x as long as 1 under load. (OpenBLAS's limit is
            # process-wide: a cancelled job's thread still running beside a new one may leave it at 1.)
            with threadpool_limits(limits=1):
                box["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - re-raised on the job's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="map-tsne", daemon=True)
    started = time.perf_counter()
    thread.start()
    while thread.is_alive():
        thread.join(POLL_S)
        check_cancel(cancel)
        elapsed = time.perf_counter() - started
        yield report(stage, 0.95 * min(1.0, elapsed / expected_s))
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]
