"""Which runs are stale: trained on labels that have changed since their snapshot.

A run records the digest of the :class:`~core.jobs.snapshot.LabelSnapshot` it trained
on. The exact test compares it with the digest of the current labels, but that reads
every label (about 0.1 s for 100,000 labels), too slow for every label key. Every
label, mask and class change appends an event, so the newest event id is a change
counter that costs microseconds: :class:`StaleCheck` computes the digest once, and
afterwards only asks whether the event log has grown since.

The counter errs on the safe side: labels changed and then changed back read as
stale until the next :meth:`StaleCheck.refresh` computes the digest again.

The digest reads every label, so the GUI computes it off its thread: :func:`read_history`
opens its own connection and returns the runs, the label version and the curves of the
newest run that saved some; :meth:`StaleCheck.adopt` takes the version in on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.jobs.curves import CurveLog, load_curves
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

    def adopt(self, version: LabelVersion) -> None:
        """Takes ``version`` (computed on another connection, :func:`read_history`) as the
        digest, unless the one it has is newer."""
        if self._version is None or (version.event_id, version.run_id) >= (self._version.event_id,
                                                                           self._version.run_id):
            self._version = version

    def needs_digest(self, runs: Iterable[Run]) -> bool:
        """Whether :meth:`stale_ids` would compute the digest again for ``runs`` (a run newer
        than the last digest); otherwise it costs one index lookup."""
        candidates = [r.id for r in runs if r.status in (RunStatus.DONE, RunStatus.RUNNING) and uses_labels(r)]
        return bool(candidates) and (self._version is None or max(candidates) > self._version.run_id)

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


@dataclass(frozen=True)
class RunHistory:
    """What the training panel shows of a project's runs (:func:`read_history`).

    Attributes:
        runs: every run, oldest first.
        version: the label digest, with the event and run ids it belongs to.
        stale: the ids of the stale runs among ``runs``.
        curves: the training curves of the newest finished run that saved some (None: none did).
        curves_run: that run.
    """

    runs: tuple[Run, ...]
    version: LabelVersion
    stale: frozenset[int]
    curves: CurveLog | None = None
    curves_run: Run | None = None


CURVES_LOOKBACK = 4  # the newest runs whose curves are looked for


def read_history(root: Path, *, curves: bool = True) -> RunHistory:
    """Reads the runs of the project at ``root`` and which are stale, on a connection of
    its own (any thread); with ``curves``, those of the newest run that saved some."""
    with Project.open(root) as project:
        version = label_version(project)
        runs = project.runs.list()
        check = StaleCheck(project)
        check.adopt(version)
        stale = frozenset(check.stale_ids(runs))
        found, found_run = None, None
        if curves:
            for run in [r for r in reversed(runs) if r.status is RunStatus.DONE][:CURVES_LOOKBACK]:
                found = load_curves(project, run)
                if found is not None:
                    found_run = run
                    break
    return RunHistory(runs=tuple(runs), version=version, stale=stale, curves=found, curves_run=found_run)
