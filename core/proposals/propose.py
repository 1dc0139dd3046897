"""The proposing stage shared by every proposer: calibrate the rule on labeled images,
then store a difference map, a repair and a row for every image in scope.

A proposer is a :data:`Mapper`: a working-scale uint8 image in, its difference map
(float32 in [0, 1], same size) and its repair (uint8, or None) out.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import numpy as np

from core.jobs.base import Progress, check_cancel
from core.proposals.data import ProposerData
from core.proposals.masks import ProposalRule, image_score, learn_floor
from core.proposals.request import ProposerRequest
from core.proposals.store import ProposalWriter, dequantize, quantize
from core.store import Project, RunKind
from core.training.detection import choose_threshold, detection_metrics
from core.training.segdec_pixels import stream_images

Mapper = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray | None]]
PHASE = "proposing masks"


def calibrate(mapper: Mapper, data: ProposerData, request: ProposerRequest, cancel: threading.Event | None = None,
              ) -> Generator[Progress, None, tuple[ProposalRule, dict, dict]]:
    """The rule (floor from the OK images' scores, best-F1 score threshold) from the
    calibration images; returns it, its figures, and the maps made on the way (by id)."""
    ok_ids, defect_ids = data.calibration_ids()
    ids = np.concatenate([ok_ids, defect_ids])
    truth = np.r_[np.zeros(len(ok_ids), np.int64), np.ones(len(defect_ids), np.int64)]
    made: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
    scores = np.zeros(len(ids))
    for k, image_id in enumerate(ids.tolist()):
        check_cancel(cancel)
        difference, repair = mapper(data.store.image(image_id))
        difference = dequantize(quantize(difference))  # score what will be stored
        made[image_id] = (difference, repair)
        scores[k] = image_score(difference, request.min_area_share)
        yield Progress(phase="calibrating proposals", step=k + 1, total=len(ids))
    floor = learn_floor(scores[truth == 0], request.floor_quantile)
    threshold = choose_threshold(truth, scores)
    figures = detection_metrics(truth, scores, ids, threshold)
    figures.pop("curve", None)
    figures.update({"held_out": data.held_out, "floor": floor,
                    "ok_scores": [round(float(s), 4) for s in scores[truth == 0]],
                    "defective_scores": [round(float(s), 4) for s in scores[truth == 1]]})
    rule = ProposalRule(floor=floor, min_area_share=request.min_area_share, score_threshold=threshold)
    return rule, figures, made


def scope_ids(project: Project, data: ProposerData, scope: str) -> tuple[list[int], str]:
    """The images to propose for, labeled defective ones first, and a note on the scope."""
    labeled = np.concatenate([data.defect_train, data.defect_calib, data.ok_calib])
    first = [int(i) for i in sorted(set(labeled.tolist()))]
    known = set(first)
    note = "the labeled defective images (and the held-out OK ones)"
    extra: list[int] = []
    if scope == "all":
        extra = [int(i) for i in project.images.ids().tolist() if int(i) not in known]
        note = "every image"
    elif scope == "predicted":
        extra, note = _predicted_defective(project, known)
    return first + extra, note


def _predicted_defective(project: Project, known: set[int]) -> tuple[list[int], str]:
    from core.training.trust import detector_trust

    run = project.runs.latest(RunKind.SEGDEC)
    trust = detector_trust(run)
    if run is None or trust.threshold is None:
        return [], f"the labeled defective images; no unlabeled ones: {trust.why}"
    labeled = set(project.labels.class_by_image())
    probability = project.predictions.defect_probabilities(run.id)
    extra = sorted(i for i, p in probability.items()
                   if p is not None and p >= trust.threshold and i not in labeled and i not in known)
    return extra, f"the labeled defective images and {len(extra)} unlabeled ones detector run {run.id} calls defective"


def store_proposals(project: Project, folder: Path, mapper: Mapper, data: ProposerData, request: ProposerRequest,
                    rule: ProposalRule, made: dict, meta: dict, cancel: threading.Event | None = None,
                    ) -> Generator[Progress, None, dict]:
    """Writes every in-scope image's proposal into ``folder``; returns a summary for the
    run's metrics."""
    ids, note = scope_ids(project, data, request.scope)
    sizes = dict(zip(project.images.ids().tolist(), map(tuple, project.images.sizes().tolist()), strict=True))
    writer = ProposalWriter(folder, rule, repairs=request.gan)
    unreadable: list[int] = []
    last = 0.0
    for k, (image_id, image) in enumerate(_images(project, ids, data)):
        check_cancel(cancel)
        if image is None:
            unreadable.append(image_id)
            continue
        difference, repair = made.pop(image_id) if image_id in made else mapper(image)
        writer.add(image_id, difference, sizes[image_id], repair)
        now = time.perf_counter()
        if now - last > 0.25 or k + 1 == len(ids):
            last = now
            yield Progress(phase=PHASE, step=k + 1, total=len(ids), message=f"proposing masks for {note}")
    writer.close(meta)
    rows = writer.rows
    proposed = sum(1 for r in rows if r.area_share > 0)
    return {"proposed_images": len(rows), "with_mask": proposed, "scope": request.scope, "scope_note": note,
            "unreadable": unreadable}


def _images(project: Project, ids: list[int], data: ProposerData) -> Iterator[tuple[int, np.ndarray | None]]:
    """(id, working image or None) in order; the labeled images come from the store, the
    others are decoded a chunk ahead."""
    todo = [i for i in ids if i not in data.store.entries]
    streamed = stream_images(project, todo, data.geometry.scale) if todo else iter(())
    for image_id in ids:
        if image_id in data.store.entries:
            yield image_id, data.store.image(image_id)
        else:
            got_id, image = next(streamed)
            assert got_id == image_id
            yield image_id, image
