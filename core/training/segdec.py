"""The seg-dec defect detector (paper 002) trained from whatever mix of labels exists.

Every class of kind ``defect`` counts as "defective", OK classes as "OK". OK images count
as masked (an empty mask); defective images teach the segmentation only when they have
a mask with defect pixels. A stratified fifth of the labeled images (when there are
enough) is held out for validation: it picks the best epoch, the decision threshold
(best F1, or a target recall) and gives AP, AUROC, F1 and the FP / FN lists.

A run stores, for every image: the defect probability (``predictions``), a heat map at
1/8 of the model input (``heatmaps.npy`` + ``heatmap_ids.npy`` in the run folder, uint8),
and writes ``validation.json`` (scores of the held-out images) and ``worth_a_mask.json``
(defective images whose mask would teach the model most, with reasons).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Generator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from core.jobs.base import Eta, JobCancelled, Progress, check_cancel
from core.jobs.runs import RunRecorder
from core.jobs.snapshot import LabelSnapshot, take_snapshot
from core.pixel_cache import PixelCache, build_pixel_cache
from core.store import Project, Run, RunStatus, StoreError
from core.training.detection import choose_threshold, detection_metrics

METHOD = "segdec"
HEATMAPS = "heatmaps.npy"
HEATMAP_IDS = "heatmap_ids.npy"
WORTH_A_MASK = "worth_a_mask.json"
VALIDATION = "validation.json"


@dataclass(frozen=True)
class SegDecRequest:
    """What to train; the defaults are the CPU setting measured by benchmarks/segdec_bench.py."""

    project_root: Path
    size: int = 128  # model input side (gray, squashed), a multiple of 8
    width: str = "narrow"  # "narrow" (CPU default) or "full" (paper 002)
    epochs: int = 15
    max_samples: int = 15_000  # cap on images seen in training (epochs x epoch size): large label sets get fewer epochs
    validation_fraction: float = 0.2
    target_recall: float | None = None  # None: the best-F1 threshold
    seed: int = 0
    workers: int | None = None
    device: str = "cpu"  # "cuda": benchmarks on a GPU (the app trains on the CPU)
    threads: int | None = None  # torch threads; None: every core
    train: dict = field(default_factory=dict)  # models.segdec.TrainConfig overrides (delta, schedule, seg_loss, ...)

    def config(self) -> dict:
        data = asdict(self)
        data.pop("project_root")
        data.pop("workers")
        data.pop("device")
        data.pop("threads")
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
    masks = project.masks.all()
    rows = []
    for image_id, class_id in snapshot.labels:
        defective = class_id not in ok
        info = masks.get(image_id)
        rows.append((image_id, int(defective), (not defective) or (info is not None and info.pixels > 0)))
    if not rows:
        return DefectLabels(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, bool))
    table = np.array(rows, dtype=np.int64)
    return DefectLabels(table[:, 0], table[:, 1], table[:, 2].astype(bool))


def can_train(project: Project) -> bool:
    """Whether the project has OK and defect labels (what the seg-dec net needs)."""
    kinds = {str(k) for (k,) in project.db.all(
        "SELECT DISTINCT c.kind FROM labels l JOIN classes c ON c.id = l.class_id")}
    return {"ok", "defect"} <= kinds


def segdec_job(request: SegDecRequest, cancel: threading.Event | None = None,
               ) -> Generator[Progress, None, SegDecResult]:
    """Trains the seg-dec net on the current labels and stores predictions and heat maps."""
    import torch

    from models.segdec import STRIDE, SegDecConfig, SegDecNet, TrainConfig, TrainData

    if request.size % STRIDE or request.size < 64:
        raise ValueError(f"the seg-dec input size must be a multiple of {STRIDE} and at least 64, not {request.size}")
    started = time.perf_counter()
    # more threads than free cores makes OpenMP spin: 2 jobs x 2 threads on 2 cores ran 5x slower
    torch.set_num_threads(request.threads or max(1, os.cpu_count() or 1))
    with Project.open(request.project_root) as project:
        snapshot = take_snapshot(project)
        known = defect_labels(project, snapshot)
        if not known.trainable:
            raise StoreError("label OK images and defective images before training the defect detector")
        try:
            cache = yield from build_pixel_cache(project, request.size, workers=request.workers, cancel=cancel)
        except JobCancelled:
            return SegDecResult(run=None, cancelled=True, seconds=time.perf_counter() - started, metrics={})
        rows = cache.index_of(known.ids)
        present = rows >= 0
        ids, labels, has_mask, rows = known.ids[present], known.labels[present], known.has_mask[present], rows[present]
        targets, weights = _mask_targets(project, ids, labels, has_mask, request.size)
        val = _validation_split(labels, has_mask, request.validation_fraction, request.seed)
        per_epoch = 2 * int(np.sum(labels[~val] == 1)) if np.any(labels[~val] == 0) else int(np.sum(~val))
        epochs = max(1, min(request.epochs, request.max_samples // max(per_epoch, 1)))
        train_config = TrainConfig(**{"epochs": epochs, "seed": request.seed, **request.train})
        config = {**request.config(), "train": train_config.to_dict(),
                  "net": SegDecConfig.named(request.width).to_dict()}

        data = TrainData(pixels=cache.pixels, rows=rows[~val], labels=labels[~val], has_mask=has_mask[~val],
                         targets=targets[~val], weights=weights[~val], val_rows=rows[val], val_labels=labels[val])
        with RunRecorder(project, method=METHOD, config=config, snapshot=snapshot, seed=request.seed) as recorder:
            net = SegDecNet(SegDecConfig.named(request.width))
            summary = yield from _train(net, data, train_config, cancel, request.device)
            metrics = {"labeled": int(len(ids)), "defective": int(labels.sum()), "ok": int((labels == 0).sum()),
                       "masks": int(np.sum(has_mask & (labels == 1))), "epochs": epochs, **summary}
            probability = yield from _predict_all(net, cache, recorder, cancel)
            threshold = 0.5
            if np.any(val):  # the held-out images' scores come with every image's
                scores = {"ids": ids[val].tolist(), "truth": labels[val].tolist(),
                          "probability": probability[rows[val]].round(6).tolist()}
                metrics["validation"] = validation_figures(scores, request.target_recall)
                recorder.write_json(VALIDATION, scores)
                threshold = metrics["validation"]["threshold"]
            metrics["threshold"] = threshold
            confidence = np.maximum(probability, 1.0 - probability)
            project.predictions.save(recorder.run.id, cache.ids, None, confidence, 1.0 - np.abs(2 * probability - 1),
                                     defect_probability=probability)
            heat = np.load(recorder.partial_dir / HEATMAPS, mmap_mode="r")
            recorder.write_json(WORTH_A_MASK, worth_a_mask(cache.ids, probability, heat, ids, labels, has_mask))
            recorder.save_checkpoint(net.state_dict(), config={"net": net.config.to_dict(), "size": request.size,
                                                               "threshold": threshold})
            metrics["seconds"] = time.perf_counter() - started
            run = recorder.finish(metrics=metrics)
            return SegDecResult(run=run, cancelled=False, seconds=metrics["seconds"], metrics=metrics)
    return SegDecResult(run=None, cancelled=True, seconds=time.perf_counter() - started, metrics={})


def _mask_targets(project: Project, ids: np.ndarray, labels: np.ndarray, has_mask: np.ndarray, size: int):
    """Targets and distance-transform weights at 1/8 of ``size`` for every training image."""
    from PIL import Image as PILImage

    from models.segdec import STRIDE, mask_targets

    cells = size // STRIDE
    targets = np.zeros((len(ids), cells, cells), np.float32)
    weights = np.ones((len(ids), cells, cells), np.float32)
    for k in np.flatnonzero(has_mask & (labels == 1)):
        mask = project.masks.load(int(ids[k]))
        if mask is None:
            continue
        image = PILImage.fromarray(((mask > 0) * 255).astype(np.uint8))
        # bilinear with a low cut keeps one-pixel cracks that nearest-neighbour would drop
        squashed = np.asarray(image.resize((size, size), PILImage.Resampling.BILINEAR)) >= 64
        targets[k], weights[k] = mask_targets(squashed, size)
    return targets, weights


def _validation_split(labels: np.ndarray, has_mask: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A stratified held-out set (by defective / masked defective / OK), or none when a
    class would keep fewer than 4 training images or give fewer than 2 validation ones."""
    val = np.zeros(len(labels), bool)
    if fraction <= 0:
        return val
    rng = np.random.default_rng(seed)
    for value in (0, 1):
        if int(np.sum(labels == value)) * fraction < 2 or int(np.sum(labels == value)) < 6:
            return np.zeros(len(labels), bool)
    for group in (labels == 0, (labels == 1) & has_mask, (labels == 1) & ~has_mask):
        members = np.flatnonzero(group)
        take = int(round(len(members) * fraction))
        if take:
            val[rng.choice(members, take, replace=False)] = True
    return val


