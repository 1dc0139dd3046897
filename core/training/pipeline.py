"""Retrain with current labels: pretrain when the images changed, then the classifier."""

from __future__ import annotations

import threading
from collections.abc import Generator
from dataclasses import dataclass

from core.jobs.base import Progress
from core.store import Project
from core.training.classify import ClassifyRequest, ClassifyResult, classify_job, latest_pretrain_run
from core.training.pretrain import PretrainRequest, PretrainResult, pretrain_job


@dataclass(frozen=True)
class RetrainResult:
    pretrain: PretrainResult | None  # None: the existing encoder was reused
    classify: ClassifyResult | None  # None: fewer than two classes labeled, or cancelled before
    cancelled: bool

    @property
    def run(self):
        """The last run this retrain produced (for messages)."""
        for part in (self.classify, self.pretrain):
            if part is not None and part.run is not None:
                return part.run
        return None

    @property
    def seconds(self) -> float:
        return sum(p.seconds for p in (self.pretrain, self.classify) if p is not None)


def retrain_job(pretrain: PretrainRequest, classify: ClassifyRequest, cancel: threading.Event | None = None, *,
                pretrain_again: bool = False) -> Generator[Progress, None, RetrainResult]:
    """Pretrains only when no finished encoder covers the images (or none exists, or
    ``pretrain_again``), then trains the classifier when at least two classes have labels."""
    with Project.open(pretrain.project_root) as project:
        reuse = not pretrain_again and latest_pretrain_run(project) is not None
        labeled_classes = int(project.db.scalar("SELECT COUNT(DISTINCT class_id) FROM labels"))
    pretrained = None
    if not reuse:
        pretrained = yield from pretrain_job(pretrain, cancel)
        if pretrained.cancelled:
            return RetrainResult(pretrain=pretrained, classify=None, cancelled=True)
    if labeled_classes < 2:
        return RetrainResult(pretrain=pretrained, classify=None, cancelled=False)
    classified = yield from classify_job(classify, cancel)
    return RetrainResult(pretrain=pretrained, classify=classified, cancelled=classified.cancelled)
