"""Starting a mask-proposer run from the window: the dialog filled from the project (its
label counts, an interrupted training to resume, whether the defect detector's calls can
widen the scope) and the job it asks for.

The job is :func:`core.proposals.proposer_job` in a :class:`JobCall`: the training
controller runs it in the training process like a retrain, so the panel shows its
progress, time left, curves and preview strip, and Cancel stops it (keeping a checkpoint
that the next run of the same settings resumes from). The method and preset chosen are
remembered (QSettings); ``training/proposer_overrides``, a JSON object of
:class:`core.proposals.ProposerRequest` fields, overrides the request (tiny runs in tests,
or more threads).
"""

from __future__ import annotations

import datetime as dt
import json
import logging

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QWidget

from core.jobs.worker import JobCall, worker_threads
from core.proposals.request import METHODS, PRESETS
from core.store import Project, RunKind
from labelapp.training.proposer_dialog import ProposerChoice, ProposerDialog
from labelapp.training.wording import when

logger = logging.getLogger(__name__)
METHOD_KEY, PRESET_KEY = "training/proposer_method", "training/proposer_preset"
OVERRIDES_KEY = "training/proposer_overrides"
ALLOWED_OVERRIDES = ("steps", "train", "net", "scale", "seed", "threads", "workers", "device", "preview_every_s",
                     "checkpoint_every_s", "calibration_fraction", "coreset_share")


def label_counts(project: Project) -> tuple[int, int]:
    """(OK, defective) labeled images: an image of an OK class is OK, of any other defective
    (as :func:`core.training.segdec.defect_labels` counts them)."""
    ok_classes = {c.id for c in project.classes.list() if c.is_ok}
    labels = project.labels.class_by_image()
    ok = sum(1 for class_id in labels.values() if class_id in ok_classes)
    return ok, len(labels) - ok


def interrupted(project: Project) -> dict[str, str]:
    """Method -> "stopped today 18:09" for each GAN whose training left a resume checkpoint
    (:func:`core.training.isugan.resume_file`; the newest one when there are several)."""
    folder = project.cache_dir / "proposer"
    found: dict[str, float] = {}
    for method in METHODS:
        for path in folder.glob(f"{method}-*.pt"):
            try:
                found[method] = max(found.get(method, 0.0), path.stat().st_mtime)
            except OSError:
                continue
    return {method: "stopped " + when(dt.datetime.fromtimestamp(stamp).astimezone().isoformat())
            for method, stamp in found.items()}


def detector_note(project: Project) -> str:
    """Why the defect detector cannot add unlabeled images to the scope ("" when it can)."""
    from core.training.trust import detector_trust

    trust = detector_trust(project.runs.latest(RunKind.SEGDEC))
    return "" if trust.threshold is not None else trust.why


def proposer_dialog(project: Project, settings: QSettings, parent: QWidget | None = None) -> ProposerDialog:
    """The dialog for ``project``, with the method and preset chosen last time."""
    ok, defective = label_counts(project)
    method, preset = settings.value(METHOD_KEY, "isugan", type=str), settings.value(PRESET_KEY, "quick", type=str)
    return ProposerDialog(ok, defective, resumable=interrupted(project), detector_note=detector_note(project),
                          method=method if method in METHODS else "isugan",
                          preset=preset if preset in PRESETS else "quick", parent=parent)


def overrides(settings: QSettings) -> dict:
    """The request fields ``training/proposer_overrides`` sets (unknown ones are ignored, with a warning)."""
    raw = settings.value(OVERRIDES_KEY)
    if not raw:
        return {}
    try:
        values = json.loads(str(raw))
    except ValueError:
        logger.warning("ignoring unreadable setting %s=%r", OVERRIDES_KEY, raw)
        return {}
    if not isinstance(values, dict):
        return {}
    unknown = sorted(set(values) - set(ALLOWED_OVERRIDES))
    if unknown:
        logger.warning("ignoring unknown proposer settings %s", ", ".join(unknown))
    return {k: v for k, v in values.items() if k in ALLOWED_OVERRIDES}


def proposer_call(settings: QSettings, project: Project, choice: ProposerChoice) -> JobCall:
    """The proposer run ``choice`` asks for, to run in the training process; the method and
    preset are remembered for the next time."""
    from core.proposals import ProposerRequest, proposer_job

    settings.setValue(METHOD_KEY, choice.method)
    settings.setValue(PRESET_KEY, choice.preset)
    request = ProposerRequest(project_root=project.root, method=choice.method, preset=choice.preset,
                              scope=choice.scope, resume=choice.resume,
                              **{"threads": worker_threads(), **overrides(settings)})  # a core left to the window
    return JobCall(proposer_job, (request,))