def _train(net, data, config, cancel: threading.Event | None, device: str = "cpu"):
    from models.segdec import TrainCancelled, train

    eta = Eta()
    job = train(net, data, config, cancel=cancel.is_set if cancel else None, device=device)
    try:
        while True:
            stats = next(job)
            metrics = {"θ (segmentation weight)": stats.theta}
            if stats.validation_ap is not None:
                metrics["validation AP"] = stats.validation_ap
            yield Progress(phase="defect detector", step=stats.step, total=stats.total,
                           losses={k: v for k, v in stats.losses.items() if v == v}, metrics=metrics,
                           eta_s=eta(stats.step / stats.total),
                           message=f"defect detector · epoch {stats.epoch + 1}/{config.epochs} · "
                                   f"{stats.images_per_s:.0f} images/s")
    except StopIteration as stop:
        return stop.value
    except TrainCancelled as exc:
        raise JobCancelled(str(exc)) from exc


def validation_figures(scores: dict, target_recall: float | None) -> dict:
    """AP, AUROC, the threshold (best F1, or reaching ``target_recall``) and the figures at
    it, from a run's validation scores (``ids``, ``truth``, ``probability``)."""
    truth, probability = np.array(scores["truth"]), np.array(scores["probability"], dtype=np.float64)
    threshold = choose_threshold(truth, probability, target_recall)
    figures = detection_metrics(truth, probability, np.array(scores["ids"]), threshold)
    figures["target_recall"] = target_recall
    return figures


