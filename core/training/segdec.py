"""The seg-dec defect detector (paper 002) trained from whatever mix of labels exists.

Every class of kind ``defect`` counts as "defective", OK classes as "OK". OK images count
as masked (an empty mask); defective images teach the segmentation only when they have
a mask with defect pixels. The detector looks at the images at one working scale per
project, aspect ratios kept (:mod:`core.training.segdec_geometry`); labeled images are
kept decoded at that scale (:mod:`core.training.segdec_pixels`).

A retrain continues from the last detector's weights when it used the same network at a
similar scale (a full retrain on request), and trains until the validation AP stops improving
or its time budget is spent. A stratified fifth of the labeled images (when there are
enough; masked images stay in training where possible) is held out: it picks the best
epoch, the decision threshold (best F1, or a target recall) and gives AP, AUROC, F1 and
the FP / FN lists. A run stores every image's defect probability (``predictions``) and
heat map (:mod:`core.training.heatmaps`), ``validation.json`` and ``worth_a_mask.json``
(:mod:`core.active.worth_a_mask`).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Generator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from core.active.worth_a_mask import WORTH_A_MASK, worth_a_mask
from core.jobs.base import Eta, JobCancelled, Progress
from core.jobs.curves import CurveLog, logged, save_curves
from core.jobs.runs import RunRecorder, load_checkpoint
from core.jobs.snapshot import LabelSnapshot, take_snapshot
from core.store import ClassKind, Project, Run, RunKind, StoreError
from core.training.heatmaps import load_heatmap, upsample_heatmap
from core.training.segdec_geometry import Geometry, choose_geometry, largest_defect
from core.training.segdec_pixels import WorkingImages, working_images
from core.training.segdec_predict import predict_in_order, prediction_plan, stream_predictions
from core.training.segdec_results import (
    VALIDATION,
    load_validation_scores,
    set_threshold,
    validation_figures,
)

__all__ = ["DefectLabels", "SegDecRequest", "SegDecResult", "can_train", "defect_labels",
           "detector_advice", "load_heatmap", "load_validation_scores",
           "segdec_job", "set_threshold", "upsample_heatmap", "validation_figures"]

MIN_PER_CLASS = 6  # labeled OK and defective images each before any is held out for validation
WARM_SCALES = 1.5  # a retrain continues the last detector's weights if its scale differs by at most this factor


@dataclass(frozen=True)
class SegDecRequest:
    """What to train; the defaults are the CPU settings measured by benchmarks/segdec_bench.py."""

    project_root: Path
    scale: float | None = None  # working scale; None: chosen from the image sizes and the masks
    width: str = "narrow"  # "narrow" (CPU default) or "full" (paper 002)
    mode: str = "joint"  # "joint" (the app's) or "mixed" (paper 002's θ decay and gradient stop)
    minutes: float = 4.5  # time budget of a retrain from scratch: training, validation, predicting every image
    warm_minutes: float = 1.75  # ... of a retrain that continues from the last detector
    max_epochs: int = 40
    warm_start: bool = True  # continue from the last detector when it used the same scale and network
    validation_fraction: float = 0.2
    target_recall: float | None = None  # None: the best-F1 threshold
    seed: int = 0
    workers: int | None = None
    device: str = "auto"  # "auto" (CUDA when there is one, else the CPU), "cpu" or "cuda"
    threads: int | None = None  # torch threads; None: every core
    train: dict = field(default_factory=dict)  # models.segdec.TrainConfig overrides (crop, lr, seg_weight, ...)
    priority_ids: tuple[int, ...] = ()  # predicted and stored first (the grid's view); none: import order

    def config(self) -> dict:
        data = asdict(self)
        for key in ("project_root", "workers", "device", "threads"):
            data.pop(key)
        data.pop("priority_ids")  # where the grid was scrolled changes no result
        return data


@dataclass(frozen=True)
class SegDecResult:
    run: Run | None
    cancelled: bool
    seconds: float
    metrics: dict


@dataclass(frozen=True)
class DefectLabels:
    """What the snapshot says about defects: image ids, 1 = defective, whether pixels are known."""

    ids: np.ndarray
    labels: np.ndarray
    has_mask: np.ndarray

    @property
    def trainable(self) -> bool:
        return bool(np.any(self.labels == 1) and np.any(self.labels == 0))


def defect_labels(project: Project, snapshot: LabelSnapshot) -> DefectLabels:
    """Defective / OK for every labeled image (OK classes -> 0, defect classes -> 1);
    ``has_mask`` for OK images and defective images with a mask that has defect pixels."""
    ok = snapshot.ok_class_ids()
    in_snapshot = set(snapshot.masks)
    masks = {i: info for i, info in project.masks.all().items() if i in in_snapshot}
    rows = []
    for image_id, class_id in snapshot.labels:
        defective = class_id not in ok
        info = masks.get(image_id)
        rows.append((image_id, int(defective), (not defective) or (info is not None and info.pixels > 0)))
    if not rows:
        return DefectLabels(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, bool))
    table = np.array(rows, dtype=np.int64)
    return DefectLabels(table[:, 0], table[:, 1], table[:, 2].astype(bool))


def can_train(snapshot: LabelSnapshot) -> bool:
    """Whether the labels have OK and defect images (what the seg-dec net needs)."""
    return {ClassKind.OK, ClassKind.DEFECT} <= snapshot.labeled_kinds()


def detector_advice(defective: int, ok: int, masks: int) -> str | None:
    """What to label next for a better detector, in words; None when nothing is short."""
    short = [f"{MIN_PER_CLASS - n} more {what}" for n, what in ((defective, "defective"), (ok, "OK"))
             if n < MIN_PER_CLASS]
    if short:
        return (f"too few labels to check the detector on held-out images: label {' and '.join(short)}"
                " images; until then its probabilities are unvalidated")
    if defective < 20:
        return (f"only {defective} defective images labeled: each one more helps, and a mask on a few of"
                " them helps most (Worth a mask lists the ones that teach it most)")
    if masks == 0:
        return "no masks yet: masks on 5-20 defective images (Worth a mask) sharpen the heat maps and the decision"
    return None


def segdec_job(request: SegDecRequest, cancel: threading.Event | None = None, *,
               snapshot: LabelSnapshot | None = None) -> Generator[Progress, None, SegDecResult]:
    """Trains the seg-dec net on the labels of ``snapshot`` (None: the current ones) and
    stores predictions and heat maps."""
    import torch

    from core.jobs.device import describe_device, resolve_device

    device = resolve_device(request.device)
    started = time.perf_counter()
    # more threads than free cores makes OpenMP spin: 2 jobs x 2 threads on 2 cores ran 5x slower
    torch.set_num_threads(request.threads or max(1, os.cpu_count() or 1))
    with Project.open(request.project_root) as project:
        snapshot = snapshot or take_snapshot(project)
        known = defect_labels(project, snapshot)
        if not known.trainable:
            raise StoreError("label OK images and defective images before training the defect detector")
        full_masks = {int(i): project.masks.load(int(i)) for i in known.ids[known.has_mask & (known.labels == 1)]}
        geometry = _geometry(project, full_masks, int(np.sum(known.labels == 1)), request.scale)
        yield Progress(phase="defect detector", step=0, total=0,
                       message=f"{geometry.describe()} · on {describe_device(device)}")
        try:
            store = yield from working_images(project, known.ids, geometry.scale, workers=request.workers,
                                              cancel=cancel)
        except JobCancelled:
            return SegDecResult(run=None, cancelled=True, seconds=time.perf_counter() - started, metrics={})
        readable = np.array([int(i) in store.entries for i in known.ids], bool)
        ids, labels, has_mask = known.ids[readable], known.labels[readable], known.has_mask[readable]
        masks = [_working_mask(full_masks.get(int(i)), store, int(i)) for i in ids]
        val = _validation_split(labels, has_mask, request.validation_fraction, request.seed)
        net, previous = _network(project, request, geometry)
        reserve = _prediction_seconds(net, project, store, ids, geometry, device)
        train_config = _train_config(request, warm=previous is not None,
                                     spent=time.perf_counter() - started + reserve)
        config = {**request.config(), "train": train_config.to_dict(), "net": net.config.to_dict(),
                  "geometry": geometry.to_dict(), "warm_from": None if previous is None else previous.id,
                  "device": device}  # not in request.config(): a warm start may continue on another device
        data = _train_data(store, ids, labels, masks, has_mask, val)
        with RunRecorder(project, method=RunKind.SEGDEC.method(), config=config, snapshot=snapshot,
                         seed=request.seed) as recorder:
            curves = CurveLog()
            summary = yield from logged(_train(net, data, train_config, cancel, device, warm=previous is not None),
                                        curves)
            save_curves(recorder, curves)
            metrics = {"labeled": int(len(ids)), "defective": int(labels.sum()), "ok": int((labels == 0).sum()),
                       "masks": int(np.sum(has_mask & (labels == 1))), "geometry": geometry.to_dict(),
                       "warm_from": config["warm_from"], "prediction_reserve_s": round(reserve, 1), **summary,
                       "advice": detector_advice(int(labels.sum()), int((labels == 0).sum()),
                                                 int(np.sum(has_mask & (labels == 1))))}

            def finish(probability: dict[int, float]) -> Run:
                """Validation, threshold and checkpoint from the held-out images' predictions;
                the run finishes and its other predictions stream in after."""
                threshold = 0.5
                if np.any(val):
                    scores = {"ids": ids[val].tolist(), "truth": labels[val].tolist(),
                              "probability": [round(float(probability[int(i)]), 6) for i in ids[val]]}
                    metrics["validation"] = validation_figures(scores, request.target_recall)
                    recorder.write_json(VALIDATION, scores)
                    threshold = metrics["validation"]["threshold"]
                metrics["threshold"] = threshold
                recorder.save_checkpoint({k: v.cpu() for k, v in net.state_dict().items()}, config={
                    "net": net.config.to_dict(), "scale": geometry.scale, "geometry": geometry.to_dict(),
                    "threshold": threshold, "mode": train_config.mode})
                metrics["seconds"] = time.perf_counter() - started
                return recorder.finish(metrics=metrics, streaming=True)

            def heat_kept(probability: dict[int, float], heat: dict[int, np.ndarray]) -> None:
                recorder.write_final_json(WORTH_A_MASK, worth_a_mask(heat, probability, ids, labels, has_mask))

            order, first = prediction_plan(project, request.priority_ids, ids, ids[val])
            net.eval()
            yield from stream_predictions(
                predict_in_order(net, project, store, geometry, order, device), project, recorder, total=len(order),
                first=first, finish=finish, heat_kept=heat_kept, cancel=cancel,
                keep_heat={int(i) for i in ids[(labels == 1) & ~has_mask]})
            run = recorder.end_streaming()
            return SegDecResult(run=run, cancelled=False, seconds=time.perf_counter() - started, metrics=run.metrics)
        if recorder.finished:  # cancelled while storing predictions: the run keeps those it stored
            run = project.runs.get(recorder.run.id)
            return SegDecResult(run=run, cancelled=True, seconds=time.perf_counter() - started, metrics=run.metrics)
    return SegDecResult(run=None, cancelled=True, seconds=time.perf_counter() - started, metrics={})


def _geometry(project: Project, full_masks: dict[int, np.ndarray | None], defective: int,
              scale: float | None) -> Geometry:
    sizes = project.images.sizes()
    extents = [e for e in (largest_defect(m) for m in full_masks.values() if m is not None) if e is not None]
    return choose_geometry(sizes, extents, defective=defective, scale=scale)


def _working_mask(mask: np.ndarray | None, store: WorkingImages, image_id: int) -> np.ndarray | None:
    """The defect pixels of a mask at the working size; bilinear with a low cut keeps
    one-pixel cracks that nearest-neighbour would drop."""
    if mask is None or not mask.any():
        return None
    _, height, width = store.entries[image_id]
    if mask.shape == (height, width):
        return mask > 0
    from PIL import Image as PILImage

    image = PILImage.fromarray(((mask > 0) * 255).astype(np.uint8))
    return np.asarray(image.resize((width, height), PILImage.Resampling.BILINEAR)) >= 64


def _validation_split(labels: np.ndarray, has_mask: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A held-out set of about ``fraction`` of the OK and of the defective images, or none
    when a side has fewer than MIN_PER_CLASS images or would give fewer than 2. Defective
    images without masks are held out first: the few masks stay in training."""
    val = np.zeros(len(labels), bool)
    if fraction <= 0:
        return val
    rng = np.random.default_rng(seed)
    for value in (0, 1):
        count = int(np.sum(labels == value))
        if count < MIN_PER_CLASS or count * fraction < 2:
            return val
    for value in (0, 1):
        members = np.flatnonzero(labels == value)
        take = int(round(len(members) * fraction))
        members = rng.permutation(members)
        if value == 1:
            members = members[np.argsort(has_mask[members], kind="stable")]  # unmasked first
        val[members[:take]] = True
    return val


