"""A retrain's requests, built from the user's training settings (QSettings).

The requests are the immutable snapshot the training process gets (:class:`JobCall`):
nothing here runs a job.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QSettings

from core.jobs.worker import JobCall
from core.store import Project

logger = logging.getLogger(__name__)
# Per-user training settings (QSettings keys) and their defaults.
DEFAULTS = {"training/ssl": "simclr", "training/encoder": "shufflenet", "training/size": 96,
            "training/epochs": 20, "training/thorough": False,
            "training/finetune_steps": 120, "training/segdec": True}
TARGET_RECALL_KEY = "training/target_recall"  # absent: the best-F1 threshold
# Optional overrides of the defect detector's request (absent: core's defaults), with their types.
SEGDEC_OVERRIDES = {"training/segdec_scale": ("scale", float), "training/segdec_max_epochs": ("max_epochs", int),
                    "training/segdec_minutes": ("minutes", float)}


def setting(settings: QSettings, key: str) -> object:
    """The value of a key of :data:`DEFAULTS`, its default when unset."""
    default = DEFAULTS[key]
    return settings.value(key, default, type=type(default))


def target_recall(settings: QSettings) -> float | None:
    """The target recall of the defect detector's threshold (None: best F1)."""
    raw = settings.value(TARGET_RECALL_KEY)
    try:
        value = float(raw) if raw not in (None, "") else None
    except (TypeError, ValueError):
        logger.warning("ignoring unreadable setting %s=%r", TARGET_RECALL_KEY, raw)
        return None
    return value if value is not None and 0.0 < value <= 1.0 else None


def segdec_request(settings: QSettings, project: Project, *, enabled: bool, from_scratch: bool = False,
                   priority_ids: tuple[int, ...] = ()):
    """The defect detector's request, or None when it is not ``enabled``; it continues
    from the last detector unless ``from_scratch``."""
    if not enabled:
        return None
    from core.training import SegDecRequest

    overrides = {field: kind(settings.value(key)) for key, (field, kind) in SEGDEC_OVERRIDES.items()
                 if settings.contains(key)}
    return SegDecRequest(project_root=project.root, target_recall=target_recall(settings), warm_start=not from_scratch,
                         priority_ids=priority_ids, **overrides)


def retrain_call(settings: QSettings, project: Project, *, thorough: bool, segdec, strategy: str,
                 priority_ids: tuple[int, ...], pretrain_again: bool = False) -> JobCall:
    """The retrain to run in the training process: pretraining (when needed), the classifier
    (``thorough``: fine-tuning the encoder first), ``segdec`` (None: no detector), then
    suggestions by ``strategy``; ``priority_ids`` are predicted first."""
    from core.active import SuggestRequest
    from core.training import ClassifyRequest, PretrainRequest, retrain_job

    pretrain = PretrainRequest(
        project_root=project.root, method=str(setting(settings, "training/ssl")),
        encoder=str(setting(settings, "training/encoder")), size=int(setting(settings, "training/size")),
        epochs=int(setting(settings, "training/epochs")),  # the batch: the device's unless the user set one
        batch_size=int(settings.value("training/batch_size")) if settings.contains("training/batch_size") else None)
    classify = ClassifyRequest(project_root=project.root, priority_ids=priority_ids,
                               finetune_steps=int(setting(settings, "training/finetune_steps")) if thorough else 0)
    suggest = SuggestRequest(project_root=project.root, strategy=strategy)
    return JobCall(retrain_job, (pretrain, classify), {"pretrain_again": pretrain_again, "segdec": segdec,
                                                       "suggest": suggest})