def _predict_all(net, cache: PixelCache, recorder: RunRecorder, cancel: threading.Event | None):
    """Defect probability of every cached image; heat maps written to the run folder."""
    from models.segdec import STRIDE
    from models.segdec.train import predict_chunks

    cells = cache.size // STRIDE
    heat = np.lib.format.open_memmap(recorder.partial_dir / HEATMAPS, mode="w+", dtype=np.uint8,
                                     shape=(len(cache.ids), cells, cells))
    probability = np.zeros(len(cache.ids), np.float32)
    rows = np.arange(len(cache.ids))
    done_before = 0
    for done, p, h in predict_chunks(net, cache.pixels, rows, batch=64):
        check_cancel(cancel)
        probability[done_before:done], heat[done_before:done] = p, h
        done_before = done
        yield Progress(phase="predicting defects", step=done, total=len(rows))
    heat.flush()
    del heat
    np.save(recorder.partial_dir / HEATMAP_IDS, cache.ids)
    return probability


def worth_a_mask(all_ids: np.ndarray, probability: np.ndarray, heat: np.ndarray, ids: np.ndarray,
                 labels: np.ndarray, has_mask: np.ndarray, limit: int | None = None) -> list[dict]:
    """Defective images without a mask, ranked by how much a mask would teach: the model
    missed them (low defect probability), decision and heat map disagree, or the heat map
    is unsure (many cells near 0.5). Each entry: image_id, score, reason; all of them
    unless ``limit`` (the list shrinks as masks are drawn, so it must not run dry early)."""
    position = {int(i): k for k, i in enumerate(all_ids.tolist())}
    entries = []
    for image_id in ids[(labels == 1) & ~has_mask].tolist():
        k = position.get(int(image_id))
        if k is None:
            continue
        p = float(probability[k])
        h = np.asarray(heat[k], dtype=np.float32) / 255.0
        peak = float(h.max()) if h.size else 0.0
        unsure = float(np.mean((h > 0.2) & (h < 0.8))) if h.size else 0.0
        missed, disagree = 1.0 - p, abs(p - peak)
        score = 0.5 * missed + 0.35 * disagree + 0.15 * min(1.0, 4 * unsure)
        if missed >= max(disagree, 0.5):
            reason = f"missed: defect probability {p:.2f} on an image labeled defective"
        elif disagree >= 0.3 and peak < p:
            reason = f"decision says defective ({p:.2f}) but the heat map shows little (peak {peak:.2f})"
        elif disagree >= 0.3:
            reason = f"heat map sees a defect (peak {peak:.2f}) the decision doubts ({p:.2f})"
        elif unsure > 0.02:
            reason = f"heat map unsure over {unsure:.0%} of the image"
        else:
            reason = f"found (defect probability {p:.2f}); a mask sharpens where"
        entries.append({"image_id": int(image_id), "score": round(score, 4), "reason": reason})
    entries.sort(key=lambda e: (-e["score"], e["image_id"]))
    return entries if limit is None else entries[:limit]


