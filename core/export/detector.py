"""Exporting a defect-detector run as one model file of any input size, checked before it is kept.

The run's net goes out wrapped in :class:`models.segdec.SegDecPredictor`: gray pixels
0-255 ``(B, 1, H, W)`` of any size at the run's working scale in, the defect probability
``(B,)`` and the heat map ``(B, 1, ceil(H/8), ceil(W/8))`` out; the scaling to 0..1, the
image's standardisation and the padding to a multiple of 8 happen inside. TorchScript
traces the predictor (its shape arithmetic is recorded as operations, so other sizes
work); ONNX exports it with dynamic batch, height and width, its image statistics summed
in float64 (:func:`_onnx_predictor`).

The model is traced (exported) with a crop of a project image whose size no project
image has (not square, sides multiples of 8; torch.export's named dimensions need that).
The parity check decodes a sample of the project's images exactly as the app does
(:func:`core.training.segdec_pixels.decode_scaled` at the run's scale) and compares both
outputs with the app's own inference (:func:`models.segdec.predict_image`) on them, on
that crop, and on a crop of yet another size (not square, sides not multiples of 8):
each image alone, the first few of one size as a batch, one image as float32. So an input
size frozen into the file shows. A model that disagrees is refused and nothing is
written; one that agrees is written with its card (:mod:`core.export.detector_card`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.export.common import (
    ONNX_MAX_BATCH,
    STEPS,
    ExportResult,
    ParityReport,
    checked_runner,
    max_differences,
    require_within,
    save_onnx,
    save_torchscript,
    stage_and_check,
    worst,
    write_export,
)
from core.export.detector_card import detector_card
from core.export.exported import DETECTOR_OUTPUTS, ExportError, check_format, require_packages
from core.jobs.base import Progress, check_cancel
from core.store import Project, Run
from core.training.model_io import load_detector

__all__ = ["EXPORTERS", "check_detector_parity", "iter_export_detector", "other_size", "sample_images"]

logger = logging.getLogger(__name__)
STRIDE = 8  # input pixels per heat-map cell (models.segdec.STRIDE; models is imported lazily)
BATCH_CHECK = 4  # images of one size also checked together, to show a free batch size
MAX_SIDE = 1 << 16  # the largest height or width an ONNX model accepts
OUTPUT_WORDS = {"defect_probability": "the defect probability", "heatmap": "the heat map"}


def iter_export_detector(project: Project, run: Run | None = None, *, fmt: str, out_dir: Path | str,
                         sample: int = 32, tolerance: float = 1e-4, cancel: threading.Event | None = None,
                         ) -> Generator[Progress, None, ExportResult]:
    """Exports ``run`` (default: the newest finished defect-detector run) into ``out_dir``:
    the model file and ``model_card.json``; yields a record per phase.

    Raises:
        ParityError: the exported model disagrees with the app's; nothing was written.
        ExportError: an unknown format, a missing package, no readable image, or the
            exporter failed.
        StoreError: not a finished detector run, or one too old to export.
    """
    started = time.perf_counter()
    require_packages(check_format(fmt), to_export=True)
    out_dir = Path(out_dir)
    yield Progress(phase="loading the run", step=0, total=STEPS)
    loaded = load_detector(project, run)
    images = sample_images(project, loaded.scale, sample, cancel=cancel)
    example, odd = other_size(images[0], multiple=True), other_size(images[0])
    check_cancel(cancel)
    yield Progress(phase=f"exporting as {fmt}", step=1, total=STEPS)
    data, parity = yield from stage_and_check(
        fmt, out_dir, lambda path: EXPORTERS[fmt](loaded.net, example, path),
        lambda path: check_detector_parity(loaded.net, path, images, tolerance, extra=[example, odd]), cancel)
    check_cancel(cancel)
    yield Progress(phase="writing", step=3, total=STEPS)
    card = detector_card(project, loaded, fmt=fmt, data=data, parity=parity)
    model_path, card_path, _ = write_export(out_dir, fmt, data, card)
    logger.info("exported detector run %d as %s to %s (max diff %.2g)", loaded.run.id, fmt, out_dir,
                parity.max_abs_diff)
    return ExportResult(format=fmt, run_id=loaded.run.id, out_dir=out_dir, model_path=model_path,
                        card_path=card_path, classes_path=None, size_bytes=len(data),
                        sha256=card["model"]["sha256"], parity=parity, seconds=time.perf_counter() - started,
                        model="detector")


def sample_images(project: Project, scale: float, count: int, *, cancel: threading.Event | None = None,
                  ) -> list[np.ndarray]:
    """Up to ``count`` readable images spread over the project, each gray uint8 at ``scale``
    (:func:`core.training.segdec_pixels.decode_scaled`, the app's own decoding).

    Raises:
        ExportError: no image of the project can be read.
    """
    from core.media.imaging import UnreadableImageError
    from core.training.segdec_pixels import decode_scaled

    rows = list(project.images.paths_by_id().items())
    count = max(1, count)
    # spread picks first, then the rest in order, so unreadable files are made up for
    spread = np.unique(np.linspace(0, len(rows) - 1, min(count, len(rows))).round().astype(int)).tolist()
    picked = set(spread)
    order = spread + [k for k in range(len(rows)) if k not in picked]
    images: list[np.ndarray] = []
    for k in order:
        if len(images) >= count:
            break
        check_cancel(cancel)
        try:
            images.append(np.array(decode_scaled(str(project.images.resolve(rows[k][1])), scale)))  # writable
        except (OSError, UnreadableImageError):
            continue
    if not images:
        raise ExportError("the project has no readable image to check the exported model on")
    return images


def other_size(image: np.ndarray, *, multiple: bool = False) -> np.ndarray:
    """A crop of ``image`` (edge-padded where it is too small) of another size, not square,
    with sides that are not multiples of 8 (``multiple``: that are)."""
    height, width = image.shape
    side = _multiple_side if multiple else _odd_side
    rows, cols = side(height * 3 // 4), side(width * 3 // 5)
    while rows == cols or (rows, cols) == (height, width):
        cols = side(cols + 1)
    grown = np.pad(image, ((0, max(0, rows - height)), (0, max(0, cols - width))), mode="edge")
    return np.ascontiguousarray(grown[:rows, :cols])


def _odd_side(side: int) -> int:
    side = max(STRIDE + 1, side)
    return side + 1 if side % STRIDE == 0 else side


def _multiple_side(side: int) -> int:
    return max(STRIDE, -(-side // STRIDE) * STRIDE)


def check_detector_parity(net: Any, exported_path: Path | str, images: Sequence[np.ndarray], tolerance: float, *,
                          extra: Sequence[np.ndarray] = ()) -> ParityReport:
    """Loads the detector file back from its bytes and compares both outputs with the app's
    inference (:func:`models.segdec.predict_image`) on ``images`` and ``extra`` ((h, w)
    uint8 at the working scale): each alone as uint8, up to :data:`BATCH_CHECK` of one
    size together, the first as float32.

    Raises:
        ParityError: the file cannot be loaded or run, gives another shape, or differs by
            more than ``tolerance`` in the defect probability or any heat-map cell.
    """
    from models.segdec import predict_image

    run = checked_runner(exported_path, DETECTOR_OUTPUTS)
    every = [np.ascontiguousarray(image, dtype=np.uint8) for image in (*images, *extra)]
    expected = [predict_image(net, image) for image in every]

    def want(picks: Sequence[int]) -> dict[str, np.ndarray]:
        return {"defect_probability": np.array([expected[k][0] for k in picks]),
                "heatmap": np.stack([expected[k][1] for k in picks])[:, None]}

    diffs: dict[str, float] = {}
    for k, image in enumerate(every):
        diffs = worst(diffs, max_differences(want([k]), run(image[None, None])))
    shapes = [image.shape for image in every]
    common, _ = Counter(shapes).most_common(1)[0]
    group = [k for k, shape in enumerate(shapes) if shape == common][:BATCH_CHECK]
    if len(group) > 1:
        batch = np.stack([every[k] for k in group])[:, None]
        diffs = worst(diffs, max_differences(want(group), run(batch)))
    diffs = worst(diffs, max_differences(want([0]), run(every[0][None, None].astype(np.float32))))
    diff = require_within(diffs, tolerance, len(images), OUTPUT_WORDS)
    sizes = tuple(sorted({(int(h), int(w)) for h, w in shapes}))
    return ParityReport(images=len(images), max_abs_diff=diff, tolerance=tolerance, outputs=diffs, sizes=sizes)


def _predictor(net: Any) -> Any:
    from models.segdec import SegDecPredictor

    return SegDecPredictor(net).eval()


def _example(image: np.ndarray) -> Any:
    """A batch of two of ``image``: (2, 1, h, w) uint8 (a batch of one could be frozen)."""
    import torch

    return torch.from_numpy(np.stack([image, image])[:, None])


def _export_torchscript(net: Any, image: np.ndarray, path: Path) -> None:
    """Traces with two uint8 images of ``image``'s size; batch, size and type stay free
    (the tracer records the predictor's padding arithmetic as operations on the shape)."""
    save_torchscript(_predictor(net), _example(image), path)


def _export_onnx(net: Any, image: np.ndarray, path: Path) -> None:
    """float32 input with dynamic batch, height and width (see :func:`_onnx_predictor`)."""
    import torch

    dims = {0: torch.export.Dim("batch", min=1, max=ONNX_MAX_BATCH), 2: torch.export.Dim("height", min=1, max=MAX_SIDE),
            3: torch.export.Dim("width", min=1, max=MAX_SIDE)}
    save_onnx(_onnx_predictor(net), _example(image).float(), path, output_names=DETECTOR_OUTPUTS,
              dynamic_shapes={"pixels": dims})


def _onnx_predictor(net: Any) -> Any:
    """:class:`models.segdec.SegDecPredictor` with each image's mean and spread summed in
    float64. ONNX Runtime adds up a float32 ReduceMean one value after another: on a
    887x354 demo part its mean was 5e-5 off torch's, and divided by the part's small
    spread that moved the outputs by 1e-3. In float64 (two passes) they agree within 3e-6."""
    import torch
    from torch.nn import functional as F

    from models.segdec.net import MIN_STD

    class OnnxPredictor(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            x = pixels.float() / 255.0
            wide = x.double()  # the statistics of the image itself, before the padding
            mean = wide.mean(dim=(1, 2, 3), keepdim=True)
            spread = (wide - mean).square().mean(dim=(1, 2, 3)).sqrt().clamp_min(MIN_STD)
            stats = torch.stack([mean.flatten(), spread], dim=1).float()
            height, width = x.shape[-2], x.shape[-1]
            x = F.pad(x, (0, (-width) % STRIDE, 0, (-height) % STRIDE), mode="replicate")
            logit, seg = self.net(x, stats)
            return torch.sigmoid(logit), torch.sigmoid(seg)

    return OnnxPredictor().eval()


EXPORTERS = {"torchscript": _export_torchscript, "onnx": _export_onnx}