def _network(project: Project, request: SegDecRequest, geometry: Geometry):
    """The net to train and the run it continues from (None: a fresh one)."""
    from models.segdec import SegDecConfig, SegDecNet

    config = SegDecConfig.named(request.width)
    previous = project.runs.latest(RunKind.SEGDEC) if request.warm_start else None
    if previous is not None and previous.checkpoint:
        try:
            checkpoint = load_checkpoint(project, previous)
            stored = checkpoint["config"]
            near = stored.get("scale") and 1 / WARM_SCALES <= geometry.scale / stored["scale"] <= WARM_SCALES
            if near and SegDecConfig.from_dict(stored["net"]) == config and stored.get("mode", "joint") == request.mode:
                net = SegDecNet(config)
                net.load_state_dict(checkpoint["state_dict"])
                return net, previous
        except (OSError, KeyError, RuntimeError, TypeError, ValueError):
            pass  # an older or damaged checkpoint: start afresh
    net = SegDecNet(config)
    return net, None


def _train_config(request: SegDecRequest, warm: bool, spent: float = 0.0):
    """Training settings; the time budget is what is left of the retrain's minutes once
    ``spent`` (reading the images, and the time set aside for predicting every image) is
    taken off, and never less than :data:`MIN_TRAIN_SHARE` of them."""
    from models.segdec import TrainConfig

    minutes = request.warm_minutes if warm else request.minutes
    budget = None if minutes is None else max(60.0 * minutes * MIN_TRAIN_SHARE, 60.0 * minutes - spent)
    base = {"mode": request.mode, "max_epochs": request.max_epochs, "seed": request.seed,
            "time_budget_s": budget}
    return TrainConfig(**{**base, **request.train})


