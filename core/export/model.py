"""Exporting a trained model as one self-contained model file, checked before it is kept.

:func:`export_model` and :func:`export_job` export the classifier (here) or the defect
detector (:mod:`core.export.detector`): the run's method decides, or ``model``.

A classifier run is rebuilt as one module (:func:`core.training.model_io.load_classifier`),
traced to TorchScript or exported to ONNX in a private temp folder, loaded back from the
file's bytes and run on a sample of the project's cached pixels beside the app's module.
Only when the two agree within the tolerance are the model file, ``classes.txt`` and
``model_card.json`` (last: it holds the model file's sha256) written into the output
folder, each atomically (:mod:`core.export.common`). A model that disagrees is
refused and nothing is written.

The folder is read back without a project by :mod:`core.export.exported`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.export.classes import left_out_card
from core.export.common import (
    ONNX_MAX_BATCH,
    STEPS,
    ExportResult,
    ParityReport,
    card_head,
    card_tail,
    checked_runner,
    max_differences,
    require_within,
    save_onnx,
    save_torchscript,
    stage_and_check,
    worst,
    write_export,
)
from core.export.exported import (
    CLASSES_NAME,
    CLASSIFIER_OUTPUTS,
    ExportError,
    check_format,
    require_packages,
)
from core.jobs.base import Progress, check_cancel, drain
from core.store import Project, Run, RunKind, StoreError
from core.training.model_io import LoadedClassifier, load_classifier

__all__ = ["EXPORTERS", "MODELS", "ExportRequest", "ExportResult", "ParityReport", "check_parity", "export_job",
           "export_model", "exportable_runs", "iter_export", "model_card", "model_of", "sample_pixels"]

logger = logging.getLogger(__name__)
MODELS = ("classifier", "detector")
PREPROCESSING = {
    "color": "gray (Pillow 'L'); 16-bit and float images are first windowed to 8 bits between their"
             " 0.5 and 99.5 percentiles",
    "resize": "the whole image (no crop) squashed to size x size, Pillow bilinear (reducing_gap 2.0)",
    "values": "0-255 as they are: the model scales and normalises them itself",
    "reference": "core.media.pixel_cache.decode_resized (labelapp predict does exactly this)",
}


@dataclass(frozen=True)
class ExportRequest:
    """An export to run on a worker (the job opens its own connection to the project).

    ``model`` is ``"classifier"`` or ``"detector"``; None: the run's model when
    ``run_id`` is given, else the classifier.
    """

    project_root: Path
    out_dir: Path
    fmt: str = "torchscript"
    run_id: int | None = None
    sample: int = 32
    tolerance: float = 1e-4
    model: str | None = None


def exportable_runs(project: Project) -> list[Run]:
    """Finished classifier runs with a checkpoint, newest first."""
    return project.runs.finished(RunKind.CLASSIFIER, with_checkpoint=True)


def model_of(run: Run | None, model: str | None) -> str:
    """Which model to export: ``model``, or the run's (a defect-detector run implies the
    detector), or the classifier.

    Raises:
        ValueError: an unknown model.
        StoreError: ``run`` is not a run of ``model``.
    """
    if model is not None and model not in MODELS:
        raise ValueError(f"unknown model {model!r}: one of {', '.join(MODELS)}")
    of_run = None if run is None else "detector" if run.kind is RunKind.SEGDEC else "classifier"
    if model is not None and of_run is not None and model != of_run:
        kind = "a defect-detector" if of_run == "detector" else f"a {run.method}"
        raise StoreError(f"run {run.id} is {kind} run, not a {model} run")
    return model or of_run or "classifier"


def export_model(project: Project, run: Run | None = None, *, fmt: str, out_dir: Path | str, sample: int = 32,
                 tolerance: float = 1e-4, model: str | None = None) -> ExportResult:
    """Exports ``run`` (default: the newest finished run of ``model``) into ``out_dir``.

    Args:
        fmt: ``"torchscript"`` (``model.pt``) or ``"onnx"`` (``model.onnx``, needs the
            ``export`` extra).
        sample: How many project images the parity check runs on.
        tolerance: The largest absolute difference in any output that is accepted.
        model: ``"classifier"`` or ``"detector"`` (:func:`core.export.detector.iter_export_detector`);
            None: the run's, else the classifier.

    Raises:
        ParityError: the exported model disagrees with the app's; nothing was written.
        ExportError: an unknown format, a missing package, or the exporter failed.
        StoreError: no such run, or the run cannot be rebuilt.
    """
    return drain(_iter_model_export(project, run, model=model, fmt=fmt, out_dir=out_dir, sample=sample,
                                    tolerance=tolerance))


def export_job(request: ExportRequest, cancel: threading.Event | None = None,
               ) -> Generator[Progress, None, ExportResult]:
    """:func:`export_model` as a job for a worker thread."""
    with Project.open(request.project_root) as project:
        run = project.runs.get(request.run_id) if request.run_id is not None else None
        return (yield from _iter_model_export(project, run, model=request.model, fmt=request.fmt,
                                              out_dir=request.out_dir, sample=request.sample,
                                              tolerance=request.tolerance, cancel=cancel))


def _iter_model_export(project: Project, run: Run | None, *, model: str | None, fmt: str, out_dir: Path | str,
                       sample: int, tolerance: float, cancel: threading.Event | None = None,
                       ) -> Generator[Progress, None, ExportResult]:
    if model_of(run, model) == "detector":
        from core.export.detector import iter_export_detector

        return (yield from iter_export_detector(project, run, fmt=fmt, out_dir=out_dir, sample=sample,
                                                tolerance=tolerance, cancel=cancel))
    return (yield from iter_export(project, run, fmt=fmt, out_dir=out_dir, sample=sample, tolerance=tolerance,
                                   cancel=cancel))


def iter_export(project: Project, run: Run | None = None, *, fmt: str, out_dir: Path | str, sample: int = 32,
                tolerance: float = 1e-4, cancel: threading.Event | None = None,
                ) -> Generator[Progress, None, ExportResult]:
    """A classifier's export as a job: yields a record per phase, returns the :class:`ExportResult`."""
    started = time.perf_counter()
    require_packages(check_format(fmt), to_export=True)
    out_dir = Path(out_dir)
    yield Progress(phase="loading the run", step=0, total=STEPS)
    loaded = load_classifier(project, run)
    pixels = yield from sample_pixels(project, loaded.input_size, sample, cancel=cancel)
    check_cancel(cancel)
    yield Progress(phase=f"exporting as {fmt}", step=1, total=STEPS)
    data, parity = yield from stage_and_check(
        fmt, out_dir, lambda path: EXPORTERS[fmt](loaded.module, pixels, path),
        lambda path: check_parity(loaded.module, path, pixels, tolerance), cancel)
    check_cancel(cancel)
    yield Progress(phase="writing", step=3, total=STEPS)
    card = model_card(project, loaded, fmt=fmt, data=data, parity=parity)
    model_path, card_path, side = write_export(
        out_dir, fmt, data, card, {CLASSES_NAME: "".join(f"{name}\n" for name in loaded.class_names)})
    logger.info("exported run %d as %s to %s (max diff %.2g)", loaded.run.id, fmt, out_dir, parity.max_abs_diff)
    return ExportResult(format=fmt, run_id=loaded.run.id, out_dir=out_dir, model_path=model_path, card_path=card_path,
                        classes_path=side[CLASSES_NAME], size_bytes=len(data), sha256=card["model"]["sha256"],
                        parity=parity, seconds=time.perf_counter() - started)


