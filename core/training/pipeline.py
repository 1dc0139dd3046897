"""Retrain with current labels: pretrain when there is no encoder yet (or the user asks for
a new one), else embed the images the encoder has not seen with it; then the classifier,
then the defect detector, then fresh suggestions of what to label next."""

from __future__ import annotations

import threading
from collections.abc import Generator
from dataclasses import dataclass

from core.active.suggest import SuggestRequest, suggest_job
from core.jobs.base import Progress
from core.jobs.snapshot import take_snapshot
from core.jobs.stages import StagedProgress
from core.store import Project
from core.training.classify import ClassifyRequest, ClassifyResult, classify_job, latest_pretrain_run
from core.training.embed_new import (
    EmbedNewRequest,
    EmbedNewResult,
    embed_new_images_job,
    extendable_run,
    missing_images,
)
from core.training.plan import retrain_stages
from core.training.pretrain import PretrainRequest, PretrainResult, pretrain_job
from core.training.segdec import SegDecRequest, SegDecResult, can_train, segdec_job


@dataclass(frozen=True)
class RetrainResult:
    pretrain: PretrainResult | None  # None: the existing encoder was reused
    classify: ClassifyResult | None  # None: fewer than two classes labeled, or cancelled before
    cancelled: bool
    segdec: SegDecResult | None = None  # None: no OK and defect labels, switched off, or cancelled before
    suggestions: int = 0  # label suggestions stored at the end (0: switched off, cancelled or none left)
    embedded: EmbedNewResult | None = None  # the new images placed with the existing encoder (None: none new)

    @property
    def run(self):
        """The classifier run, else the last run this retrain produced (for messages)."""
        for part in (self.classify, self.segdec, self.pretrain, self.embedded):
            if part is not None and part.run is not None:
                return part.run
        return None

    @property
    def seconds(self) -> float:
        return sum(p.seconds for p in (self.pretrain, self.embedded, self.classify, self.segdec) if p is not None)


def retrain_job(pretrain: PretrainRequest, classify: ClassifyRequest, cancel: threading.Event | None = None, *,
                pretrain_again: bool = False, segdec: SegDecRequest | None = None,
                suggest: SuggestRequest | bool = True) -> Generator[Progress, None, RetrainResult]:
    """Pretrains only when no encoder exists or ``pretrain_again``; when no encoder covers
    every image, embeds those the newest one lacks with it instead
    (:mod:`core.training.embed_new`). Trains the classifier when at least two classes have
    labels, and the defect detector (``segdec``; None: not at all) when OK and defect labels exist.
    Then stores fresh suggestions (``suggest``: True = the default schedule, a request
    for another strategy, False = keep the old ones).

    Every phase trains on one label snapshot taken here: a label written during the
    retrain reaches none of its models (it marks their runs stale). The parts that will
    run are known here, each with an estimate of its duration (:mod:`core.training.plan`):
    every record carries the progress and the time left of the whole retrain and the part
    it is in (:class:`~core.jobs.stages.StagedProgress`); the last one is 100 %."""
    with Project.open(pretrain.project_root) as project:
        snapshot = take_snapshot(project)
        covering = None if pretrain_again else latest_pretrain_run(project)
        encoder = None if pretrain_again or covering is not None else extendable_run(project)
        added = 0 if encoder is None else len(missing_images(project, encoder))
        reuse = covering is not None or encoder is not None
        labeled_classes = len(snapshot.labeled_class_ids())
        detect = segdec is not None and can_train(snapshot)
        embed = EmbedNewRequest(project_root=pretrain.project_root, workers=pretrain.workers,
                                threads=pretrain.threads, device=pretrain.device)
        plan = retrain_stages(project, snapshot, pretrain=None if reuse else pretrain,
                              embed=embed if added else None, added=added,
                              classify=classify if labeled_classes >= 2 else None,
                              segdec=segdec if detect else None, suggest=suggest is not False)
    staged = StagedProgress(list(plan.values()))
    index = {part: k for k, part in enumerate(plan)}
    pretrained = None
    if not reuse:
        pretrained = yield from staged.run(index["pretrain"], pretrain_job(pretrain, cancel, snapshot=snapshot))
        if pretrained.cancelled:
            return RetrainResult(pretrain=pretrained, classify=None, cancelled=True)
    embedded = None
    if "embed" in index:
        embedded = yield from staged.run(index["embed"], embed_new_images_job(embed, cancel, snapshot=snapshot))
        if embedded.cancelled:
            return RetrainResult(pretrain=None, classify=None, cancelled=True, embedded=embedded)
    classified = None
    if "classify" in index:
        classified = yield from staged.run(index["classify"], classify_job(classify, cancel, snapshot=snapshot))
        if classified.cancelled:
            return RetrainResult(pretrain=pretrained, classify=classified, cancelled=True, embedded=embedded)
    detected = None
    if detect:
        detected = yield from staged.run(index["segdec"], segdec_job(segdec, cancel, snapshot=snapshot))
        if detected.cancelled:
            return RetrainResult(pretrain=pretrained, classify=classified, segdec=detected, cancelled=True,
                                 embedded=embedded)
    stored = 0
    if "suggest" in index and not (cancel is not None and cancel.is_set()):
        request = SuggestRequest(project_root=pretrain.project_root) if suggest is True else suggest
        stored = len((yield from staged.run(index["suggest"], suggest_job(request, cancel))))
    yield staged.done()
    return RetrainResult(pretrain=pretrained, classify=classified, segdec=detected, cancelled=False,
                         suggestions=stored, embedded=embedded)
