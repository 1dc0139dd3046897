"""Exporting a classifier run as one self-contained model file, checked before it is kept.

The run is rebuilt as one module (:func:`core.training.model_io.load_classifier`), traced
to TorchScript or exported to ONNX in a private temp folder, loaded back from the file's
bytes and run on a sample of the project's cached pixels beside the app's module. Only
when the two agree within the tolerance are the model file, ``classes.txt`` and
``model_card.json`` (last: it holds the model file's sha256) written into the output
folder, each atomically. A model that disagrees is refused and nothing is written.

The folder is read back without a project by :mod:`core.training.exported`.
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
import time
import warnings
from collections.abc import Generator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from core.files import write_bytes_atomic, write_text_atomic
from core.jobs.base import Progress, check_cancel, drain
from core.store import Project, Run, RunStatus
from core.training.exported import (
    CARD_NAME,
    CLASSES_NAME,
    MODEL_FILES,
    ExportError,
    ParityError,
    check_format,
    load_runner,
    require_packages,
    sha256_of,
)
from core.training.model_io import LoadedClassifier, load_classifier

logger = logging.getLogger(__name__)
CARD_VERSION = 1
PREPROCESSING = {
    "color": "gray (Pillow 'L'); 16-bit and float images are first windowed to 8 bits between their"
             " 0.5 and 99.5 percentiles",
    "resize": "the whole image (no crop) squashed to size x size, Pillow bilinear (reducing_gap 2.0)",
    "values": "0-255 as they are: the model scales and normalises them itself",
    "reference": "core.pixel_cache.decode_resized (labelapp predict does exactly this)",
}
ONNX_MAX_BATCH = 1 << 16


@dataclass(frozen=True)
class ParityReport:
    """How far the exported model's probabilities are from the app's module's."""

    images: int
    max_abs_diff: float
    tolerance: float


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_model` wrote."""

    format: str
    run_id: int
    out_dir: Path
    model_path: Path
    card_path: Path
    classes_path: Path
    size_bytes: int
    sha256: str
    parity: ParityReport
    seconds: float


@dataclass(frozen=True)
class ExportRequest:
    """An export to run on a worker (the job opens its own connection to the project)."""

    project_root: Path
    out_dir: Path
    fmt: str = "torchscript"
    run_id: int | None = None
    sample: int = 32
    tolerance: float = 1e-4


def exportable_runs(project: Project) -> list[Run]:
    """Finished classifier runs with a checkpoint, newest first."""
    return [r for r in reversed(project.runs.list())
            if r.method == "classifier" and r.status is RunStatus.DONE and r.checkpoint]


def export_model(project: Project, run: Run | None = None, *, fmt: str, out_dir: Path | str, sample: int = 32,
                 tolerance: float = 1e-4) -> ExportResult:
    """Exports ``run`` (default: the newest finished classifier run) into ``out_dir``.

    Args:
        fmt: ``"torchscript"`` (``model.pt``) or ``"onnx"`` (``model.onnx``, needs the
            ``export`` extra).
        sample: How many project images the parity check runs on.
        tolerance: The largest absolute difference in any probability that is accepted.

    Raises:
        ParityError: the exported model disagrees with the app's; nothing was written.
        ExportError: an unknown format, a missing package, or the exporter failed.
        StoreError: no such run, or the run cannot be rebuilt.
    """
    return drain(iter_export(project, run, fmt=fmt, out_dir=out_dir, sample=sample, tolerance=tolerance))


def export_job(request: ExportRequest, cancel: threading.Event | None = None,
               ) -> Generator[Progress, None, ExportResult]:
    """:func:`export_model` as a job for a worker thread."""
    with Project.open(request.project_root) as project:
        run = project.runs.get(request.run_id) if request.run_id is not None else None
        return (yield from iter_export(project, run, fmt=request.fmt, out_dir=request.out_dir,
                                       sample=request.sample, tolerance=request.tolerance, cancel=cancel))


def iter_export(project: Project, run: Run | None = None, *, fmt: str, out_dir: Path | str, sample: int = 32,
                tolerance: float = 1e-4, cancel: threading.Event | None = None,
                ) -> Generator[Progress, None, ExportResult]:
    """The export as a job: yields a record per phase, returns the :class:`ExportResult`."""
    started = time.perf_counter()
    require_packages(check_format(fmt), to_export=True)
    out_dir = Path(out_dir)
    yield Progress(phase="loading the run", step=0, total=4)
    loaded = load_classifier(project, run)
    pixels = yield from sample_pixels(project, loaded.input_size, sample, cancel=cancel)
    check_cancel(cancel)
    yield Progress(phase=f"exporting as {fmt}", step=1, total=4)
    with tempfile.TemporaryDirectory(prefix="labelapp-export-") as staging:
        staged = Path(staging) / MODEL_FILES[fmt]
        EXPORTERS[fmt](loaded.module, pixels, staged)
        check_cancel(cancel)
        yield Progress(phase="checking the exported model", step=2, total=4)
        data = staged.read_bytes()
        try:
            parity = check_parity(loaded.module, staged, pixels, tolerance)
        except ParityError as exc:
            raise ParityError(f"{exc}; nothing was written to {out_dir}") from None
    check_cancel(cancel)
    yield Progress(phase="writing", step=3, total=4)
    card = model_card(project, loaded, fmt=fmt, data=data, parity=parity)
    model_path, classes_path, card_path = out_dir / MODEL_FILES[fmt], out_dir / CLASSES_NAME, out_dir / CARD_NAME
    write_bytes_atomic(model_path, data)
    write_text_atomic(classes_path, "".join(f"{name}\n" for name in loaded.class_names))
    write_text_atomic(card_path, json.dumps(card, indent=1, default=float) + "\n")  # last: names the model's hash
    for path in (model_path, classes_path, card_path):
        path.chmod(0o644)  # made for other machines and users: readable like any copied file
    logger.info("exported run %d as %s to %s (max diff %.2g)", loaded.run.id, fmt, out_dir, parity.max_abs_diff)
    return ExportResult(format=fmt, run_id=loaded.run.id, out_dir=out_dir, model_path=model_path, card_path=card_path,
                        classes_path=classes_path, size_bytes=len(data), sha256=card["model"]["sha256"],
                        parity=parity, seconds=time.perf_counter() - started)


def sample_pixels(project: Project, size: int, count: int, *, cancel: threading.Event | None = None,
                  ) -> Generator[Progress, None, np.ndarray]:
    """``(n, 1, S, S)`` uint8 cached pixels of up to ``count`` readable images spread over
    the project (the cache is built first when it is missing or stale)."""
    from core.pixel_cache import build_pixel_cache, open_pixel_cache

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
    """Loads the model file back from its bytes and compares it with ``reference_module``.

    The exported model runs on all ``pixels`` (``(n, 1, S, S)`` uint8) as one batch and on
    the first image alone as float32, so a baked-in batch size or input type shows too.

    Raises:
        ParityError: the file cannot be loaded or run, gives another shape, or differs by
            more than ``tolerance`` in any probability.
    """
    import torch

    exported_path = Path(exported_path)
    fmt = {f".{name.rsplit('.', 1)[1]}": f for f, name in MODEL_FILES.items()}.get(exported_path.suffix)
    if fmt is None:
        raise ParityError(f"cannot tell the format of {exported_path.name} (expected .pt or .onnx)")
    with torch.inference_mode():
        expected = reference_module(torch.from_numpy(pixels)).numpy().astype(np.float64)
    try:
        runner = load_runner(exported_path.read_bytes(), fmt)
        whole = np.asarray(runner(pixels), dtype=np.float64)
        single = np.asarray(runner(pixels[:1].astype(np.float32)), dtype=np.float64)
    except ExportError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever a broken file raises, the answer is a refusal
        raise ParityError(f"the exported model cannot be loaded or run: {type(exc).__name__}: {exc}") from exc
    if whole.shape != expected.shape or single.shape != expected[:1].shape:
        raise ParityError(f"the exported model answers with shape {whole.shape}, the app's module with"
                          f" {expected.shape}")
    diff = float(max(np.abs(whole - expected).max(), np.abs(single - expected[:1]).max()))
    if not diff <= tolerance:  # NaN fails too
        raise ParityError(f"the exported model differs from the app's by up to {diff:.3g} in a probability on"
                          f" {len(pixels)} project images (tolerance {tolerance:g})")
    return ParityReport(images=len(pixels), max_abs_diff=diff, tolerance=tolerance)


def _export_torchscript(module: Any, pixels: np.ndarray, path: Path) -> None:
    """Traces with a batch of two uint8 images; the batch size and type stay free."""
    import torch

    example = torch.from_numpy(np.concatenate([pixels, pixels])[:2])
    with warnings.catch_warnings():
        # TracerWarnings on shape arithmetic (the parity check runs other batch sizes) and
        # torch 2.13's deprecation of TorchScript (still the one-file format C++ and Python load)
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(module, example, check_trace=False)
        torch.jit.save(traced, str(path))


def _export_onnx(module: Any, pixels: np.ndarray, path: Path) -> None:
    """torch.onnx's exporter (torch.export + onnxscript); float32 input, free batch size."""
    import torch

    example = torch.from_numpy(np.concatenate([pixels, pixels])[:2]).float()
    batch = torch.export.Dim("batch", min=1, max=ONNX_MAX_BATCH)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(module, (example,), dynamo=True, input_names=["pixels"],
                                        output_names=["probabilities"], dynamic_shapes={"pixels": {0: batch}},
                                        external_data=False, verbose=False)
        except Exception as exc:  # noqa: BLE001 - the exporter raises many kinds; the first line says enough
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise ExportError(f"the ONNX exporter failed: {type(exc).__name__}: {first}") from exc
    program.save(str(path), external_data=False)


EXPORTERS = {"torchscript": _export_torchscript, "onnx": _export_onnx}


def model_card(project: Project, loaded: LoadedClassifier, *, fmt: str, data: bytes,
               parity: ParityReport) -> dict[str, Any]:
    """What the exported model is, how to feed it, and how good it was on the labels."""
    import torch

    kinds = {c.id: c.kind.value for c in project.classes.list()}
    features = loaded.module.features
    pretrain_config = loaded.pretrain_run.config
    size = loaded.input_size
    dtype = "uint8 or float32" if fmt == "torchscript" else "float32"
    snapshot = loaded.run.label_snapshot
    return {
        "card_version": CARD_VERSION,
        "format": fmt,
        "model": {"file": MODEL_FILES[fmt], "sha256": sha256_of(data), "bytes": len(data)},
        "method": loaded.run.method,
        "run": loaded.run.id,
        "run_finished_at": loaded.run.finished_at,
        "pretrain_run": loaded.pretrain_run.id,
        "encoder": {"name": pretrain_config.get("encoder"), "kwargs": pretrain_config.get("encoder_kwargs", {}),
                    "ssl": pretrain_config.get("method"), "epochs": pretrain_config.get("epochs"),
                    "input_size": int(features.size), "mean": float(features.mean), "std": float(features.std),
                    "embedding_weight": float(features.encoder_weight)},
        "classes": [{"index": i, "id": class_id, "name": name, "kind": kinds.get(class_id)}
                    for i, (class_id, name) in enumerate(zip(loaded.class_ids, loaded.class_names, strict=True))],
        "input": {"name": "pixels", "shape": ["batch", 1, size, size], "dtype": dtype, "size": size,
                  "preprocessing": PREPROCESSING},
        "output": {"name": "probabilities", "shape": ["batch", len(loaded.class_names)],
                   "meaning": "class probabilities (calibrated softmax), columns in the order of classes"},
        "labels": {"per_class": snapshot.get("classes", {}), "labeled": snapshot.get("labeled"),
                   "masks": snapshot.get("masks")},
        "validation": loaded.run.metrics.get("validation"),
        "parity": asdict(parity),
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "project": project.name,
        "labelapp_version": _version(),
        "torch_version": torch.__version__,
    }


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("labelapp")
    except PackageNotFoundError:
        return "unknown"