def _train_data(store: WorkingImages, ids, labels, masks, has_mask, val):
    from models.segdec import TrainData

    images = [store.image(int(i)) for i in ids]
    pick = np.flatnonzero(~val)
    held = np.flatnonzero(val)
    return TrainData(images=[images[k] for k in pick], labels=labels[pick], masks=[masks[k] for k in pick],
                     has_mask=has_mask[pick], val_images=[images[k] for k in held], val_labels=labels[held])


MIN_TRAIN_SHARE = 0.4  # of a retrain's minutes, training gets at least this much
PREDICTION_OVERHEAD = 1.5  # reading the files and writing heat maps, over the forward passes

STOPPED = {"converged": "stopped when the validation AP stopped improving",
           "time_budget": "stopped at its time budget", "max_epochs": "ran its maximum number of epochs"}


def _train(net, data, config, cancel: threading.Event | None, device: str = "cpu", warm: bool = False):
    from core.jobs.device import describe_device
    from models.segdec import TrainCancelled, train

    where = describe_device(device)
    eta = Eta()
    job = train(net, data, config, cancel=cancel.is_set if cancel else None, device=device, warm=warm)
    budget = config.time_budget_s
    epoch, into, done = -1, 0, 0.0  # the epoch in progress, its steps so far (epochs differ in steps), epochs done
    try:
        while True:
            stats = next(job)
            if stats.losses:
                epoch, into = stats.epoch, (into + 1 if stats.epoch == epoch else 1)
                done = stats.epoch + min(1.0, into / max(1, stats.steps_per_epoch))
            metrics = {} if stats.theta is None else {"θ (segmentation weight)": stats.theta}
            if stats.validation_ap is not None:
                metrics["validation AP"] = stats.validation_ap
            # whichever ends it first, the time budget or the epochs (it may stop earlier still,
            # when the validation AP stops improving)
            fraction = stats.step / max(1, config.max_epochs * stats.steps_per_epoch) if stats.steps_per_epoch else 0.0
            if budget:
                fraction = max(fraction, stats.elapsed_s / budget)
            yield Progress(phase="defect detector", step=min(999, round(1000 * fraction)), total=1000,
                           losses=stats.losses, metrics=metrics, eta_s=eta(min(fraction, 0.999)),
                           epoch=done,  # a validation score: where its (possibly cut short) epoch ended
                           message=f"defect detector on {where} · epoch {stats.epoch + 1} · {doing_text(stats)}")
    except StopIteration as stop:
        summary = stop.value
        summary["stopped_because"] = STOPPED[summary["stopped"]]
        return summary
    except TrainCancelled as exc:
        raise JobCancelled(str(exc)) from exc


