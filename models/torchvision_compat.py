"""Make torchvision importable next to the CPU build of torch.

The torchvision wheel pinned with torch 2.13.0 is built against CUDA. Next to the
CPU torch its native library ``torchvision/_C.so`` cannot load, and importing
torchvision then fails inside ``torchvision/_meta_registrations.py`` with
``RuntimeError: operator torchvision::nms does not exist``; ``lightly`` fails the
same way because it imports torchvision.

:func:`install` puts a finder in front of ``sys.meta_path`` that runs once, right
before torchvision is first imported. It tries to load the native library; only if
that fails does it define the ``torchvision::nms`` and ``torchvision::qnms`` operator
schemas with a plain-torch CPU kernel, so that torchvision's import succeeds and
``torchvision.ops.nms`` / ``batched_nms`` work. Ops with a Python fallback
(``roi_align``) keep using it; ops without one (``deform_conv2d``, ``ps_roi_*``) still
raise torchvision's own error. ``torchvision.io`` decoders stay unavailable: read
images with Pillow. With a torchvision whose native library loads, nothing is changed.

The finder imports nothing itself until torchvision is requested, so installing it
costs nothing for code paths that never touch torch.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import logging
import sys
from enum import Enum
from pathlib import Path
from types import ModuleType
from typing import Any

logger = logging.getLogger(__name__)


class Mode(Enum):
    """How torchvision's operators are provided in this process."""

    NOT_IMPORTED = "not imported yet"
    NATIVE = "native library"
    FALLBACK = "plain-torch fallback"
    UNKNOWN = "imported before the compatibility hook"


_mode = Mode.NOT_IMPORTED
_library: Any = None  # keeps the torch.library.Library with the fallback ops alive


def mode() -> Mode:
    """Returns how torchvision's operators are provided in this process."""
    if _mode is Mode.NOT_IMPORTED and "torchvision" in sys.modules:
        return Mode.UNKNOWN
    return _mode


def nms_reference(boxes: Any, scores: Any, iou_threshold: float) -> Any:
    """Greedy non-maximum suppression in plain torch (CPU).

    Args:
        boxes: (N, 4) boxes as (x1, y1, x2, y2).
        scores: (N,) scores.
        iou_threshold: boxes overlapping a kept box with IoU above this are dropped.

    Returns:
        (K,) int64 indices of the kept boxes, by decreasing score.
    """
    import torch

    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.long, device=boxes.device)
    boxes = boxes.to(torch.float64)
    x1, y1, x2, y2 = boxes.unbind(dim=1)
    areas = (x2 - x1).clamp(min=0) * (y2 - y1).clamp(min=0)
    order = torch.argsort(scores, descending=True, stable=True)
    suppressed = torch.zeros(boxes.shape[0], dtype=torch.bool)
    keep: list[int] = []
    for idx in order.tolist():
        if suppressed[idx]:
            continue
        keep.append(idx)
        w = (torch.minimum(x2[idx], x2) - torch.maximum(x1[idx], x1)).clamp(min=0)
        h = (torch.minimum(y2[idx], y2) - torch.maximum(y1[idx], y1)).clamp(min=0)
        inter = w * h
        iou = inter / (areas[idx] + areas - inter).clamp(min=1e-12)
        suppressed |= iou > iou_threshold
    return torch.tensor(keep, dtype=torch.long, device=scores.device)


def _native_library_loads(package_dir: Path) -> bool:
    import torch

    candidates = sorted(package_dir.glob("_C*.so")) + sorted(package_dir.glob("_C*.pyd"))
    for path in candidates:
        try:
            torch.ops.load_library(str(path))
            return True
        except (OSError, RuntimeError) as exc:
            logger.debug("torchvision native library %s does not load: %s", path, exc)
    return False


def _register_fallback_ops() -> None:
    global _library
    import torch

    lib = torch.library.Library("torchvision", "DEF")
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.impl("nms", nms_reference, "CPU")
    lib.impl("qnms", nms_reference, "CPU")
    _library = lib


def _after_import() -> None:
    # torchvision.ops.nms asserts that the native library loaded; the fallback op is
    # there, so let nms through. Everything else keeps torchvision's own checks.
    boxes = sys.modules.get("torchvision.ops.boxes")
    if boxes is not None:
        boxes._assert_has_ops = lambda: None  # type: ignore[attr-defined]


class _Loader(importlib.abc.Loader):
    """Wraps torchvision's own loader to patch after its module body has run."""

    def __init__(self, inner: importlib.abc.Loader) -> None:
        self._inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._inner.exec_module(module)  # type: ignore[attr-defined]
        _after_import()


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Any, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "torchvision":
            return None
        _remove_finder()
        # PathFinder, not importlib.util.find_spec, so this finder is not re-entered.
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not spec.submodule_search_locations:
            return spec
        return _prepare(spec)


def _prepare(spec: importlib.machinery.ModuleSpec) -> importlib.machinery.ModuleSpec:
    global _mode
    package_dir = Path(next(iter(spec.submodule_search_locations or [])))
    if _native_library_loads(package_dir):
        _mode = Mode.NATIVE
        return spec
    logger.info("torchvision's native library does not load; using plain-torch nms")
    _register_fallback_ops()
    _mode = Mode.FALLBACK
    if spec.loader is not None:
        spec.loader = _Loader(spec.loader)
    return spec


def _remove_finder() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _Finder)]


def install() -> None:
    """Arms the hook; idempotent. Call before torchvision is first imported."""
    if "torchvision" in sys.modules:
        return
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
