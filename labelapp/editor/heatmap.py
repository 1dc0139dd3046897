"""The defect detector's heat map of one image, as the editor draws it over the image.

A seg-dec run (paper 002) stores per image a small uint8 heat map, one cell per 8x8
block of the model input, which was the whole image squashed to a square. The layer
stretches it over the whole image, as :func:`core.training.segdec.upsample_heatmap`
does: a cell lines up with the block of the image it came from (cell centres on block
centres, bilinear in between). The values are upsampled once to a small Indexed8 image
(a few hundred pixels a side) whose colour table is the shared heat scale
(:mod:`core.media.heat_colors`: inferno, opacity rising from a small floor) at the chosen opacity;
the painter stretches that smoothly over the image rectangle, so drawing costs the same
whatever the image size, and an opacity change only swaps the colour table.

Reading one heat map is a (16, 16) copy out of a memmap (about 0.3 ms), so the editor
reads it on the GUI thread when it shows an image.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from PySide6.QtGui import QColor, QImage

from core.media.heat_colors import heat_rgba
from core.store import Project, Run, RunKind, StoreError
from core.training.trust import DetectorTrust, detector_trust

logger = logging.getLogger(__name__)

UPSAMPLE = 16  # intermediate pixels per heat-map cell (the painter interpolates the rest)
NO_RUN_TIP = "Train the defect detector first (needs OK and defect labels)"


def heatmap_color_table(opacity: float) -> list[int]:
    """256 ARGB entries of the heat scale at ``opacity`` (the opacity of a sure defect)."""
    return [QColor(int(r), int(g), int(b), int(a)).rgba() for r, g, b, a in heat_rgba(opacity)]


class HeatmapLayer:
    """One image's heat map, ready to draw over an image of ``width`` x ``height``.

    Attributes:
        heat: (h, w) uint8 heat map as the run stored it (255 = certainly defective).
        values: (H', W') uint8, the heat map upsampled by the core alignment rule
            (H' <= 16 h, W' <= 16 w); ``image`` is it coloured, to be stretched
            over the image rectangle.
    """

    def __init__(self, heat: np.ndarray, width: int, height: int, opacity: float) -> None:
        from core.training.segdec import upsample_heatmap

        self.heat = np.asarray(heat, dtype=np.uint8)
        cells_h, cells_w = self.heat.shape
        side_w = max(cells_w, min(width, UPSAMPLE * cells_w))
        side_h = max(cells_h, min(height, UPSAMPLE * cells_h))
        upsampled = upsample_heatmap(self.heat, side_w, side_h)
        self.values = np.ascontiguousarray(np.round(upsampled * 255.0).astype(np.uint8))
        self._indexed = QImage(self.values.data, side_w, side_h, side_w, QImage.Format.Format_Indexed8)
        self.image = QImage()
        self.set_opacity(opacity)

    def set_opacity(self, opacity: float) -> None:
        self._indexed.setColorTable(heatmap_color_table(opacity))
        self.image = self._indexed.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)

    @property
    def peak(self) -> float:
        """The highest cell, 0..1."""
        return float(self.heat.max()) / 255.0 if self.heat.size else 0.0


@dataclass(frozen=True)
class DefectReading:
    """What the latest defect-detector run says about one image.

    ``probability`` None: the run predicted nothing for it (imported after the run);
    ``heat`` None: the run kept no heat map of it; ``trust``: whether the run may call
    images defective (its threshold decides nothing otherwise).
    """

    run_id: int
    threshold: float
    probability: float | None
    heat: np.ndarray | None
    trust: DetectorTrust

    @property
    def validated(self) -> bool:
        return self.trust.validated

    @property
    def detected(self) -> bool:
        return self.trust.calls_defective(self.probability)

    def text(self) -> str:
        """``defect 0.87 (threshold 0.42)``, ``defect 0.84 · detector not validated yet (…)``,
        or why there is no figure."""
        if self.probability is None:
            return f"defect detector run #{self.run_id} has not seen this image"
        if not self.validated:
            return f"defect {self.probability:.2f} · detector not validated yet ({self.trust.advice})"
        return f"defect {self.probability:.2f} (threshold {self.threshold:.2f})"


def read_defect(project: Project, run: Run, image_id: int) -> DefectReading:
    """The defect probability and heat map of ``image_id`` from seg-dec ``run``."""
    from core.training.segdec import load_heatmap

    threshold = float((run.metrics or {}).get("threshold", 0.5))
    trust = detector_trust(run)
    try:
        prediction = project.predictions.get(image_id, run_id=run.id, kind=RunKind.SEGDEC)
    except StoreError as exc:
        logger.warning("cannot read the defect prediction of image %s: %s", image_id, exc)
        prediction = None
    probability = None if prediction is None else prediction.defect_probability
    try:
        heat = load_heatmap(project, run, image_id)
    except (OSError, ValueError) as exc:  # a damaged heatmaps.npy must not stop the editor
        logger.warning("cannot read the heat map of image %s from run %s: %s", image_id, run.id, exc)
        heat = None
    return DefectReading(run_id=run.id, threshold=threshold,
                         probability=None if probability is None else float(probability), heat=heat, trust=trust)