def latest_segdec_run(project: Project) -> Run | None:
    for run in reversed(project.runs.list()):
        if run.status is RunStatus.DONE and run.method == METHOD:
            return run
    return None


def load_heatmap(project: Project, run: Run, image_id: int) -> np.ndarray | None:
    """The heat map (h, w) uint8 of one image from a seg-dec run; None when the run has none for it."""
    folder = project.runs_dir / str(run.id)
    try:
        ids = np.load(folder / HEATMAP_IDS)
        heat = np.load(folder / HEATMAPS, mmap_mode="r")
    except OSError:
        return None
    k = int(np.searchsorted(ids, image_id))
    if k >= len(ids) or ids[k] != image_id:
        return None
    return np.array(heat[k])


def upsample_heatmap(heat: np.ndarray, width: int, height: int) -> np.ndarray:
    """A heat map stretched to the image (the model saw the whole image squashed to a
    square, each cell covering a 1/h by 1/w block): float32 (height, width) in 0..1."""
    from PIL import Image as PILImage

    image = PILImage.fromarray(np.asarray(heat, dtype=np.uint8))
    return np.asarray(image.resize((width, height), PILImage.Resampling.BILINEAR), dtype=np.float32) / 255.0


def load_worth_a_mask(project: Project, run: Run) -> list[dict]:
    """The run's "worth a mask" list, without images that got a mask since."""
    path = project.runs_dir / str(run.id) / WORTH_A_MASK
    if not path.exists():
        return []
    masked = {i for i, info in project.masks.all().items() if info.pixels > 0}
    return [e for e in json.loads(path.read_text()) if e["image_id"] not in masked]


def load_validation_scores(project: Project, run: Run) -> dict | None:
    path = project.runs_dir / str(run.id) / VALIDATION
    return json.loads(path.read_text()) if path.exists() else None


def set_threshold(project: Project, run: Run, target_recall: float | None) -> Run:
    """Moves a defect-detector run's threshold: the best-F1 one (``target_recall`` None)
    or the highest that reaches ``target_recall`` on its validation images. The
    validation figures (precision, recall, F1, FP / FN) are recomputed at it."""
    scores = load_validation_scores(project, run)
    if scores is None:
        raise StoreError("this run held out no validation images (too few labels): its threshold stays 0.5")
    if target_recall is not None and not 0.0 < target_recall <= 1.0:
        raise ValueError(f"the target recall must be in (0, 1], not {target_recall}")
    validation = validation_figures(scores, target_recall)
    metrics = {**run.metrics, "threshold": validation["threshold"], "validation": validation}
    path = project.runs_dir / str(run.id) / "metrics.json"
    if path.parent.exists():
        from core.files import write_text_atomic

        write_text_atomic(path, json.dumps(metrics, indent=1, default=float))
    return project.runs.update_metrics(run.id, metrics)