def sample_pixels(project: Project, size: int, count: int, *, cancel: threading.Event | None = None,
                  ) -> Generator[Progress, None, np.ndarray]:
    """``(n, 1, S, S)`` uint8 cached pixels of up to ``count`` readable images spread over
    the project (the cache is built first when it is missing or stale)."""
    from core.media.pixel_cache import build_pixel_cache, open_pixel_cache

    cache = open_pixel_cache(project, size)
    if cache is None:
        cache = yield from build_pixel_cache(project, size, cancel=cancel)
    usable = np.flatnonzero(~np.isin(cache.ids, np.array(cache.failed, dtype=np.int64)))
    if len(usable) == 0:
        raise ExportError("the project has no readable image to check the exported model on")
    spread = np.unique(np.linspace(0, len(usable) - 1, min(max(1, count), len(usable))).round().astype(int))
    return np.array(cache.pixels[usable[spread]])[:, None]


def check_parity(reference_module: Any, exported_path: Path | str, pixels: np.ndarray,
                 tolerance: float) -> ParityReport:
    """Loads the classifier file back from its bytes and compares it with ``reference_module``.

    The exported model runs on all ``pixels`` (``(n, 1, S, S)`` uint8) as one batch and on
    the first image alone as float32, so a baked-in batch size or input type shows too.

    Raises:
        ParityError: the file cannot be loaded or run, gives another shape, or differs by
            more than ``tolerance`` in any probability.
    """
    import torch

    name = CLASSIFIER_OUTPUTS[0]
    run = checked_runner(exported_path, CLASSIFIER_OUTPUTS)
    with torch.inference_mode():
        expected = reference_module(torch.from_numpy(pixels)).numpy()
    diffs = max_differences({name: expected}, run(pixels))
    diffs = worst(diffs, max_differences({name: expected[:1]}, run(pixels[:1].astype(np.float32))))
    diff = require_within(diffs, tolerance, len(pixels), {name: "a probability"})
    return ParityReport(images=len(pixels), max_abs_diff=diff, tolerance=tolerance, outputs=diffs,
                        sizes=(tuple(int(v) for v in pixels.shape[-2:]),))


