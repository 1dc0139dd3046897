"""What every model export shares: staging and checking the file, comparing named outputs,
writing the folder atomically, the card's common fields, the two exporters' calls.

An export is staged in a private temp folder, loaded back from the file's bytes and run
beside the app's own inference (the parity check). Only a file that passes is written
into the output folder: the model file and any side files first, ``model_card.json``
last (it holds the model file's sha256), each atomically. Used by
:mod:`core.export.model` (the classifier) and :mod:`core.export.detector`.
"""

from __future__ import annotations

import json
import tempfile
import threading
import warnings
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from core.export.exported import (
    CARD_NAME,
    MODEL_FILES,
    ExportError,
    OutputsRunner,
    ParityError,
    load_outputs,
    sha256_of,
)
from core.files import write_bytes_atomic, write_text_atomic
from core.jobs.base import Progress, check_cancel
from core.store import Project, Run

CARD_VERSION = 1
ONNX_MAX_BATCH = 1 << 16
STEPS = 4  # the phases an export yields: loading, exporting, checking, writing


@dataclass(frozen=True)
class ParityReport:
    """How far the exported model's outputs are from the app's.

    Attributes:
        images: Project images the check ran on.
        max_abs_diff: The largest difference in any output.
        tolerance: The largest accepted.
        outputs: The largest difference per named output.
        sizes: The (height, width) input sizes checked (a model of any size only).
    """

    images: int
    max_abs_diff: float
    tolerance: float
    outputs: dict[str, float] = field(default_factory=dict)
    sizes: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote; ``classes_path`` is None for a model without classes."""

    format: str
    run_id: int
    out_dir: Path
    model_path: Path
    card_path: Path
    classes_path: Path | None
    size_bytes: int
    sha256: str
    parity: ParityReport
    seconds: float
    model: str = "classifier"

    @property
    def files(self) -> list[Path]:
        return [p for p in (self.model_path, self.classes_path, self.card_path) if p is not None]


def format_of(path: Path | str) -> str:
    """The format of a model file by its suffix (``.pt`` or ``.onnx``)."""
    suffix = Path(path).suffix
    for fmt, name in MODEL_FILES.items():
        if Path(name).suffix == suffix:
            return fmt
    raise ParityError(f"cannot tell the format of {Path(path).name} (expected .pt or .onnx)")


def checked_runner(path: Path | str, names: Sequence[str]) -> OutputsRunner:
    """The model file at ``path`` loaded back from its bytes; a file that cannot be loaded
    or run raises :class:`ParityError` (a missing package stays an :class:`ExportError`)."""
    path = Path(path)
    fmt = format_of(path)
    try:
        runner = load_outputs(path.read_bytes(), fmt, names)
    except ExportError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever a broken file raises, the answer is a refusal
        raise _unusable(exc) from exc

    def run(pixels: np.ndarray) -> dict[str, np.ndarray]:
        try:
            return runner(pixels)
        except Exception as exc:  # noqa: BLE001 - as above
            raise _unusable(exc) from exc

    return run


def _unusable(exc: BaseException) -> ParityError:
    return ParityError(f"the exported model cannot be loaded or run: {type(exc).__name__}: {exc}")


def max_differences(expected: Mapping[str, np.ndarray], got: Mapping[str, np.ndarray]) -> dict[str, float]:
    """The largest absolute difference per output of ``expected``.

    Raises:
        ParityError: an output is missing or has another shape.
    """
    diffs: dict[str, float] = {}
    for name, want in expected.items():
        want = np.asarray(want, dtype=np.float64)
        have = np.asarray(got.get(name, np.zeros(0)), dtype=np.float64)
        if have.shape != want.shape:
            raise ParityError(f"the exported model answers with {name} of shape {have.shape}, the app's with"
                              f" {want.shape}")
        diffs[name] = float(np.abs(have - want).max()) if want.size else 0.0
    return diffs


def worst(diffs: Mapping[str, float], more: Mapping[str, float]) -> dict[str, float]:
    """Per output, the larger of two differences (NaN wins: it must fail the check)."""
    merged = dict(diffs)
    for name, value in more.items():
        old = merged.get(name)
        merged[name] = value if old is None or not value <= old else old
    return merged


def require_within(diffs: Mapping[str, float], tolerance: float, images: int, words: Mapping[str, str]) -> float:
    """The largest difference; :class:`ParityError` naming every output beyond ``tolerance``
    (``words`` names each output in the message: "a probability", "the heat map")."""
    beyond = [f"{diff:.3g} in {words.get(name, name)}" for name, diff in diffs.items()
              if not diff <= tolerance]  # NaN fails too
    if beyond:
        raise ParityError(f"the exported model differs from the app's by up to {' and '.join(beyond)} on {images}"
                          f" project images (tolerance {tolerance:g})")
    return max(diffs.values(), default=0.0)


def stage_and_check(fmt: str, out_dir: Path, export: Callable[[Path], None], check: Callable[[Path], ParityReport],
                    cancel: threading.Event | None = None) -> Generator[Progress, None, tuple[bytes, ParityReport]]:
    """Exports into a temp folder and checks the file there: (its bytes, the report).

    Raises:
        ParityError: the check failed; the message adds that nothing was written.
    """
    with tempfile.TemporaryDirectory(prefix="labelapp-export-") as staging:
        staged = Path(staging) / MODEL_FILES[fmt]
        export(staged)
        check_cancel(cancel)
        yield Progress(phase="checking the exported model", step=2, total=STEPS)
        data = staged.read_bytes()
        try:
            parity = check(staged)
        except ParityError as exc:
            raise ParityError(f"{exc}; nothing was written to {out_dir}") from None
    return data, parity


def write_export(out_dir: Path, fmt: str, data: bytes, card: dict[str, Any],
                 texts: Mapping[str, str] | None = None) -> tuple[Path, Path, dict[str, Path]]:
    """Writes the model file, the side files ``texts`` (name -> content) and the card last,
    each atomically and readable by anyone: (model path, card path, side file paths)."""
    model_path, card_path = out_dir / MODEL_FILES[fmt], out_dir / CARD_NAME
    write_bytes_atomic(model_path, data)
    side = {name: out_dir / name for name in (texts or {})}
    for name, path in side.items():
        write_text_atomic(path, (texts or {})[name])
    write_text_atomic(card_path, json.dumps(card, indent=1, default=float) + "\n")
    for path in (model_path, *side.values(), card_path):
        path.chmod(0o644)  # made for other machines and users: readable like any copied file
    return model_path, card_path, side


def card_head(run: Run, *, fmt: str, data: bytes) -> dict[str, Any]:
    """The card's first fields: its version, the file, the run."""
    return {"card_version": CARD_VERSION, "format": fmt,
            "model": {"file": MODEL_FILES[fmt], "sha256": sha256_of(data), "bytes": len(data)},
            "method": run.method, "run": run.id, "run_finished_at": run.finished_at}


