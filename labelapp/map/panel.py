"""The map panel: every image as a dot, placed by its embedding (:mod:`core.map`).

The panel shows the PCA layout as soon as it is read (well under a second, on a worker
thread), then computes the refined t-SNE layout in the background and swaps it in; both
are cached per pretraining run, so the next time the map opens at once. It is computed
only while the panel is visible, and again after each retrain (a new encoder gives a new
map; new predictions and suggestions give new colours).

Colour by label, prediction, uncertainty or open suggestion; hover shows the image's
thumbnail; a click opens the image in the editor; a lasso (Lasso button, or drag with
Shift; Ctrl adds) selects images, which the grid then shows (and selects), and "Label
as" labels them all with one class through the labeling controller, like a selection
in the grid.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QAction, QShowEvent
from PySide6.QtWidgets import QLabel, QStackedWidget, QVBoxLayout, QWidget

from core.jobs.base import Progress
from core.map.cache import MapLayout
from core.map.job import MapRequest, MapResult
from core.map.layout import LANDMARKS
from core.map.points import MapPoints, read_labels
from core.store import ImageClass, Project, StoreError
from labelapp.jobs.process_runner import WorkerJobRunner
from labelapp.map.colours import Colouring, colour_points
from labelapp.map.controls import MapControls
from labelapp.map.hover import HoverThumbnails, describe_point
from labelapp.map.jobs import MapJobs
from labelapp.widgets.errors import training_action

if TYPE_CHECKING:
    from labelapp.map.canvas import HoverCard, MapCanvas

logger = logging.getLogger(__name__)
NO_PROJECT = "No project open."
LOADING = "Reading the map…"
KIND_NAMES = {"pca": "Quick map", "tsne": "Refined map"}  # plain words; the methods in the tooltip
KIND_TIP = ("Quick map: the two main directions of the features (PCA), shown at once. Refined map: neighbours "
            "kept together (t-SNE on a few thousand landmark images), computed in the background.")


class EmbeddingMapPanel(QWidget):
    """The map and its controls.

    Signals:
        image_requested(int): an image to open in the editor (a click on its dot).
        selection_changed(object): the selected image ids (ascending int64 array) after a
            lasso or Clear.
        label_requested(int): label the selection with this class id ("Label as").
        layout_shown(str): a layout ("pca" or "tsne") is on screen.
    """

    image_requested = Signal(int)
    selection_changed = Signal(object)
    label_requested = Signal(int)
    layout_shown = Signal(str)

    def __init__(self, parent: QWidget | None = None, *, landmarks: int = LANDMARKS) -> None:
        super().__init__(parent)
        self.landmarks = landmarks
        self._project: Project | None = None
        self._classes: list[ImageClass] = []
        self._layout: MapLayout | None = None
        self._points: MapPoints | None = None
        self._colouring: Colouring | None = None
        self._selected = np.zeros(0, np.int64)  # point indices, ascending
        self._runner: WorkerJobRunner | None = None
        self._jobs = MapJobs(self)
        self._stale = False  # the map must be read again when the panel is next shown
        self._changed_while_running: set[int] = set()
        self._thumbnails = HoverThumbnails()
        self._build()
        self._show_message(NO_PROJECT)

    def _build(self) -> None:
        self.controls = MapControls()
        self.mode_combo, self.lasso_button, self.fit_button = (
            self.controls.mode_combo, self.controls.lasso_button, self.controls.fit_button)
        self.label_button, self.clear_button, self.selection_label = (
            self.controls.label_button, self.controls.clear_button, self.controls.selection_label)
        self._canvas: MapCanvas | None = None  # built on first use: pyqtgraph stays out of the window's start
        self.hover_card: HoverCard | None = None
        self.message = QLabel(objectName="map_message", alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.message.setMargin(16)
        self._stack = QStackedWidget()
        self._stack.addWidget(self.message)
        self.legend = QLabel(objectName="map_legend", wordWrap=True, textFormat=Qt.TextFormat.RichText)
        self.status_line = QLabel(objectName="map_status", wordWrap=True)
        self.status_line.setStyleSheet("color: #666")
        self.status_line.setToolTip(KIND_TIP)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        for row in self.controls.rows:
            layout.addLayout(row)
        layout.addWidget(self._stack, 1)
        layout.addWidget(self.legend)
        layout.addWidget(self.status_line)
        self.mode_combo.currentIndexChanged.connect(self._on_mode_combo_current_index_changed)
        self.lasso_button.toggled.connect(self._on_lasso_button_toggled)
        self.fit_button.clicked.connect(self._on_fit_button_clicked)
        self.clear_button.clicked.connect(self.clear_selection)
        self.label_button.menu().triggered.connect(self._on_label_menu_triggered)
        self.label_button.menu().aboutToShow.connect(self.refresh_classes)  # classes may have been edited
        self._show_selection()

    @property
    def canvas(self) -> MapCanvas:
        """The map view (built on first use)."""
        if self._canvas is None:
            from labelapp.map.canvas import HoverCard, MapCanvas

            canvas = MapCanvas()
            canvas.hovered.connect(self._on_canvas_hovered)
            canvas.point_clicked.connect(self._on_canvas_point_clicked)
            canvas.lasso_selected.connect(self._on_canvas_lasso_selected)
            self._stack.addWidget(canvas)
            self.hover_card = HoverCard(canvas)
            self._canvas = canvas
            self._on_lasso_button_toggled(self.lasso_button.isChecked())
        return self._canvas

    # -- project ---------------------------------------------------------------------------------
    def set_project(self, project: Project | None) -> None:
        """Shows ``project``'s map (None: none); stops a map job of the previous project
        and ends its worker."""
        self._runner = None
        self._jobs.close()
        self._thumbnails.clear()
        self._project = project
        self._layout, self._points = None, None
        self._selected = np.zeros(0, np.int64)
        if self._canvas is not None:
            self._canvas.set_layout(np.zeros((0, 2)))
        self._show_selection()
        self.legend.clear()
        self.status_line.clear()
        self._show_message(NO_PROJECT if project is None else LOADING)
        self.refresh_classes()
        if project is not None:
            self.reload()

    def reload(self) -> None:
        """Reads the map again (a new project, or a retrain: a new encoder, predictions or
        suggestions); computed at once while the panel is visible, else when it is next shown."""
        if self._project is None:
            return
        self._stale = True
        if self.isVisible():
            self._start_job(refine=False)

    def refresh_classes(self) -> None:
        """Class names or colours changed: the legend, the colours and the Label-as menu."""
        self._classes = self._project.classes.list() if self._project is not None else []
        self.controls.set_classes(self._classes)
        self._recolour()

    def shutdown(self) -> None:
        """Stops a running map job (call from the window's close)."""
        self.set_project(None)

    # -- queries ---------------------------------------------------------------------------------
    def layout_kind(self) -> str | None:
        """"pca" or "tsne" while a layout is shown, else None."""
        return self._layout.kind if self._layout is not None else None

    def image_ids(self) -> np.ndarray:
        """The ids of the points, in point order (ascending)."""
        return self._layout.ids if self._layout is not None else np.zeros(0, np.int64)

    def coordinates(self) -> np.ndarray:
        """(N, 2) view coordinates of the points."""
        return self._layout.xy if self._layout is not None else np.zeros((0, 2), np.float32)

    def selected_ids(self) -> np.ndarray:
        return self.image_ids()[self._selected]

    def points(self) -> MapPoints | None:
        """Labels, predictions and suggestions of the points (None without a layout)."""
        return self._points

    def colouring(self) -> Colouring | None:
        """The colours on screen: a group per point, a colour and legend entry per group."""
        return self._colouring if self._points is not None else None

    def colour_mode(self) -> str:
        return str(self.mode_combo.currentData())

    def set_colour_mode(self, mode: str) -> None:
        position = self.mode_combo.findData(mode)
        if position < 0:
            raise ValueError(f"unknown colour mode {mode!r}")
        self.mode_combo.setCurrentIndex(position)

    # -- selection -------------------------------------------------------------------------------
    def select_ids(self, image_ids: np.ndarray) -> None:
        """Selects the points of ``image_ids`` (those on the map) and says so."""
        ids = self.image_ids()
        wanted = np.asarray(image_ids, dtype=np.int64)
        self._selected = np.flatnonzero(np.isin(ids, wanted)) if len(ids) else np.zeros(0, np.int64)
        if self._canvas is not None:
            self._canvas.set_selection(self._selected)
        self._show_selection()
        self.selection_changed.emit(self.selected_ids())

    @Slot()
    def clear_selection(self) -> None:
        self.select_ids(np.zeros(0, np.int64))

    def _show_selection(self) -> None:
        self.controls.show_selection(len(self._selected), can_label=bool(self._classes))

    # -- changes ---------------------------------------------------------------------------------
    @Slot(object)
    def on_labels_changed(self, image_ids: object) -> None:
        """Reads the labels of ``image_ids`` again and recolours (labels and open suggestions)."""
        changed = np.unique(np.asarray(list(image_ids), dtype=np.int64))  # type: ignore[call-overload]
        if self._runner is not None:
            self._changed_while_running.update(int(i) for i in changed)
        self._update_labels(changed)

    def _update_labels(self, image_ids: np.ndarray) -> None:
        if self._project is None or self._points is None or not len(image_ids):
            return
        ids = self.image_ids()
        position = np.minimum(np.searchsorted(ids, image_ids), len(ids) - 1)
        found = ids[position] == image_ids
        try:
            labels = read_labels(self._project, image_ids[found])
        except StoreError as exc:
            logger.warning("cannot read labels for the map: %s", exc)
            return
        self._points.label[position[found]] = labels
        if self.colour_mode() in ("label", "suggested"):
            self._recolour()

    # -- the job ---------------------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._project is not None:
            self.refresh_classes()  # names or colours may have been edited while hidden
        if self._stale and self._project is not None and self._runner is None:
            self._start_job(refine=False)

    def _start_job(self, *, refine: bool) -> None:
        self._stop_job(wait=False)
        self._stale = False
        request = MapRequest(project_root=self._project.root, refine=refine, landmarks=self.landmarks)
        runner = self._jobs.start(request, self)
        runner.progressed.connect(self._on_runner_progressed)
        runner.finished.connect(self._on_runner_finished)
        runner.failed.connect(self._on_runner_failed)
        self._runner = runner
        self._changed_while_running = set()
        runner.start()

    def _stop_job(self, *, wait: bool = True) -> None:
        self._runner = None
        self._jobs.stop(wait=wait)

    def is_busy(self) -> bool:
        """Whether a map job runs."""
        return self._runner is not None

    @Slot(object)
    def _on_runner_progressed(self, progress: object) -> None:
        if self.sender() is self._runner and isinstance(progress, Progress):
            shown = f"{KIND_NAMES[self._layout.kind]} · " if self._layout is not None else ""
            self.status_line.setText(f"{shown}{progress.message} {progress.fraction:.0%}")

    @Slot(object)
    def _on_runner_finished(self, result: object) -> None:
        runner = self.sender()
        if runner is not None:
            runner.deleteLater()
        if runner is not self._runner or not isinstance(result, MapResult):
            return  # a job of an earlier request
        self._runner = None
        if result.message:
            self._layout, self._points = None, None
            action = f" {training_action(result.needs)}" if result.needs is not None else ""
            self._show_message(result.message + action)
            self.status_line.clear()
            self.legend.clear()
            return
        if result.cancelled or result.pca is None or result.points is None:
            return
        self._show_layout(result.refined or result.pca, result.points)
        self._update_labels(np.array(sorted(self._changed_while_running), dtype=np.int64))
        if result.refined is None:
            self._start_job(refine=True)

    @Slot(object)
    def _on_runner_failed(self, error: object) -> None:
        runner = self.sender()
        if runner is not None:
            runner.deleteLater()
        if runner is not self._runner:
            return
        self._runner = None
        logger.warning("map job failed: %s", error)
        if self._layout is None:
            self._show_message(f"The map could not be computed: {error}")
        self.status_line.setText(f"The refined map could not be computed: {error}")

    def _show_layout(self, layout: MapLayout, points: MapPoints) -> None:
        selected = self.selected_ids()
        same_view = self._layout is not None and self._layout.kind == layout.kind \
            and np.array_equal(self._layout.ids, layout.ids) and np.array_equal(self._layout.xy, layout.xy)
        self._layout, self._points = layout, points
        if not same_view:
            self.canvas.set_layout(layout.xy)
        self._stack.setCurrentWidget(self.canvas)
        self._selected = np.flatnonzero(np.isin(layout.ids, selected)) if len(selected) else np.zeros(0, np.int64)
        self.canvas.set_selection(self._selected)
        self._show_selection()
        self._recolour()
        kind = KIND_NAMES[layout.kind]
        refining = " · refining…" if layout.kind == "pca" else ""
        self.status_line.setText(f"{kind} of pretraining run #{layout.run_id} · {len(layout.ids):,} images"
                                 f"{refining}")
        self.layout_shown.emit(layout.kind)

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self._stack.setCurrentWidget(self.message)
        if self.hover_card is not None:
            self.hover_card.hide()

    def _recolour(self) -> None:
        if self._points is None or self._canvas is None:
            return
        colouring = colour_points(self.colour_mode(), self._points, self._classes)
        self._colouring = colouring
        self.canvas.set_groups(colouring.groups, colouring.colors)
        self.legend.setText(colouring.legend_html())

    # -- hover -----------------------------------------------------------------------------------
    @Slot(object)
    def _on_canvas_hovered(self, index: object) -> None:
        if self.hover_card is None:
            return
        if index is None or self._project is None or self._layout is None:
            self.hover_card.hide()
            return
        image_id = int(self._layout.ids[int(index)])  # type: ignore[call-overload]
        try:
            image = self._project.images.get(image_id)
        except StoreError:
            self.hover_card.hide()
            return
        about = describe_point(self._points, self._classes, int(index))  # type: ignore[call-overload]
        text = f"<b>{html.escape(Path(image.path).name)}</b><br>{about}"
        self.hover_card.show_for(self._thumbnails.get(self._project, image_id, image.hash), text,
                                 self.canvas.widget_position(int(index)).toPoint())  # type: ignore[call-overload]

    # -- slots -----------------------------------------------------------------------------------
    @Slot(int)
    def _on_canvas_point_clicked(self, index: int) -> None:
        if self._layout is not None:
            self.image_requested.emit(int(self._layout.ids[index]))

    @Slot(object, bool)
    def _on_canvas_lasso_selected(self, indices: object, add: bool) -> None:
        chosen = np.asarray(indices, dtype=np.int64)
        ids = self.image_ids()[np.union1d(self._selected, chosen) if add else chosen]
        self.select_ids(ids)

    @Slot(int)
    def _on_mode_combo_current_index_changed(self, _position: int) -> None:
        self._recolour()

    @Slot(bool)
    def _on_lasso_button_toggled(self, checked: bool) -> None:
        if self._canvas is not None:
            self._canvas.box.lasso_mode = checked
            self._canvas.setCursor(Qt.CursorShape.CrossCursor if checked else Qt.CursorShape.ArrowCursor)

    @Slot()
    def _on_fit_button_clicked(self) -> None:
        if self._canvas is not None:
            self._canvas.fit()

    @Slot(QAction)
    def _on_label_menu_triggered(self, action: QAction) -> None:
        if len(self._selected) and action.data() is not None:
            self.label_requested.emit(int(action.data()))

