"""The few-label classifier (paper 001) on the embeddings of the latest pretraining run.

The fast path: the ArcFace head (with the 3-view contrastive term on feature views) is
trained on cached embeddings in about a second; the run finishes, then the head predicts
a class, confidence and uncertainty for every image, streamed into the store in batches
(the grid's images first) with the temperature of the previous run. Then the head's own
temperature is fitted on held-out folds (three more fits, a few seconds: the validation
metrics and the out-of-fold probabilities come from them) and the predictions are
stored again with calibrated confidences; the classes do not change. The first
predictions so reach the grid before the calibration rather than after it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.active.mistakes import OUT_OF_FOLD
from core.jobs.base import JobCancelled, Progress, check_cancel
from core.jobs.curves import CurveLog, logged, save_curves
from core.jobs.runs import RunRecorder
from core.jobs.snapshot import LabelSnapshot, take_snapshot
from core.store import NeedsTrainingError, Project, Run, RunKind, StoreError
from core.training.pretrain import load_features
from core.training.streaming import FIRST_BATCH, prediction_order, stored_progress, unsure_ids

PREDICT_CHUNK = 4096  # images the head predicts at a time while streaming


@dataclass(frozen=True)
class ClassifyRequest:
    project_root: Path
    epochs: int = 100
    seed: int = 0
    finetune_steps: int = 0  # > 0: the thorough path, fine-tune the encoder first (core/training/finetune.py)
    device: str = "auto"  # where the thorough path fine-tunes and re-embeds ("auto", "cpu", "cuda"); the
    # head trains on the CPU whatever it says: a few thousand weights on cached features (seconds)
    priority_ids: tuple[int, ...] = ()  # stored first (the grid's view); none: import order


@dataclass(frozen=True)
class ClassifyResult:
    run: Run | None
    cancelled: bool
    seconds: float
    metrics: dict


def latest_pretrain_run(project: Project) -> Run | None:
    """The newest finished pretraining run whose embeddings cover every current image
    (not ``runs.latest``: an encoder pretrained before images were added cannot place them)."""
    current = set(project.images.ids().tolist())
    for run in project.runs.finished(RunKind.PRETRAIN):
        ids = np.load(project.runs_dir / str(run.id) / "ids.npy")  # the ids only, not the vectors
        if set(ids.tolist()) >= current:
            return run
    return None


def classify_job(request: ClassifyRequest, cancel: threading.Event | None = None, *,
                 snapshot: LabelSnapshot | None = None) -> Generator[Progress, None, ClassifyResult]:
    """Trains the classifier head on the labels of ``snapshot`` (None: the current ones),
    finishes the run, then streams predictions for every image into the store: the
    ``priority_ids`` first (none: import order), then the labeled images, those the
    previous classifier was unsure of, the rest (:mod:`core.training.streaming`)."""
    from core.jobs.device import resolve_device

    resolved = resolve_device(request.device)  # raises at once when CUDA is asked for and missing
    device = resolved if request.finetune_steps > 0 else "cpu"  # where the work runs: recorded
    started = time.perf_counter()
    with Project.open(request.project_root) as project:
        pretrain = latest_pretrain_run(project)
        if pretrain is None:
            raise NeedsTrainingError("no pretrained encoder covers the current images", needs=RunKind.PRETRAIN)
        ids, embeddings = load_features(project, pretrain)
        snapshot = snapshot or take_snapshot(project)
        labeled = [(i, c) for i, c in snapshot.labels]
        classes = [cid for cid, _name, _kind in snapshot.classes if any(c == cid for _i, c in labeled)]
        if len(classes) < 2:
            raise StoreError("label images of at least two classes before training the classifier")
        config = {"epochs": request.epochs, "pretrain_run": pretrain.id, "classes": classes,
                  "finetune_steps": request.finetune_steps, "device": device}
        with RunRecorder(project, method=RunKind.CLASSIFIER.method(), config=config, snapshot=snapshot,
                         seed=request.seed) as recorder:
            rows = _labeled_rows(ids, labeled, classes)
            curves = CurveLog()
            if request.finetune_steps > 0:
                from core.training.finetune import finetune_features

                embeddings, _weight = yield from logged(finetune_features(
                    project, recorder, pretrain, ids, rows, n_classes=len(classes), steps=request.finetune_steps,
                    seed=request.seed, cancel=cancel, device=device), curves)
            yield Progress(phase="classifier", step=0, total=2, message="training the classifier head", unit="step")
            head, metrics = _fit(project, recorder, embeddings, rows, classes, request, cancel)
            metrics["seconds"] = time.perf_counter() - started
            run = recorder.finish(metrics=metrics, streaming=True)
            order = prediction_order(ids, request.priority_ids,
                                     then=[[i for i, _ in labeled], unsure_ids(project, RunKind.CLASSIFIER)])
            # the classes first, with last run's temperature: a class does not depend on it
            yield from _stream_predictions(project, run.id, head, ids, embeddings, order, classes, cancel)
            yield Progress(phase="classifier", step=1, total=2, unit="step",
                           message="calibrating the confidences on held-out labels")
            if _calibrate(head, cancel):
                metrics = _calibrated_metrics(project, recorder, head, ids, rows, classes, metrics)
                yield from _stream_predictions(project, run.id, head, ids, embeddings, order, classes, cancel,
                                               announced=len(order))
            validation = metrics.get("validation", {})
            fitted = Progress(phase="classifier", step=2, total=2, unit="step",
                              metrics={"validation accuracy": validation.get("accuracy", float("nan"))})
            curves.add(fitted)
            yield fitted
            save_curves(recorder, curves, final=True)
            run = recorder.end_streaming()
            return ClassifyResult(run=run, cancelled=False, seconds=time.perf_counter() - started, metrics=metrics)
        if recorder.finished:  # cancelled while storing predictions: the run keeps those it stored
            run = project.runs.get(recorder.run.id)
            return ClassifyResult(run=run, cancelled=True, seconds=time.perf_counter() - started, metrics=run.metrics)
    return ClassifyResult(run=None, cancelled=True, seconds=time.perf_counter() - started, metrics={})


def _labeled_rows(ids: np.ndarray, labeled: list[tuple[int, int]], classes: list[int]) -> list[tuple[int, int]]:
    """(row in ``ids``, class index) of every labeled image the features cover."""
    position = {image_id: k for k, image_id in enumerate(ids.tolist())}
    index = {cid: k for k, cid in enumerate(classes)}
    return [(position[i], index[c]) for i, c in labeled if i in position and c in index]


def _fit(project: Project, recorder: RunRecorder, embeddings: np.ndarray, rows: list[tuple[int, int]],
         classes: list[int], request: ClassifyRequest, cancel: threading.Event | None):
    """The fitted head (its checkpoint saved, not calibrated yet) and the run's metrics."""
    from models.fewshot.head import fit_head

    x = embeddings[[r for r, _ in rows]]
    y = np.array([k for _, k in rows], dtype=np.int64)
    with _fitting_head():
        # labelled rows only: with fixed features the contrastive term on unlabeled rows
        # cost 3-6 points on X-SDD (benchmarks/fewshot_head_bench.py)
        head = fit_head(x, y, n_classes=len(classes), epochs=request.epochs, seed=request.seed,
                        cancel=cancel.is_set if cancel is not None else None, calibrate=False,
                        temperature=_last_temperature(project))
    metrics: dict = {}
    check_cancel(cancel)
    encoder_file = "encoder.pt" if request.finetune_steps > 0 else None
    recorder.save_checkpoint(head.state_dict(), config={"classes": classes, "encoder_file": encoder_file,
                                                        "pretrain_run": recorder.run.config["pretrain_run"]})
    metrics.update({"labeled": int(len(y)), "classes": len(classes), "temperature": head.temperature})
    return head, metrics


