"""Which runs are stale: trained on labels that have changed since their snapshot.

A run records the digest of the :class:`~core.jobs.snapshot.LabelSnapshot` it trained
on. The exact test compares it with the digest of the current labels, but that reads
every label (about 0.1 s for 100,000 labels), too slow for every label key. Every
label, mask and class change appends an event, so the newest event id is a change
counter that costs microseconds: :class:`StaleCheck` computes the digest once, and
afterwards only asks whether the event log has grown since.

The counter errs on the safe side: labels changed and then changed back read as
stale until the next :meth:`StaleCheck.refresh` computes the digest again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from core.jobs.snapshot import take_snapshot
from core.store import Project, Run, RunKind, RunStatus

LABEL_FREE = (RunKind.PRETRAIN,)  # runs that train without labels (contrastive pretraining): never stale


@dataclass(frozen=True)
class LabelVersion:
    """The digest of the labels at the moment the event log ended at ``event_id`` and
    the newest run was ``run_id`` (a run with a larger id took its snapshot later)."""

    event_id: int
    run_id: int
    digest: str


def last_event_id(project: Project) -> int:
    """The id of the newest label, mask or class event, 0 when none (an index lookup)."""
    return project.events.last_id()


def label_version(project: Project) -> LabelVersion:
    """The current label digest (as :func:`take_snapshot` computes it) with the event id
    it belongs to, both read in one read transaction."""
    with project.read_transaction():
        event_id = last_event_id(project)
        run_id = project.runs.last_id()
        digest = take_snapshot(project).digest
    return LabelVersion(event_id=event_id, run_id=run_id, digest=digest)


def uses_labels(run: Run) -> bool:
    """Whether ``run`` trained on labels (and so can be stale)."""
    return run.kind not in LABEL_FREE and bool(run.label_snapshot.get("digest"))


class StaleCheck:
    """Tells which runs of ``project`` are stale; owned by the thread that owns ``project``.

    Example::

        check = StaleCheck(project)
        stale = check.stale_ids(project.runs.list())   # ids of stale runs
    """

    def __init__(self, project: Project) -> None:
        self._project = project
        self._version: LabelVersion | None = None

    @property
    def version(self) -> LabelVersion:
        if self._version is None:
            self.refresh()
        assert self._version is not None
        return self._version

    def refresh(self) -> LabelVersion:
        """Computes the digest of the current labels again (reads every label)."""
        self._version = label_version(self._project)
        return self._version

    def labels_changed(self) -> bool:
        """Whether a label, mask or class event was written since the digest (cheap)."""
        return last_event_id(self._project) != self.version.event_id

    def is_stale(self, run: Run) -> bool:
        return run.id in self.stale_ids([run])

    def stale_ids(self, runs: Iterable[Run]) -> set[int]:
        """The ids of the finished or running ``runs`` whose labels changed since their
        snapshot. Computes the digest again only for a run newer than the last digest
        (whose snapshot may be newer than it); otherwise costs one index lookup."""
        candidates = [r for r in runs if r.status in (RunStatus.DONE, RunStatus.RUNNING) and uses_labels(r)]
        if not candidates:
            return set()
        if self._version is None or max(r.id for r in candidates) > self._version.run_id:
            self.refresh()
        if self.labels_changed():
            return {r.id for r in candidates}
        return {r.id for r in candidates if r.label_snapshot["digest"] != self.version.digest}