def doing_text(stats) -> str:
    """What the step did: its training speed, or scoring the held-out images (a validation
    step, which trains nothing and has no speed to show)."""
    if stats.validation_ap is not None and not stats.losses:
        return "scoring the held-out images"
    return f"{stats.images_per_s:.0f} images/s"


def _prediction_seconds(net, project: Project, store: WorkingImages, ids: np.ndarray, geometry: Geometry,
                        device: str = "cpu") -> float:
    """The seconds predicting every image of the project will take after training: the
    net's forward time per working pixel, timed on a few labeled images, times the
    working pixels of all images, with room for reading the files and writing heat maps."""
    from models.segdec import predict_images

    sample = [store.image(int(i)) for i in ids[:: max(1, len(ids) // 8)][:8]]
    if not sample:
        return 0.0
    net.to(device).eval()
    try:
        list(predict_images(net, sample[:1], device=device))  # the first pass allocates
        began = time.perf_counter()
        list(predict_images(net, sample, device=device))
        per_pixel = (time.perf_counter() - began) / sum(image.size for image in sample)
    finally:
        net.cpu()
    sizes = project.images.sizes().astype(np.float64)
    pixels = float(np.sum(sizes[:, 0] * sizes[:, 1])) * geometry.scale ** 2
    return PREDICTION_OVERHEAD * per_pixel * pixels