def _last_temperature(project: Project) -> float | None:
    """The calibrated temperature of the newest classifier run (None: none recorded): the
    provisional one of the predictions stored before this run's own is fitted."""
    for run in project.runs.finished(RunKind.CLASSIFIER):
        value = (run.metrics or {}).get("temperature")
        if isinstance(value, int | float) and (run.metrics or {}).get("validation"):
            return float(value)
    return None


def _calibrate(head, cancel: threading.Event | None) -> bool:
    """Fits the head's temperature on held-out folds (:func:`models.fewshot.head.calibrate_head`)."""
    from models.fewshot.head import calibrate_head

    with _fitting_head():
        return calibrate_head(head, cancel=cancel.is_set if cancel is not None else None)


@contextlib.contextmanager
def _fitting_head() -> Iterator[None]:
    """One torch thread while the small head trains (more only add spin-waiting: 30x
    slower under load); a cancelled fit ends the job as cancelled."""
    import torch

    from models.fewshot.fitting import FitCancelled

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    except FitCancelled as exc:
        raise JobCancelled(str(exc)) from exc
    finally:
        torch.set_num_threads(threads)


def _calibrated_metrics(project: Project, recorder: RunRecorder, head, ids: np.ndarray, rows: list[tuple[int, int]],
                        classes: list[int], metrics: dict) -> dict:
    """The run's metrics with the validation of the calibration folds; the checkpoint
    rewritten with the fitted temperature, the out-of-fold probabilities written."""
    y = np.array([k for _, k in rows], dtype=np.int64)
    names = {c.id: c.name for c in project.classes.list()}
    held, predicted = head.validation
    metrics = {**metrics, "temperature": head.temperature,
               "validation": validation_metrics(y[held], predicted, [names[c] for c in classes])}
    recorder.replace_checkpoint(head.state_dict())
    _save_out_of_fold(recorder, head, ids, rows, classes)
    recorder.update_metrics(metrics)
    return metrics