def card_tail(project: Project, parity: ParityReport) -> dict[str, Any]:
    """The card's last fields: the check, when, from where, with what."""
    import torch

    return {"parity": asdict(parity), "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "project": project.name, "labelapp_version": _version(), "torch_version": torch.__version__}


def save_torchscript(module: Any, example: Any, path: Path) -> None:
    """Traces ``module`` on ``example`` and saves it. Shapes read in ``forward`` are traced
    as operations (the parity check runs other batch sizes and image sizes)."""
    import torch

    with warnings.catch_warnings():
        # TracerWarnings, and torch 2.13's deprecation of TorchScript (still the one-file
        # format that C++ and Python load)
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(module, example, check_trace=False)
        torch.jit.save(traced, str(path))


def save_onnx(module: Any, example: Any, path: Path, *, output_names: Sequence[str],
              dynamic_shapes: dict[str, dict[int, Any]]) -> None:
    """torch.onnx's exporter (torch.export + onnxscript) with the input named ``pixels``.

    Raises:
        ExportError: the exporter failed (its first line says why).
    """
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(module, (example,), dynamo=True, input_names=["pixels"],
                                        output_names=list(output_names), dynamic_shapes=dynamic_shapes,
                                        external_data=False, verbose=False)
        except Exception as exc:  # noqa: BLE001 - the exporter raises many kinds; the first line says enough
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise ExportError(f"the ONNX exporter failed: {type(exc).__name__}: {first}") from exc
    program.save(str(path), external_data=False)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("labelapp")
    except PackageNotFoundError:
        return "unknown"