def _export_torchscript(module: Any, pixels: np.ndarray, path: Path) -> None:
    """Traces with a batch of two uint8 images; the batch size and type stay free."""
    import torch

    save_torchscript(module, torch.from_numpy(np.concatenate([pixels, pixels])[:2]), path)


def _export_onnx(module: Any, pixels: np.ndarray, path: Path) -> None:
    """float32 input, free batch size."""
    import torch

    example = torch.from_numpy(np.concatenate([pixels, pixels])[:2]).float()
    batch = torch.export.Dim("batch", min=1, max=ONNX_MAX_BATCH)
    save_onnx(module, example, path, output_names=CLASSIFIER_OUTPUTS, dynamic_shapes={"pixels": {0: batch}})


EXPORTERS = {"torchscript": _export_torchscript, "onnx": _export_onnx}


def model_card(project: Project, loaded: LoadedClassifier, *, fmt: str, data: bytes,
               parity: ParityReport) -> dict[str, Any]:
    """What the exported classifier is, how to feed it, and how good it was on the labels."""
    kinds = {c.id: c.kind.value for c in project.classes.list()}
    features = loaded.module.features
    pretrain_config = loaded.pretrain_run.config
    size = loaded.input_size
    dtype = "uint8 or float32" if fmt == "torchscript" else "float32"
    snapshot = loaded.run.label_snapshot
    return {
        **card_head(loaded.run, fmt=fmt, data=data),
        "pretrain_run": loaded.pretrain_run.id,
        "encoder": {"name": pretrain_config.get("encoder"), "kwargs": pretrain_config.get("encoder_kwargs", {}),
                    "ssl": pretrain_config.get("method"), "epochs": pretrain_config.get("epochs"),
                    "input_size": int(features.size), "mean": float(features.mean), "std": float(features.std),
                    "embedding_weight": float(features.encoder_weight)},
        "classes": [{"index": i, "id": class_id, "name": name, "kind": kinds.get(class_id)}
                    for i, (class_id, name) in enumerate(zip(loaded.class_ids, loaded.class_names, strict=True))],
        "input": {"name": "pixels", "shape": ["batch", 1, size, size], "dtype": dtype, "size": size,
                  "preprocessing": PREPROCESSING},
        "classes_left_out": left_out_card(project, loaded.run),
        "output": {"name": CLASSIFIER_OUTPUTS[0], "shape": ["batch", len(loaded.class_names)],
                   "meaning": "class probabilities (calibrated softmax), columns in the order of classes"},
        "labels": {"per_class": snapshot.get("classes", {}), "labeled": snapshot.get("labeled"),
                   "masks": snapshot.get("masks")},
        "validation": loaded.run.metrics.get("validation"),
        **card_tail(project, parity),
    }
