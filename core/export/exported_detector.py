"""Running an exported defect detector on image files, without a project.

Each file is decoded exactly as the app decodes it for the detector
(:func:`core.training.segdec_pixels.decode_scaled` at the card's scale: gray, resized
keeping the aspect ratio) and goes through the model alone (sizes differ). The answer is
the defect probability, whether it is at or above the card's threshold, and "defective"
only when the card says the detector was validated. Heat maps can be written as PNGs the
size of the original image, aligned as the app aligns them: the cells resampled to tile
the working image (:func:`models.segdec.heat_on_image_grid`), then stretched over the
image (:func:`core.training.heatmaps.upsample_heatmap`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.export.exported import ExportedModel, ExportError, unreadable_reason
from core.files import atomic_writer, unique_stem

HEATMAP_SUFFIX = "-heatmap.png"


@dataclass(frozen=True)
class DetectorPrediction:
    """The detector's answer for one file, or why there is none (``error``).

    Attributes:
        defect_probability: 0..1.
        at_or_above: Whether it is at or above the card's threshold.
        defective: ``at_or_above`` when the card says the detector was validated, else None.
        image_size: (height, width) of the file's image.
        working_size: (height, width) the model saw.
        heatmap_path: The PNG written, when asked for.
    """

    path: Path
    defect_probability: float | None = None
    at_or_above: bool | None = None
    defective: bool | None = None
    image_size: tuple[int, int] | None = None
    working_size: tuple[int, int] | None = None
    heatmap_path: Path | None = None
    error: str | None = None


def predict_detector_files(model: ExportedModel, paths: list[Path], *,
                           heatmaps: Path | None = None) -> Iterator[DetectorPrediction]:
    """One :class:`DetectorPrediction` per path, in order; unreadable files carry the
    reason. With ``heatmaps``, ``<stem>-heatmap.png`` of each readable file goes there
    (gray, 0 = no defect, 255 = sure; ``-2``, ``-3``... when stems repeat).

    Raises:
        ExportError: ``model`` is not a defect detector.
    """

    from core.media.imaging import UnreadableImageError, shown_size
    from core.training.segdec_pixels import decode_scaled

    if not model.is_detector:
        raise ExportError(f"{model.folder} holds a classifier, not a defect detector")
    scale, threshold = float(model.card["input"]["scale"]), float(model.card["threshold"])
    validated = bool(model.card["validated"])
    used: set[str] = set()
    for path in paths:
        try:
            image = decode_scaled(str(path), scale)
            width, height = shown_size(path)
        except (OSError, UnreadableImageError):
            yield DetectorPrediction(path=path, error=unreadable_reason(path))
            continue
        outputs = model.outputs(image[None, None])
        p = float(outputs["defect_probability"][0])
        written = None
        if heatmaps is not None:
            written = heatmaps / f"{unique_stem(path.stem, used)}{HEATMAP_SUFFIX}"
            save_heatmap(heatmap_image(outputs["heatmap"][0, 0], image.shape, (height, width)), written)
        yield DetectorPrediction(path=path, defect_probability=p, at_or_above=p >= threshold,
                                 defective=(p >= threshold) if validated else None, image_size=(height, width),
                                 working_size=(int(image.shape[0]), int(image.shape[1])), heatmap_path=written)


def heatmap_image(cells: np.ndarray, working_size: tuple[int, int], image_size: tuple[int, int]) -> np.ndarray:
    """The model's heat map ``cells`` ((ceil(h/8), ceil(w/8)) in 0..1, over the padded
    ``working_size`` input) as a uint8 image of ``image_size`` (height, width), aligned
    with the image's pixels (as the app stores and stretches its heat maps)."""
    from core.training.heatmaps import upsample_heatmap
    from models.segdec import heat_on_image_grid

    on_grid = heat_on_image_grid(np.asarray(cells, dtype=np.float32), *working_size)
    stored = (np.clip(on_grid, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    height, width = image_size
    return (upsample_heatmap(stored, width, height) * 255.0 + 0.5).astype(np.uint8)


def save_heatmap(heat: np.ndarray, path: Path) -> None:
    from PIL import Image as PILImage

    with atomic_writer(path, "wb", durable=False) as handle:  # many files, remade by running again: no fsync
        PILImage.fromarray(np.ascontiguousarray(heat, dtype=np.uint8)).save(handle, format="PNG")
