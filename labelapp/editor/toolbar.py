"""The editor's tool bar: tools, paint class, brush size, overlay, heat map, zoom, window/level.

Its controls never take keyboard focus, so the main window's single-key shortcuts keep
working after a click on them. It only reports what the user chose; the editor acts.

The tools, the paint controls (class, brush size, overlay) and the view controls (heat
map, fit, zoom) are three tool bars in a row; when the editor is too narrow for them, a
bar wraps to the next row rather than hide its controls behind the overflow button.
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt, Signal, Slot
from PySide6.QtGui import QAction, QActionGroup, QResizeEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.store import ImageClass
from labelapp.editor.canvas import DEFAULT_TOOL
from labelapp.editor.heatmap import NO_RUN_TIP
from labelapp.editor.tools import BRUSH_SIZES
from labelapp.widgets.swatches import color_icon

TOOL_TITLES = {"brush": "Brush", "eraser": "Eraser", "polygon": "Polygon", "fill": "Fill", "pan": "Pan"}
TOOL_TIPS = {
    "brush": "Paint the mask with the paint class",
    "eraser": "Erase mask pixels to background",
    "polygon": "Click vertices; double-click or Enter fills, Backspace removes a vertex, Esc cancels",
    "fill": "Fill the connected region under the click with the paint class",
    "pan": "Look: drag to move the image, a click never paints (also: middle or right drag, or Space + drag)",
}
SLIDER_STEPS = 1000


def _unfocused(widget: QWidget) -> QWidget:
    widget.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    return widget


class EditorToolBar(QWidget):
    """The tools and view controls (one row, or two when narrow), and the window/level
    controls shown for high bit depths."""

    tool_selected = Signal(str)
    paint_class_selected = Signal(int)
    brush_size_changed = Signal(int)
    opacity_changed = Signal(float)
    overlay_toggled = Signal(bool)
    heatmap_toggled = Signal(bool)
    heatmap_opacity_changed = Signal(float)
    fit_requested = Signal()
    actual_size_requested = Signal()
    window_changed = Signal(object)  # (low, high) in sample values
    auto_window_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._range = (0.0, 1.0)
        self.bar = QToolBar()  # mask tools
        self.paint_bar = QToolBar()  # paint class, brush size, overlay
        self.view_bar = QToolBar()  # heat map and zoom
        for bar in (self.bar, self.paint_bar, self.view_bar):
            bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.tool_actions = self._build_tools()
        self._separators = {self.paint_bar: self.paint_bar.addSeparator(),  # shown unless first in its row
                            self.view_bar: self.view_bar.addSeparator()}
        self._build_paint_controls()
        self._build_heatmap_controls()
        self.view_bar.addSeparator()
        self._build_view_controls()
        self.window_row = self._build_window_row()
        self.window_row.hide()
        self._bars = QVBoxLayout()
        self._bars.setContentsMargins(0, 0, 0, 0)
        self._bars.setSpacing(0)
        self._rows: tuple[int, ...] = ()  # bars per row
        self._place_bars(10_000)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(self._bars)
        layout.addWidget(self.window_row)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        for bar in (self.bar, self.paint_bar, self.view_bar):
            for button in bar.findChildren(QToolButton):
                button.setFocusPolicy(Qt.FocusPolicy.NoFocus)

    def _place_bars(self, width: int) -> None:
        """The bars in rows, each row as many as fit in ``width`` (at least one)."""
        rows: list[list[QToolBar]] = [[]]
        used = 0
        for bar in (self.bar, self.paint_bar, self.view_bar):
            need = bar.sizeHint().width()
            if rows[-1] and used + need > width:
                rows.append([])
                used = 0
            rows[-1].append(bar)
            used += need
        shape = tuple(len(row) for row in rows)
        if shape == self._rows:
            return
        self._rows = shape
        while self._bars.count():
            item = self._bars.takeAt(0)
            old = item.layout()
            while old is not None and old.count():
                old.takeAt(0)
            if old is not None:
                old.deleteLater()
        for row in rows:
            line = QHBoxLayout()
            line.setContentsMargins(0, 0, 0, 0)
            line.setSpacing(0)
            for bar in row:
                line.addWidget(bar)
                if bar in self._separators:
                    self._separators[bar].setVisible(bar is not row[0])
            line.addStretch(1)
            self._bars.addLayout(line)

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._place_bars(event.size().width())
        super().resizeEvent(event)

    def _build_tools(self) -> dict[str, QAction]:
        group = QActionGroup(self)
        actions = {}
        for name, title in TOOL_TITLES.items():
            action = QAction(title, self, checkable=True)
            action.setToolTip(TOOL_TIPS[name])
            action.setObjectName(f"tool_{name}")
            action.triggered.connect(lambda _checked=False, n=name: self.tool_selected.emit(n))
            group.addAction(action)
            self.bar.addAction(action)
            actions[name] = action
        actions[DEFAULT_TOOL].setChecked(True)
        return actions

    def _build_paint_controls(self) -> None:
        self.class_combo = _unfocused(QComboBox())
        self.class_combo.setToolTip("Paint class: the class that brush, polygon and fill write")
        self.class_combo.setMinimumContentsLength(10)
        self.class_combo.activated.connect(self._on_class_combo_activated)
        self.paint_bar.addWidget(self.class_combo)
        self.brush_spin = _unfocused(QSpinBox())
        self.brush_spin.setRange(BRUSH_SIZES[0], BRUSH_SIZES[-1])
        self.brush_spin.setSuffix(" px")
        self.brush_spin.setToolTip("Brush size in image pixels")
        self.brush_spin.valueChanged.connect(self.brush_size_changed)
        self.paint_bar.addWidget(QLabel(" Size "))
        self.paint_bar.addWidget(self.brush_spin)
        self.overlay_action = QAction("Overlay", self, checkable=True, checked=True)
        self.overlay_action.setToolTip("Show the mask over the image")
        self.overlay_action.toggled.connect(self.overlay_toggled)
        self.paint_bar.addAction(self.overlay_action)
        self.opacity_slider = _unfocused(QSlider(Qt.Orientation.Horizontal))
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setFixedWidth(90)
        self.opacity_slider.setToolTip("Overlay opacity")
        self.opacity_slider.valueChanged.connect(lambda v: self.opacity_changed.emit(v / 100.0))
        self.paint_bar.addWidget(self.opacity_slider)

    def _build_heatmap_controls(self) -> None:
        self.heatmap_action = QAction("Heat map", self, checkable=True)
        self.heatmap_action.setObjectName("heatmap_toggle")
        self.heatmap_action.toggled.connect(self.heatmap_toggled)
        self.view_bar.addAction(self.heatmap_action)
        self.heatmap_slider = _unfocused(QSlider(Qt.Orientation.Horizontal))
        self.heatmap_slider.setObjectName("heatmap_opacity")
        self.heatmap_slider.setRange(0, 100)
        self.heatmap_slider.setFixedWidth(70)
        self.heatmap_slider.setToolTip("Heat map opacity")
        self.heatmap_slider.valueChanged.connect(lambda v: self.heatmap_opacity_changed.emit(v / 100.0))
        self.view_bar.addWidget(self.heatmap_slider)
        self.set_heatmap(None, visible=False, opacity=0.5)

    def _build_view_controls(self) -> None:
        fit = self.view_bar.addAction("Fit")
        fit.setToolTip("Fit the image to the window")
        fit.triggered.connect(self.fit_requested)
        actual = self.view_bar.addAction("1:1")
        actual.setToolTip("One image pixel per screen pixel")
        actual.triggered.connect(self.actual_size_requested)
        self.zoom_label = QLabel("")
        self.zoom_label.setMinimumWidth(48)
        self.zoom_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.view_bar.addWidget(self.zoom_label)

    def _build_window_row(self) -> QWidget:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(6, 2, 6, 2)
        self.window_low_slider = _unfocused(QSlider(Qt.Orientation.Horizontal))
        self.window_high_slider = _unfocused(QSlider(Qt.Orientation.Horizontal))
        self.window_label = QLabel()
        self.window_label.setMinimumWidth(130)
        layout.addWidget(QLabel("Window"))
        self.window_low_slider.setToolTip("Window low: this value and below show black")
        self.window_high_slider.setToolTip("Window high: this value and above show white")
        for slider in (self.window_low_slider, self.window_high_slider):
            slider.setRange(0, SLIDER_STEPS)
            slider.valueChanged.connect(self._on_window_slider_value_changed)
            layout.addWidget(slider, 1)
        layout.addWidget(self.window_label)
        self.auto_button = _unfocused(QToolButton())
        self.auto_button.setText("Auto")
        self.auto_button.setToolTip("Window between the 0.5 and 99.5 percentiles of the image")
        self.auto_button.clicked.connect(self.auto_window_requested)
        layout.addWidget(self.auto_button)
        return row

    # -- state from the editor ------------------------------------------------------------------
    def set_tool(self, name: str) -> None:
        self.tool_actions[name].setChecked(True)

    def set_classes(self, classes: list[ImageClass], current: int | None) -> None:
        """Lists the defect classes (the ones a mask can hold) and selects ``current``."""
        with QSignalBlocker(self.class_combo):
            self.class_combo.clear()
            for cls in classes:
                if not cls.is_ok:
                    self.class_combo.addItem(color_icon(cls.color, border="none"), cls.name, cls.id)
            self.set_paint_class(current)

    def set_paint_class(self, class_id: int | None) -> None:
        with QSignalBlocker(self.class_combo):
            self.class_combo.setCurrentIndex(self.class_combo.findData(class_id) if class_id is not None else -1)

    def set_brush_size(self, size: int) -> None:
        with QSignalBlocker(self.brush_spin):
            self.brush_spin.setValue(size)

    def set_overlay(self, visible: bool, opacity: float) -> None:
        with QSignalBlocker(self.overlay_action), QSignalBlocker(self.opacity_slider):
            self.overlay_action.setChecked(visible)
            self.opacity_slider.setValue(round(opacity * 100))

    def set_heatmap(self, run_id: int | None, *, visible: bool, opacity: float) -> None:
        """The heat-map toggle and opacity; both disabled while there is no seg-dec run
        (``run_id`` None)."""
        with QSignalBlocker(self.heatmap_action), QSignalBlocker(self.heatmap_slider):
            self.heatmap_action.setChecked(visible)
            self.heatmap_slider.setValue(round(opacity * 100))
        self.heatmap_action.setEnabled(run_id is not None)
        self.heatmap_slider.setEnabled(run_id is not None)
        self.heatmap_action.setToolTip(
            NO_RUN_TIP if run_id is None else
            f"Show where the defect detector (run #{run_id}) sees a defect: dark purple none, orange to pale"
            " yellow defective (the legend under the image gives the scale)")

    def set_zoom(self, scale: float | None) -> None:
        self.zoom_label.setText("" if scale is None else f"{scale * 100:.0f}%")

    def set_window(self, value_range: tuple[float, float] | None, window: tuple[float, float] = (0, 1)) -> None:
        """Shows the window/level row for a high-bit-depth image (None hides it)."""
        self.window_row.setVisible(value_range is not None)
        if value_range is None:
            return
        low, high = value_range
        self._range = (low, high if high > low else low + 1.0)
        with QSignalBlocker(self.window_low_slider), QSignalBlocker(self.window_high_slider):
            self.window_low_slider.setValue(self._to_slider(window[0]))
            self.window_high_slider.setValue(self._to_slider(window[1]))
        self._show_window(window)

    def _to_slider(self, value: float) -> int:
        low, high = self._range
        return max(0, min(SLIDER_STEPS, round((value - low) / (high - low) * SLIDER_STEPS)))

    def _from_slider(self, position: int) -> float:
        low, high = self._range
        return low + (high - low) * position / SLIDER_STEPS

    def _show_window(self, window: tuple[float, float]) -> None:
        self.window_label.setText(f"{window[0]:.6g} – {window[1]:.6g}")

    # -- slots --------------------------------------------------------------------------------
    @Slot(int)
    def _on_class_combo_activated(self, index: int) -> None:
        class_id = self.class_combo.itemData(index)
        if class_id is not None:
            self.paint_class_selected.emit(int(class_id))

    @Slot(int)
    def _on_window_slider_value_changed(self, _position: int) -> None:
        low = self._from_slider(self.window_low_slider.value())
        high = self._from_slider(self.window_high_slider.value())
        if high <= low:
            high = low + (self._range[1] - self._range[0]) / SLIDER_STEPS
        self._show_window((low, high))
        self.window_changed.emit((low, high))
