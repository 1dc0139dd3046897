"""What the review draws over the editor's canvas: the proposal's outline in its own
colour, or instead of the image the repair or the difference map, and a legend.

The overlay is a transparent child of the canvas that lets every mouse event through
and draws after it, with the canvas's own view transform, so it follows zoom and pan
(``view_changed``) and stays on the image it was made for: it draws nothing while the
canvas shows another image (or none).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QLineF, QObject, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QWidget

from core.media.heat_colors import heat_colors
from core.proposals.store import Proposal
from labelapp.proposals.outline import outline_lines

OUTLINE_COLOR = QColor("#39FF14")  # neon green: no class colour, not on the heat scale
HALO_COLOR = QColor(0, 0, 0, 190)
OUTLINE_WIDTH, HALO_WIDTH = 2.0, 4.0  # screen pixels at every zoom
VIEWS = ("image", "repair", "difference")
LEGEND_BACKGROUND = QColor(20, 22, 26, 200)


def legend_text(proposal: Proposal, cut: float, view: str) -> str:
    """The legend's line: what the outline is, and what is drawn under it."""
    views = {"image": "", "repair": " · showing the repair", "difference": " · showing the difference map"}
    return f"proposed mask · run #{proposal.run_id} · score {proposal.score:.2f} · cut {cut:.3f}{views[view]}"


def _gray_image(pixels: np.ndarray) -> QImage:
    height, width = pixels.shape
    return QImage(pixels.data, width, height, width, QImage.Format.Format_Grayscale8)


def difference_image(difference: np.ndarray) -> tuple[QImage, np.ndarray]:
    """The difference map (float 0..1) on the heat scale, opaque; and the bytes it borrows."""
    values = np.ascontiguousarray(np.clip(np.asarray(difference) * 255.0 + 0.5, 0, 255).astype(np.uint8))
    height, width = values.shape
    image = QImage(values.data, width, height, width, QImage.Format.Format_Indexed8)
    image.setColorTable([QColor(int(r), int(g), int(b)).rgba() for r, g, b in heat_colors()])
    return image, values


class ProposalOverlay(QWidget):
    """Draws one image's proposal over ``canvas`` (the editor's canvas: ``document()``,
    ``view()`` and ``view_changed``)."""

    def __init__(self, canvas: QWidget) -> None:
        super().__init__(canvas)
        self.setObjectName("proposal_overlay")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._canvas = canvas
        self._image_id: int | None = None
        self.lines: list[QLineF] = []  # the outline, image coordinates
        self._view = "image"
        self._repair: tuple[QImage, np.ndarray] | None = None
        self._difference: tuple[QImage, np.ndarray] | None = None
        self._legend = ""
        self.paint_count = 0
        canvas.installEventFilter(self)
        canvas.view_changed.connect(self.update)
        self.setGeometry(canvas.rect())
        self.hide()

    # -- state ---------------------------------------------------------------------------
    def image_id(self) -> int | None:
        return self._image_id

    def set_proposal(self, image_id: int, mask: np.ndarray, *, repair: np.ndarray | None,
                     difference: np.ndarray, legend: str) -> None:
        """Shows the proposal of ``image_id``: ``mask`` bool (H, W), ``repair`` uint8 (H, W)
        or None, ``difference`` float (H, W), all at the image's size."""
        self._image_id = image_id
        kept = None if repair is None else np.ascontiguousarray(repair, dtype=np.uint8)
        self._repair = None if kept is None else (_gray_image(kept), kept)  # the image borrows the kept bytes
        self._difference = difference_image(difference)
        if self._view == "repair" and self._repair is None:
            self._view = "image"
        self._legend = legend
        self.set_mask(mask)
        self.show()
        self.raise_()

    def set_mask(self, mask: np.ndarray) -> None:
        """Redraws the outline of ``mask`` (a slider moved the cut)."""
        self.lines = outline_lines(mask)
        self.update()

    def set_legend(self, legend: str) -> None:
        self._legend = legend
        self.update()

    def clear(self) -> None:
        self._image_id, self.lines = None, []
        self._repair = self._difference = None
        self._view = "image"
        self.hide()

    def has_repair(self) -> bool:
        return self._repair is not None

    def view(self) -> str:
        """What is drawn under the outline: ``image`` (the canvas), ``repair`` or ``difference``."""
        return self._view

    def set_view(self, view: str) -> None:
        if view not in VIEWS:
            raise ValueError(f"unknown view {view!r}; expected one of {VIEWS}")
        self._view = "image" if view == "repair" and self._repair is None else view
        self.update()

    # -- drawing -------------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._canvas and event.type() == QEvent.Type.Resize:
            self.setGeometry(self._canvas.rect())
        return False

    def paintEvent(self, event: QPaintEvent) -> None:
        doc = self._canvas.document()
        if doc is None or doc.image_id != self._image_id:
            return
        view = self._canvas.view()
        painter = QPainter(self)
        painter.setTransform(view.qtransform())
        image = {"repair": self._repair, "difference": self._difference}.get(self._view)
        if image is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, view.scale < 1.0)
            painter.drawImage(QRectF(0, 0, doc.width, doc.height), image[0], QRectF(image[0].rect()))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        for color, width in ((HALO_COLOR, HALO_WIDTH), (OUTLINE_COLOR, OUTLINE_WIDTH)):
            pen = QPen(color, width)
            pen.setCosmetic(True)  # the same width at every zoom
            pen.setCapStyle(Qt.PenCapStyle.SquareCap)
            painter.setPen(pen)
            painter.drawLines(self.lines)
        painter.resetTransform()
        self._draw_legend(painter)
        painter.end()
        self.paint_count += 1

    def _draw_legend(self, painter: QPainter) -> None:
        if not self._legend:
            return
        font = QFont(painter.font())
        font.setPointSizeF(max(8.0, font.pointSizeF() * 0.95))
        painter.setFont(font)
        metrics = painter.fontMetrics()
        text_width = min(self.width() - 40, metrics.horizontalAdvance(self._legend) + 2)
        box = QRectF(6, 6, text_width + 34, metrics.height() + 8)
        painter.fillRect(box, LEGEND_BACKGROUND)
        y = box.center().y()
        for color, width in ((HALO_COLOR, HALO_WIDTH), (OUTLINE_COLOR, OUTLINE_WIDTH)):
            painter.setPen(QPen(color, width))
            painter.drawLine(QPointF(box.left() + 6, y), QPointF(box.left() + 22, y))
        painter.setPen(QColor(235, 235, 235))
        painter.drawText(box.adjusted(28, 0, -4, 0), Qt.AlignmentFlag.AlignVCenter,
                         metrics.elidedText(self._legend, Qt.TextElideMode.ElideRight, int(text_width)))
