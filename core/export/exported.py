"""Running an exported model without a project: its folder, its card, its inputs.

An export folder holds the model file (``model.pt``, TorchScript, or ``model.onnx``) and
``model_card.json`` (what the model is, how to feed it, the model file's sha256); a
classifier's also ``classes.txt``. :func:`load_exported_model` reads the card, checks the
model file against it and loads it. :func:`predict_files` decodes image files exactly as
the project's pixel cache does (:func:`core.media.pixel_cache.decode_resized`) and runs a
classifier; a defect detector's files go through :mod:`core.export.exported_detector`.

torch is imported only for TorchScript models and onnxruntime only for ONNX ones.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.media.imaging import IMAGE_SUFFIXES
from core.store.records import RunKind

CARD_NAME = "model_card.json"
CLASSES_NAME = "classes.txt"
MODEL_FILES = {"torchscript": "model.pt", "onnx": "model.onnx"}
FORMATS = tuple(MODEL_FILES)
# what each format needs beyond the base install, to export / to run
EXPORT_PACKAGES = {"torchscript": (), "onnx": ("onnx", "onnxscript", "onnxruntime")}
RUN_PACKAGES = {"torchscript": (), "onnx": ("onnxruntime",)}

CLASSIFIER_OUTPUTS = ("probabilities",)
DETECTOR_OUTPUTS = ("defect_probability", "heatmap")

Runner = Callable[[np.ndarray], np.ndarray]
OutputsRunner = Callable[[np.ndarray], dict[str, np.ndarray]]


class ExportError(ValueError):
    """A model that cannot be exported or run as asked; the message says why in words."""


class ParityError(ExportError):
    """The exported model does not compute what the app's model computes."""


def missing_packages(fmt: str, *, to_export: bool = False) -> list[str]:
    """The packages that exporting (or running) ``fmt`` needs and this install lacks."""
    needed = (EXPORT_PACKAGES if to_export else RUN_PACKAGES)[check_format(fmt)]
    return [name for name in needed if importlib.util.find_spec(name) is None]


def require_packages(fmt: str, *, to_export: bool = False) -> None:
    """Raises :class:`ExportError` naming the missing packages and how to install them."""
    missing = missing_packages(fmt, to_export=to_export)
    if missing:
        doing = "exporting" if to_export else "running"
        raise ExportError(f"{doing} an {fmt.upper()} model needs the package(s) {', '.join(missing)}:"
                          " install them with  pip install 'labelapp[export]'")


def check_format(fmt: str) -> str:
    if fmt not in MODEL_FILES:
        raise ExportError(f"unknown model format {fmt!r}: one of {', '.join(FORMATS)}")
    return fmt


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_runner(data: bytes, fmt: str) -> Runner:
    """The classifier in ``data`` (the bytes of a model file) as a function from
    ``(B, 1, S, S)`` pixels 0-255 to ``(B, C)`` probabilities, both numpy arrays."""
    run = load_outputs(data, fmt, CLASSIFIER_OUTPUTS)
    return lambda pixels: run(pixels)[CLASSIFIER_OUTPUTS[0]]


def load_outputs(data: bytes, fmt: str, names: Sequence[str]) -> OutputsRunner:
    """The model in ``data`` as a function from ``(B, 1, H, W)`` pixels 0-255 to its
    outputs by name (numpy arrays), in the order of ``names``.

    TorchScript models take uint8 or float32 pixels; ONNX models float32 (cast here).
    """
    names = tuple(names)
    if check_format(fmt) == "torchscript":
        import torch

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is deprecated in torch 2.13
            module = torch.jit.load(io.BytesIO(data), map_location="cpu").eval()

        def run_torchscript(pixels: np.ndarray) -> dict[str, np.ndarray]:
            # the profiling executor's optimisation passes cost seconds on the first calls of
            # each input shape and gain nothing for models this small
            with torch.jit.optimized_execution(False), torch.inference_mode():
                answer = module(torch.from_numpy(np.require(pixels, requirements=["C", "W"])))
            answer = (answer,) if isinstance(answer, torch.Tensor) else tuple(answer)
            return dict(zip(names, (a.numpy() for a in answer), strict=True))

        return run_torchscript
    require_packages(fmt)
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only
    session = onnxruntime.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name

    def run_onnx(pixels: np.ndarray) -> dict[str, np.ndarray]:
        answer = session.run(list(names), {input_name: np.ascontiguousarray(pixels, dtype=np.float32)})
        return dict(zip(names, answer, strict=True))

    return run_onnx