def _save_out_of_fold(recorder: RunRecorder, head, ids: np.ndarray, rows: list[tuple[int, int]],
                      classes: list[int]) -> None:
    """Writes the labeled images' out-of-fold probabilities (:data:`OUT_OF_FOLD` in the run
    folder: each image predicted by a head fitted without it), which the likely-mistakes
    list and the disagreement filter read; nothing when no class had two labels."""
    if head.validation is None or head.out_of_fold is None:
        return
    held = head.validation[0]
    recorder.write_final_json(OUT_OF_FOLD, {
        "classes": classes, "image_ids": [int(ids[rows[r][0]]) for r in held.tolist()],
        "labels": [classes[rows[r][1]] for r in held.tolist()],
        "probabilities": np.round(head.out_of_fold.astype(np.float64), 5).tolist()})


def _stream_predictions(project: Project, run_id: int, head, ids: np.ndarray, embeddings: np.ndarray,
                        order: np.ndarray, classes: list[int], cancel: threading.Event | None,
                        announced: int = 0) -> Generator[Progress, None, None]:
    """Predicts the images in ``order`` and stores them a batch at a time (one transaction
    each, announced): the first :data:`FIRST_BATCH`, then :data:`PREDICT_CHUNK` at a time.
    ``announced``: predictions of the run announced before (a second pass replaces the
    first, with the calibrated confidences; the count announced goes on growing)."""
    row_of = {image_id: k for k, image_id in enumerate(ids.tolist())}
    rows = np.array([row_of[i] for i in order.tolist()], dtype=np.int64)
    class_of = np.array(classes, dtype=np.int64)
    bounds = [0, *range(min(FIRST_BATCH, len(rows)), len(rows), PREDICT_CHUNK), len(rows)]
    for start, end in zip(bounds[:-1], bounds[1:], strict=True):
        check_cancel(cancel)
        prediction = head.predict(embeddings[rows[start:end]])
        project.predictions.add(run_id, order[start:end], class_of[prediction.class_index], prediction.confidence,
                                1.0 - prediction.margin, probabilities=prediction.probabilities)
        yield stored_progress("predicting classes" if not announced else "calibrated confidences",
                              run_id=run_id, kind=RunKind.CLASSIFIER, image_ids=order[start:end].tolist(),
                              stored=end, total=len(order), complete=end == len(rows), announced=announced)


def validation_metrics(truth: np.ndarray, predicted: np.ndarray, class_names: list[str]) -> dict:
    """Accuracy, macro-F1 (over classes present in ``truth``) and the confusion matrix
    (rows: true class, columns: predicted) of out-of-fold predictions."""
    n = len(class_names)
    confusion = np.zeros((n, n), dtype=np.int64)
    np.add.at(confusion, (truth, predicted), 1)
    tp = np.diag(confusion).astype(float)
    support, guessed = confusion.sum(axis=1), confusion.sum(axis=0)
    present = support > 0
    f1 = np.where(support + guessed > 0, 2 * tp / np.maximum(support + guessed, 1), 0.0)
    return {"accuracy": float(tp.sum() / max(len(truth), 1)), "macro_f1": float(f1[present].mean()),
            "n": int(len(truth)), "classes": class_names, "confusion": confusion.tolist()}

