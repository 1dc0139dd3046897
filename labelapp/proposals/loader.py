"""Reading a proposal off the GUI thread: the difference map and the repair stretched to
the image's size and the mask at the run's cut cost a third of a second for a 2048 x 2048
image (``benchmarks/proposal_review_bench.py``), too long for the GUI thread on every image.

One read runs at a time on a :class:`labelapp.jobs.runner.JobRunner` (its worker opens its
own ``Project``); a request made meanwhile replaces any waiting one, so paging quickly
through images reads only the last.
"""

from __future__ import annotations

import threading
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from core.proposals.store import Proposal, ProposalSet, load_proposal
from core.store import Project
from labelapp.jobs.runner import JobRunner


@dataclass(frozen=True)
class LoadedProposal:
    """A proposal read for the image on screen: ``proposal`` None when the run has none for it."""

    run_id: int
    image_id: int
    proposal: Proposal | None
    mask: np.ndarray | None  # bool (H, W) at the run's cut


def read_proposal(root: Path, proposals: ProposalSet, image_id: int,
                  _cancel: threading.Event | None = None) -> Generator[None, None, LoadedProposal]:
    """The job: reads one image's proposal and its mask (a generator that yields nothing)."""
    with Project.open(root) as project:
        proposal = load_proposal(project, proposals, image_id)
    mask = None if proposal is None else proposal.mask()
    return LoadedProposal(run_id=proposals.run.id, image_id=image_id, proposal=proposal, mask=mask)
    yield  # noqa: B901 - a job is a generator


class ProposalLoader(QObject):
    """Signals:
        loaded(object): a :class:`LoadedProposal`.
        failed(object): (image id, the exception) of a read that failed.
    """

    loaded = Signal(object)
    failed = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runner: JobRunner | None = None
        self._running: int | None = None  # the image being read
        self._waiting: tuple[Path, ProposalSet, int] | None = None

    def request(self, root: Path, proposals: ProposalSet, image_id: int) -> None:
        """Reads ``image_id``'s proposal after the read under way (if any)."""
        self._waiting = (root, proposals, image_id)
        if self._runner is None:
            self._start()

    def busy(self) -> bool:
        return self._runner is not None

    def _start(self) -> None:
        waiting, self._waiting = self._waiting, None
        if waiting is None:
            return
        root, proposals, image_id = waiting
        runner = JobRunner(lambda cancel: read_proposal(root, proposals, image_id, cancel), self)
        runner.finished.connect(self._on_runner_finished)
        runner.failed.connect(self._on_runner_failed)
        self._runner, self._running = runner, image_id
        runner.start()

    def wait(self) -> None:
        """Blocks until the read under way has ended (call before closing)."""
        if self._runner is not None:
            self._runner.wait()

    def _done(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.deleteLater()
        self._start()

    @Slot(object)
    def _on_runner_finished(self, result: object) -> None:
        self._done()
        self.loaded.emit(result)

    @Slot(object)
    def _on_runner_failed(self, error: object) -> None:
        image_id = self._running
        self._done()
        self.failed.emit((image_id, error))