@dataclass(frozen=True)
class ExportedModel:
    """An exported model loaded from its folder.

    Attributes:
        folder: The export folder.
        card: The parsed ``model_card.json``.
        outputs: ``(B, 1, H, W)`` pixels -> the outputs by name (see :func:`load_outputs`):
            ``probabilities`` (B, C) of a classifier, ``defect_probability`` (B,) and
            ``heatmap`` (B, 1, ceil(H/8), ceil(W/8)) of a defect detector.
    """

    folder: Path
    card: dict[str, Any]
    outputs: OutputsRunner

    @property
    def format(self) -> str:
        return str(self.card["format"])

    @property
    def is_detector(self) -> bool:
        return self.card.get("method") == RunKind.SEGDEC

    @property
    def class_names(self) -> list[str]:
        return [str(c["name"]) for c in self.card["classes"]]

    @property
    def input_size(self) -> int:
        """S, the side of a classifier's square input."""
        return int(self.card["input"]["size"])

    @property
    def runner(self) -> Runner:
        """A classifier's pixels -> probabilities (see :func:`load_runner`)."""
        return lambda pixels: self.outputs(pixels)[CLASSIFIER_OUTPUTS[0]]

    def predict(self, pixels: np.ndarray) -> np.ndarray:
        """A classifier's ``(B, S, S)`` or ``(B, 1, S, S)`` uint8 gray pixels -> ``(B, C)`` probabilities."""
        if pixels.ndim == 3:
            pixels = pixels[:, None]
        return np.asarray(self.runner(pixels), dtype=np.float64)


def read_card(folder: Path) -> dict[str, Any]:
    path = Path(folder) / CARD_NAME
    if not path.is_file():
        raise ExportError(f"{folder} has no {CARD_NAME}: not an exported model folder (labelapp export-model)")
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
        _ = (str(card["format"]), card["model"]["file"], card["model"]["sha256"])
        if card.get("method") == RunKind.SEGDEC:
            _ = (float(card["input"]["scale"]), float(card["threshold"]), bool(card["validated"]))
        else:
            _ = (int(card["input"]["size"]), list(card["classes"]))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ExportError(f"{path} is not a readable model card ({type(exc).__name__}: {exc})") from None
    check_format(card["format"])
    return card


def load_exported_model(folder: Path | str) -> ExportedModel:
    """Reads the card, checks the model file's sha256 against it, loads the model.

    Raises:
        ExportError: no card, an unreadable card, a missing or changed model file, or a
            package the format needs is missing.
    """
    folder = Path(folder)
    card = read_card(folder)
    model_path = folder / Path(card["model"]["file"]).name
    if not model_path.is_file():
        raise ExportError(f"the model file {model_path} named by the card is missing")
    data = model_path.read_bytes()
    if sha256_of(data) != card["model"]["sha256"]:
        raise ExportError(f"{model_path.name} does not match its model card (sha256 differs):"
                          " the file was changed or replaced after the export")
    names = DETECTOR_OUTPUTS if card.get("method") == RunKind.SEGDEC else CLASSIFIER_OUTPUTS
    return ExportedModel(folder=folder, card=card, outputs=load_outputs(data, card["format"], names))


@dataclass(frozen=True)
class FilePrediction:
    """The model's answer for one file, or why there is none (``error``)."""

    path: Path
    class_name: str | None = None
    confidence: float | None = None
    probabilities: tuple[float, ...] | None = None
    error: str | None = None


def expand_image_paths(items: Iterable[Path | str]) -> list[Path]:
    """Files as given; folders replaced by the image files under them (sorted, recursive)."""
    paths: list[Path] = []
    for item in map(Path, items):
        if item.is_dir():
            paths.extend(sorted(p for p in item.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()))
        else:
            paths.append(item)
    return paths


def predict_files(model: ExportedModel, paths: list[Path], *, batch: int = 32) -> Iterator[FilePrediction]:
    """A classifier's :class:`FilePrediction` per path, in order; unreadable files carry the reason."""
    from core.media.pixel_cache import decode_resized

    if model.is_detector:
        raise ExportError("a defect detector: its files go through core.export.exported_detector")
    names = model.class_names
    for start in range(0, len(paths), max(1, batch)):
        chunk = paths[start:start + max(1, batch)]
        arrays, bad = decode_resized([str(p) for p in chunk], model.input_size, False)
        good = [i for i in range(len(chunk)) if i not in set(bad)]
        probabilities = model.predict(np.stack([arrays[i] for i in good])) if good else np.zeros((0, len(names)))
        rows = dict(zip(good, probabilities, strict=True))
        for i, path in enumerate(chunk):
            if i not in rows:
                yield FilePrediction(path=path, error=unreadable_reason(path))
                continue
            p = rows[i]
            best = int(np.argmax(p))
            yield FilePrediction(path=path, class_name=names[best], confidence=float(p[best]),
                                 probabilities=tuple(float(v) for v in p))


def unreadable_reason(path: Path) -> str:
    """Why ``decode_resized`` could not read ``path``, in words."""
    from core.media.imaging import UnreadableImageError, decode

    try:
        decode(Path(path).read_bytes())
    except FileNotFoundError:
        return "no such file"
    except IsADirectoryError:
        return "a folder, not a file"
    except (OSError, UnreadableImageError) as exc:
        return str(exc)
    return "unreadable"
