"""The embedding map's canvas: 100,000 points drawn in a few milliseconds, hover, click and lasso.

pyqtgraph's ``ScatterPlotItem`` spends ~150 ms in Python on ``setData`` for 100,000 points
(and as much on every recolour), so :class:`PointCloud` draws the points itself: one
small pixmap per colour, stamped at every point's device position with a single
``drawPixmapFragments`` call per colour (what ``ScatterPlotItem`` does inside, without
its per-point records). A recolour re-sorts the points by colour (a few ms); a frame maps
the points to pixels with numpy and stamps them (~10 ms for 100,000 on one core,
``benchmarks/map_bench.py``).

Hit-testing uses a k-d tree of the 2-D coordinates (microseconds a mouse move). The
lasso polygon is filled into a mask image of the view and each point looks up its pixel:
one vectorised pass whatever the polygon's length. The canvas works in point indices;
the panel maps them to image ids. :class:`HoverCard` is the thumbnail beside a hovered dot.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from pyqtgraph.Qt import internals
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen, QPixmap, QPolygonF
from PySide6.QtWidgets import QFrame, QGraphicsPathItem, QLabel, QVBoxLayout, QWidget

HOVER_RADIUS_PX = 7  # a point this close to the cursor counts as under it
LASSO_MIN_STEP_PX = 2.0  # lasso vertices closer than this to the previous one are dropped


def point_size(n: int) -> int:
    """Dot diameter in pixels: larger for few points, small enough for 100,000."""
    return 8 if n <= 2_000 else 6 if n <= 20_000 else 4


def dot_pixmap(color: QColor, size: int, *, ring: bool = False) -> QPixmap:
    """A filled dot (or, with ``ring``, a dark ring around a dot's place) ``size`` px wide."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    if ring:
        painter.setPen(QPen(color, 2.0))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawEllipse(QRectF(1, 1, size - 2, size - 2))
    else:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        painter.drawEllipse(QRectF(0, 0, size, size))
    painter.end()
    return pixmap


class PointCloud(pg.GraphicsObject):
    """Points in view coordinates, each in one of a few colour groups, drawn group by
    group (later groups on top) as fixed-size dots."""

    def __init__(self, *, ring: bool = False) -> None:
        super().__init__()
        self._ring = ring
        self._xy = np.zeros((0, 2), np.float64)
        self._order = np.zeros(0, np.int64)  # point indices sorted by group
        self._bounds = np.zeros(1, np.int64)  # group g: self._order[bounds[g]:bounds[g + 1]]
        self._pixmaps: list[QPixmap] = []
        self._size = 4
        self._rect = QRectF()
        self._fragments = internals.PrimitiveArray(QPainter.PixmapFragment, 10)

    def set_points(self, xy: np.ndarray) -> None:
        """(N, 2) coordinates; every point is in no group until :meth:`set_groups`."""
        self.prepareGeometryChange()
        self._xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        self._order = np.zeros(0, np.int64)
        self._bounds = np.zeros(1, np.int64)
        if len(self._xy):
            low, high = self._xy.min(axis=0), self._xy.max(axis=0)
            self._rect = QRectF(low[0], low[1], max(high[0] - low[0], 1e-9), max(high[1] - low[1], 1e-9))
        else:
            self._rect = QRectF()
        self.update()

    def set_groups(self, groups: np.ndarray, colors: list[QColor], size: int) -> None:
        """``groups`` (N,) int: the colour index of each point, -1 to hide it."""
        groups = np.asarray(groups, dtype=np.int64)
        shown = np.flatnonzero(groups >= 0)
        self._order = shown[np.argsort(groups[shown], kind="stable")]
        self._bounds = np.searchsorted(groups[self._order], np.arange(len(colors) + 1))
        self._pixmaps = [dot_pixmap(c, size, ring=self._ring) for c in colors]
        if size != self._size:
            self.prepareGeometryChange()
            self._size = size
        self.update()

    def set_subset(self, indices: np.ndarray, color: QColor, size: int) -> None:
        """Shows only ``indices``, all in ``color`` (the selection rings)."""
        groups = np.full(len(self._xy), -1, np.int64)
        groups[np.asarray(indices, dtype=np.int64)] = 0
        self.set_groups(groups, [color], size)

    # -- QGraphicsItem ---------------------------------------------------------------------
    def dataBounds(self, axis: int, frac: float = 1.0, orthoRange: object = None) -> tuple[float, float] | None:
        if not len(self._xy):
            return None
        column = self._xy[:, axis]
        return float(column.min()), float(column.max())

    def pixelPadding(self) -> float:
        return self._size / 2 + 1

    def boundingRect(self) -> QRectF:
        if self._rect.isNull():
            return QRectF()
        px = self.pixelLength(pg.Point(1, 0)) or 0.0
        py = self.pixelLength(pg.Point(0, 1)) or 0.0
        pad_x, pad_y = px * self._size, py * self._size
        return self._rect.adjusted(-pad_x, -pad_y, pad_x, pad_y)

    def paint(self, painter: QPainter, *_args: object) -> None:
        if not len(self._order):
            return
        transform = painter.transform()
        xy = self._xy[self._order]
        x = xy[:, 0] * transform.m11() + xy[:, 1] * transform.m21() + transform.dx()
        y = xy[:, 0] * transform.m12() + xy[:, 1] * transform.m22() + transform.dy()
        viewport = painter.viewport()
        margin = self._size
        visible = (x > viewport.left() - margin) & (x < viewport.right() + margin) \
            & (y > viewport.top() - margin) & (y < viewport.bottom() + margin)
        painter.save()
        painter.resetTransform()
        for group, pixmap in enumerate(self._pixmaps):
            start, stop = self._bounds[group], self._bounds[group + 1]
            keep = visible[start:stop]
            n = int(keep.sum())
            if not n:
                continue
            self._fragments.resize(n)
            fragments = self._fragments.ndarray()
            fragments[:, 0] = x[start:stop][keep]
            fragments[:, 1] = y[start:stop][keep]
            fragments[:, 2:4] = 0.0
            fragments[:, 4] = pixmap.width()
            fragments[:, 5] = pixmap.height()
            fragments[:, 6:8] = 1.0
            fragments[:, 8] = 0.0
            fragments[:, 9] = 1.0
            painter.drawPixmapFragments(*self._fragments.drawargs(), pixmap)
        painter.restore()


class MapViewBox(pg.ViewBox):
    """A view box whose left drag draws a lasso while :attr:`lasso_mode` is on or Shift /
    Ctrl is held (Ctrl adds to the selection); otherwise it pans. Wheel zooms.

    Signals:
        lasso_drawn(object, bool): the polygon, (M, 2) in the box's own pixels, and
            whether to add it to the selection.
        clicked(object): where a left click fell, in the box's own pixels.
    """

    lasso_drawn = Signal(object, bool)
    clicked = Signal(object)

    def __init__(self) -> None:
        super().__init__(lockAspect=True, enableMenu=False)
        self.lasso_mode = False
        self._lasso: list[tuple[float, float]] = []
        self._path = QGraphicsPathItem()
        pen = QPen(QColor(20, 20, 20), 1.5, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        self._path.setPen(pen)
        self._path.setBrush(QColor(255, 200, 0, 40))
        self._path.setZValue(100)
        self._path.setParentItem(self)  # in the box's pixels, not in view coordinates
        self._path.hide()

    def mouseDragEvent(self, ev: object, axis: int | None = None) -> None:
        modifiers = ev.modifiers()  # type: ignore[attr-defined]
        held = modifiers & (Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.ControlModifier)
        if ev.button() != Qt.MouseButton.LeftButton or not (self.lasso_mode or held):  # type: ignore[attr-defined]
            self._path.hide()
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()  # type: ignore[attr-defined]
        if ev.isStart():  # type: ignore[attr-defined]
            start = ev.buttonDownPos(Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
            self._lasso = [(start.x(), start.y())]
        self._extend(ev.pos())  # type: ignore[attr-defined]
        if ev.isFinish():  # type: ignore[attr-defined]
            self._path.hide()
            polygon, self._lasso = np.array(self._lasso, dtype=np.float64), []
            add = bool(modifiers & Qt.KeyboardModifier.ControlModifier)
            if len(polygon) >= 3:
                self.lasso_drawn.emit(polygon, add)

    def _extend(self, pos: QPointF) -> None:
        last = self._lasso[-1] if self._lasso else None
        if last is not None and abs(pos.x() - last[0]) + abs(pos.y() - last[1]) < LASSO_MIN_STEP_PX:
            return
        self._lasso.append((pos.x(), pos.y()))
        path = QPainterPath()
        path.addPolygon(QPolygonF([QPointF(x, y) for x, y in self._lasso]))
        path.closeSubpath()
        self._path.setPath(path)
        self._path.show()

    def mouseClickEvent(self, ev: object) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:  # type: ignore[attr-defined]
            ev.accept()  # type: ignore[attr-defined]
            self.clicked.emit(ev.pos())  # type: ignore[attr-defined]
            return
        super().mouseClickEvent(ev)


class MapCanvas(pg.GraphicsView):
    """The points, the selection rings and the hover ring in one aspect-locked view.

    Signals:
        hovered(object): the index of the point under the cursor, None when none.
        point_clicked(int): the index of the point a left click hit.
        lasso_selected(object, bool): indices (ascending) inside a lasso, and whether
            to add them to the selection.
    """

    hovered = Signal(object)
    point_clicked = Signal(int)
    lasso_selected = Signal(object, bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, background="w")
        self.setObjectName("map_canvas")
        self.box = MapViewBox()
        self.setCentralItem(self.box)
        self.points = PointCloud()
        self.rings = PointCloud(ring=True)
        self.rings.setZValue(10)
        self.hover_ring = PointCloud(ring=True)
        self.hover_ring.setZValue(20)
        for item in (self.points, self.rings, self.hover_ring):
            self.box.addItem(item, ignoreBounds=item is not self.points)
        self._xy = np.zeros((0, 2), np.float64)
        self._tree = None
        self._hover: int | None = None
        self.size_px = 4
        self.box.lasso_drawn.connect(self._on_box_lasso_drawn)
        self.box.clicked.connect(self._on_box_clicked)
        self.scene().sigMouseMoved.connect(self._on_scene_mouse_moved)
        self.setMouseTracking(True)

    # -- content --------------------------------------------------------------------------------
    def set_layout(self, xy: np.ndarray) -> None:
        """New coordinates for the points (same count and order as the colours that follow)."""
        from scipy.spatial import cKDTree

        self._xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        self._tree = cKDTree(self._xy) if len(self._xy) else None
        self.size_px = point_size(len(self._xy))
        for item in (self.points, self.rings, self.hover_ring):
            item.set_points(self._xy)
        self._hover = None
        self.fit()

    def set_groups(self, groups: np.ndarray, colors: list[QColor]) -> None:
        self.points.set_groups(groups, colors, self.size_px)

    def set_selection(self, indices: np.ndarray) -> None:
        self.rings.set_subset(indices, QColor(10, 10, 10), self.size_px + 6)

    def point_count(self) -> int:
        return len(self._xy)

    def fit(self) -> None:
        if len(self._xy):
            self.box.autoRange(padding=0.04)

    # -- geometry ------------------------------------------------------------------------------
    def box_pixels(self, indices: np.ndarray | None = None) -> np.ndarray:
        """(N, 2) positions of the points (or of ``indices``) in the view box's own pixels."""
        xy = self._xy if indices is None else self._xy[indices]
        t = self.box.childTransform()  # view -> box pixels, brought up to date
        return np.stack([xy[:, 0] * t.m11() + xy[:, 1] * t.m21() + t.dx(),
                         xy[:, 0] * t.m12() + xy[:, 1] * t.m22() + t.dy()], axis=1)

    def widget_position(self, index: int) -> QPointF:
        """Where point ``index`` is on the canvas (viewport pixels)."""
        x, y = self.box_pixels(np.array([index]))[0]
        return QPointF(self.mapFromScene(self.box.mapToScene(QPointF(float(x), float(y)))))

    def index_at(self, box_pos: QPointF, radius_px: float = HOVER_RADIUS_PX) -> int | None:
        """The point nearest ``box_pos`` (view-box pixels) within ``radius_px``, else None."""
        if self._tree is None:
            return None
        view = self.box.mapToView(box_pos)
        pixel = max(self.box.viewPixelSize())
        distance, index = self._tree.query([view.x(), view.y()], k=1, distance_upper_bound=radius_px * pixel)
        return int(index) if np.isfinite(distance) else None

    def indices_in(self, polygon: np.ndarray) -> np.ndarray:
        """Indices (ascending) of the points inside ``polygon`` ((M, 2) view-box pixels,
        even-odd rule): the polygon is filled into a mask the size of the box and every
        point reads its pixel."""
        rect = self.box.boundingRect()
        width, height = int(np.ceil(rect.width())), int(np.ceil(rect.height()))
        if not len(self._xy) or width <= 0 or height <= 0:
            return np.zeros(0, np.int64)
        mask = QImage(width, height, QImage.Format.Format_Grayscale8)
        mask.fill(0)
        painter = QPainter(mask)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(255, 255, 255))
        painter.drawPolygon(QPolygonF([QPointF(float(x), float(y)) for x, y in polygon]))
        painter.end()
        bits = np.frombuffer(mask.constBits(), np.uint8).reshape(height, mask.bytesPerLine())
        pixels = np.floor(self.box_pixels()).astype(np.int64)
        px, py = pixels[:, 0], pixels[:, 1]
        on_view = np.flatnonzero((px >= 0) & (px < width) & (py >= 0) & (py < height))
        return on_view[bits[py[on_view], px[on_view]] > 127]

    # -- events --------------------------------------------------------------------------------
    def _on_scene_mouse_moved(self, scene_pos: QPointF) -> None:
        index = self.index_at(self.box.mapFromScene(scene_pos)) \
            if self.box.sceneBoundingRect().contains(scene_pos) else None
        self._set_hover(index)

    def leaveEvent(self, event: object) -> None:
        self._set_hover(None)
        super().leaveEvent(event)

    def _set_hover(self, index: int | None) -> None:
        if index == self._hover:
            return
        self._hover = index
        self.hover_ring.set_subset(np.array([] if index is None else [index], np.int64), QColor(230, 30, 30),
                                   self.size_px + 10)
        self.hovered.emit(index)

    def _on_box_clicked(self, box_pos: QPointF) -> None:
        index = self.index_at(box_pos)
        if index is not None:
            self.point_clicked.emit(index)

    def _on_box_lasso_drawn(self, polygon: np.ndarray, add: bool) -> None:
        self.lasso_selected.emit(self.indices_in(polygon), add)


class HoverCard(QFrame):
    """The thumbnail and a few words about the image under the cursor, beside its dot."""

    OFFSET = QPoint(16, 16)

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("map_hover_card")
        self.setFrameShape(QFrame.Shape.Box)
        self.setStyleSheet("#map_hover_card { background: white; border: 1px solid #888; }")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.picture = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.text = QLabel(textFormat=Qt.TextFormat.RichText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(2)
        layout.addWidget(self.picture)
        layout.addWidget(self.text)
        self.hide()

    def show_for(self, pixmap: QPixmap | None, text: str, cursor: QPoint) -> None:
        """Shows beside ``cursor`` (parent pixels), on the side where it fits."""
        if pixmap is None:
            self.picture.setText("no thumbnail")
        else:
            self.picture.setPixmap(pixmap)
        self.text.setText(text)
        self.adjustSize()
        area = self.parentWidget().rect()
        x = cursor.x() + self.OFFSET.x()
        y = cursor.y() + self.OFFSET.y()
        if x + self.width() > area.right():
            x = cursor.x() - self.OFFSET.x() - self.width()
        if y + self.height() > area.bottom():
            y = cursor.y() - self.OFFSET.y() - self.height()
        self.move(max(0, x), max(0, y))
        self.show()
        self.raise_()
