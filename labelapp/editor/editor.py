"""The image editor: a tool bar over the canvas, with loading, saving and undo behind it.

The editor is a view: it shows the image the main window asks for and edits its mask.
It writes through the project session (:attr:`ImageEditor.labels`): masks (the
session's saver thread commits them) and, for undo, labels. Label changes reach its
undo history from the same session. Masks save themselves: about a second after the
last edit, when another image is shown, and on :meth:`ImageEditor.flush`.

When the project has a finished defect-detector (seg-dec) run, the editor can draw the
run's heat map of the image under the mask (:meth:`ImageEditor.toggle_heatmap`, with a
legend) and shows the image's defect probability under the canvas, whether the detector
is validated, and which model to believe where the classifier disagrees
(:mod:`core.training.trust`, read once per run). After a run the window calls
:meth:`ImageEditor.reload_heatmaps`. A stroke, polygon or fill in a defect class sends
:attr:`ImageEditor.mask_painted`, so that the labeling controller can label the image.

When the image shown is an open suggestion, a line under the canvas says its rank,
reason (``Suggested #3 · Typical of …``); the window calls
:meth:`ImageEditor.refresh_suggestion` after labels or the suggestions changed.

The detector's part lives in :mod:`labelapp.editor.defect_view`; the tool bar's view
controls are wired to the canvas in :mod:`labelapp.editor.toolbar_wiring`, and the
decoded resolution follows the zoom in :mod:`labelapp.editor.resolution`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QTimer, Signal, Slot
from PySide6.QtWidgets import QStackedWidget, QVBoxLayout, QWidget

from core.store import ImageClass, Project, StoreError
from core.training.trust import Verdict
from labelapp.editor.canvas import Canvas
from labelapp.editor.defect_view import DefectView
from labelapp.editor.document import ImageDocument, overlay_color_table
from labelapp.editor.heatmap import DefectReading
from labelapp.editor.history import MaskEdit
from labelapp.editor.info_lines import InfoLines, suggestion_info_html
from labelapp.editor.loader import LoadFailure
from labelapp.editor.placeholder import Placeholder
from labelapp.editor.replace import MaskReplacer
from labelapp.editor.resolution import ResolutionFollower
from labelapp.editor.session import EditorSession
from labelapp.editor.toolbar import EditorToolBar
from labelapp.editor.toolbar_wiring import ToolbarWiring
from labelapp.editor.tools import step_brush_size
from labelapp.editor.undo import UndoRedo
from labelapp.session.project_session import ProjectSession

logger = logging.getLogger(__name__)

AUTOSAVE_MS = 1000
DEFAULT_BRUSH = 16
DEFAULT_OPACITY = 0.5
DEFAULT_HEATMAP_OPACITY = 0.7
NO_IMAGE_TEXT = "No image selected."


class ImageEditor(QWidget):
    """Shows one image with its mask; brush, eraser, polygon and fill tools; undo/redo."""

    image_shown = Signal(object)  # image id, after it is on screen
    mask_painted = Signal(object)  # (image id, class id): an edit wrote pixels of that defect class
    message = Signal(str)  # non-blocking messages for the status area
    relink_requested = Signal(object)  # image id whose file is missing

    def __init__(self, parent: QWidget | None = None, *, cache_bytes: int | None = None,
                 labels: ProjectSession | None = None) -> None:
        super().__init__(parent)
        # label and mask writes go through the window's project session; alone, its own
        self._owns_labels = labels is None
        self.labels = labels if labels is not None else ProjectSession(self)
        self._session = EditorSession(self.labels, self, budget_bytes=cache_bytes)
        self.toolbar = EditorToolBar()
        self.canvas = Canvas()
        self.placeholder = Placeholder()
        self._stack = QStackedWidget()
        self._stack.addWidget(self.canvas)
        self._stack.addWidget(self.placeholder)
        self.info = InfoLines()
        self.defect_info, self.suggestion_info = self.info.defect_info, self.info.suggestion_info
        self.legend = self.info.legend  # the heat map's colour bar, shown with the heat map
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.toolbar)
        layout.addWidget(self._stack, 1)
        layout.addWidget(self.info)
        self.setFocusProxy(self.canvas)
        self._current: int | None = None
        self._prefetch: tuple[int, ...] = ()
        self._classes: list[ImageClass] = []
        self._paint_class: int | None = None
        self._opacity = DEFAULT_OPACITY
        self._colors = overlay_color_table([], DEFAULT_OPACITY)
        self._defects = DefectView(self.canvas, self.toolbar, self.info, opacity=DEFAULT_HEATMAP_OPACITY,
                                   message=self.message.emit)
        self._idle = QTimer(self)
        self._idle.setSingleShot(True)
        self._idle.setInterval(AUTOSAVE_MS)
        self._undo = UndoRedo(self._session, self.canvas, self.labels, mask_changed=self._idle.start,
                              message=self.message.emit)
        self.mask_replacer = MaskReplacer(self._session, self.canvas, self._undo, stop_autosave=self._idle.stop)
        self._connect()
        self.canvas.set_brush_size(DEFAULT_BRUSH)
        self.toolbar.set_brush_size(DEFAULT_BRUSH)
        self.toolbar.set_overlay(True, DEFAULT_OPACITY)
        self._defects.sync_controls()
        self._show_placeholder("No project open.")

    def _connect(self) -> None:
        session, bar = self._session, self.toolbar
        session.document_loaded.connect(self._on_session_document_loaded)
        session.load_failed.connect(self._on_session_load_failed)
        self.labels.labels_changed.connect(self._undo.record_labels)
        session.message.connect(self.message)
        self.canvas.mask_edited.connect(self._on_canvas_mask_edited)
        self.canvas.heatmap_changed.connect(self._on_canvas_heatmap_changed)
        self.canvas.message.connect(self.message)
        self.placeholder.relink_clicked.connect(self._on_placeholder_relink_clicked)
        self._idle.timeout.connect(self._on_idle_timeout)
        bar.tool_selected.connect(self.set_tool)
        bar.paint_class_selected.connect(self.set_paint_class)
        bar.opacity_changed.connect(self.set_overlay_opacity)
        bar.heatmap_toggled.connect(self.set_heatmap_visible)
        bar.heatmap_opacity_changed.connect(self.set_heatmap_opacity)
        self._toolbar_wiring = ToolbarWiring(bar, self.canvas, self)
        self._resolution = ResolutionFollower(session, self.canvas, self)

    # -- project and images -------------------------------------------------------------------
    def set_project(self, project: Project | None) -> None:
        """Saves pending masks of the previous project, then shows nothing of ``project`` yet."""
        self._idle.stop()
        self.canvas.finish_interaction()
        self.canvas.set_document(None)
        self._session.set_project(project)
        if self._owns_labels:
            self.labels.adopt(project)
        self._current, self._prefetch = None, ()
        self.refresh_suggestion()
        self.refresh_classes()
        self.reload_heatmaps()
        self._show_placeholder(NO_IMAGE_TEXT if project is not None else "No project open.")

    def show_image(self, image_id: int | None) -> None:
        """Shows an image (at once when decoded already), queuing the previous one's mask to save."""
        if image_id is not None and image_id == self._current:
            return
        self.canvas.finish_interaction()
        self._save_changes()
        self._current = image_id
        self.refresh_suggestion()
        if image_id is None or self._session.project is None:
            self.canvas.set_document(None)
            self._show_placeholder(NO_IMAGE_TEXT if self._session.project is not None else "No project open.")
            return
        doc = self._session.document(image_id)
        if doc is not None:
            self._display(doc)
        else:
            self.canvas.set_document(None, text="Loading…")
            self.toolbar.set_zoom(None)
            self._stack.setCurrentWidget(self.canvas)
        self._session.set_wanted(image_id, self._prefetch)

    def set_prefetch(self, image_ids: Sequence[int]) -> None:
        """The images likely shown next (nearest first): decoded ahead in the background."""
        self._prefetch = tuple(image_ids)
        self._session.set_wanted(self._current, self._prefetch)

    def decode_counts(self) -> Counter[int]:
        """Image id -> times its file was decoded here (for tests and benchmarks)."""
        return self._session.decode_counts()

    def current_image_id(self) -> int | None:
        return self._current

    def current_mask(self) -> np.ndarray | None:
        """The mask of the image on screen (the live array: do not modify it)."""
        doc = self.canvas.document()
        return doc.mask if doc is not None and doc.image_id == self._current else None

    def reload_image(self, image_id: int) -> None:
        """Reads the image again (after a relink); its mask is saved first if changed."""
        if image_id == self._current:
            self.canvas.finish_interaction()
        self._session.forget(image_id)
        if image_id == self._current:
            self.canvas.set_document(None, text="Loading…")
            self._stack.setCurrentWidget(self.canvas)
            self._session.set_wanted(image_id, self._prefetch)

    def _display(self, doc: ImageDocument) -> None:
        doc.set_colors(self._colors)
        self.canvas.set_document(doc)
        self._stack.setCurrentWidget(self.canvas)
        self.toolbar.set_window(doc.value_range if doc.high_depth else None, doc.window)
        self.toolbar.set_zoom(self.canvas.scale())
        self._defects.show(self._session.project, doc)
        self.image_shown.emit(doc.image_id)

    def _show_placeholder(self, text: str, *, relink: bool = False) -> None:
        self._defects.show(self._session.project, None)
        self.placeholder.show_message(text, relink=relink)
        self._stack.setCurrentWidget(self.placeholder)
        self.toolbar.set_window(None)
        self.toolbar.set_zoom(None)

    # -- tools and view -----------------------------------------------------------------------
    def set_tool(self, name: str) -> None:
        """``"brush"``, ``"eraser"``, ``"polygon"``, ``"fill"`` or ``"pan"``."""
        self.canvas.set_tool(name)
        self.toolbar.set_tool(name)

    def tool(self) -> str:
        return self.canvas.tool()

    def set_paint_class(self, class_id: int) -> None:
        """The class that brush, polygon and fill paint (a defect class)."""
        cls = next((c for c in self._classes if c.id == class_id), None)
        if cls is None or cls.is_ok:
            logger.debug("ignoring paint class %s: not a defect class of this project", class_id)
            return
        self._paint_class = class_id
        self.canvas.set_paint_value(class_id)
        self.toolbar.set_paint_class(class_id)

    def paint_class(self) -> int | None:
        return self._paint_class

    def change_brush_size(self, step: int) -> None:
        """Steps the brush size along 1, 2, 3, 4, 6, 8, 11, 16, ... 512 image pixels."""
        size = step_brush_size(self.canvas.brush_size(), step)
        self.canvas.set_brush_size(size)
        self.toolbar.set_brush_size(size)

    def brush_size(self) -> int:
        return self.canvas.brush_size()

    def set_overlay_opacity(self, value: float) -> None:
        self._opacity = max(0.0, min(1.0, float(value)))
        self.toolbar.set_overlay(self.canvas.overlay_visible(), self._opacity)
        self._recolor()

    def toggle_overlay(self) -> None:
        self.canvas.set_overlay_visible(not self.canvas.overlay_visible())
        self.toolbar.set_overlay(self.canvas.overlay_visible(), self._opacity)

    # -- defect detector ------------------------------------------------------------------------
    def reload_heatmaps(self) -> None:
        """Re-reads the latest detector run (after a run or a threshold change) and the image's heat map."""
        doc = self.canvas.document()
        self._defects.reload(self._session.project, doc if doc is not None and doc.image_id == self._current else None)

    def set_heatmap_visible(self, visible: bool) -> None:
        """Draws the defect detector's heat map over the image (under the mask) or not."""
        self._defects.set_visible(visible)

    def heatmap_visible(self) -> bool:
        """Whether the heat map is switched on (it is drawn when the image has one)."""
        return self.canvas.heatmap_visible()

    def toggle_heatmap(self) -> None:
        self._defects.toggle()

    def set_heatmap_opacity(self, value: float) -> None:
        """Opacity of the heat map at its hottest (0..1); separate from the mask overlay's."""
        self._defects.set_opacity(value)

    def heatmap_opacity(self) -> float:
        return self._defects.opacity

    def defect_reading(self) -> DefectReading | None:
        """What the latest defect-detector run says about the image shown (None: no run)."""
        return self._defects.reading

    def verdict(self) -> Verdict | None:
        """Which model to believe where classifier and detector disagree (None: no project)."""
        return self._defects.verdict

    # -- suggestions ----------------------------------------------------------------------------
    def refresh_suggestion(self) -> None:
        """Shows under the canvas whether the image shown is an open suggestion (one
        query); call after labels changed or a new set of suggestions was stored."""
        project, suggestion = self._session.project, None
        if project is not None and self._current is not None:
            try:
                suggestion = project.suggestions.get(self._current)
            except StoreError as exc:
                logger.warning("cannot read the suggestion of image %s: %s", self._current, exc)
        self.suggestion_info.setVisible(suggestion is not None)
        self.suggestion_info.setText("" if suggestion is None else suggestion_info_html(suggestion))

    def refresh_classes(self) -> None:
        """Re-reads class names and colours (after they changed)."""
        project = self._session.project
        try:
            self._classes = project.classes.list() if project is not None else []
        except StoreError as exc:
            self.message.emit(f"Cannot read the classes: {exc}")
            return
        defects = [c.id for c in self._classes if not c.is_ok]
        if self._paint_class not in defects:
            self._paint_class = defects[0] if defects else None
        self.canvas.set_paint_value(self._paint_class)
        self.toolbar.set_classes(self._classes, self._paint_class)
        self._recolor()

    def _recolor(self) -> None:
        self._colors = overlay_color_table(self._classes, self._opacity)
        doc = self.canvas.document()
        if doc is not None:
            doc.set_colors(self._colors)
        self.canvas.update()

    def fit(self) -> None:
        self.canvas.fit()

    def actual_size(self) -> None:
        self.canvas.actual_size()

    def zoom_by(self, factor: float) -> None:
        self.canvas.zoom_by(factor)

    # -- undo / redo --------------------------------------------------------------------------
    def undo(self) -> bool:
        """Undoes the last edit or label change of the image on screen; False if none."""
        return self._step(undo=True)

    def redo(self) -> bool:
        return self._step(undo=False)

    def _step(self, *, undo: bool) -> bool:
        if self._current is None:
            return False
        self.canvas.finish_interaction()
        return self._undo.step(self._current, undo=undo)

    # -- saving -------------------------------------------------------------------------------
    def flush(self) -> None:
        """Saves every changed mask and returns once the store has committed them."""
        self._idle.stop()
        self.canvas.finish_interaction()
        self._session.flush()

    def shutdown(self) -> None:
        """Saves, then stops the loader threads (and its own session's saver) (call from ``closeEvent``)."""
        self.flush()
        self.canvas.set_document(None)
        self._session.shutdown()
        if self._owns_labels:
            self.labels.adopt(None)

    def _save_changes(self) -> None:
        self._idle.stop()
        self._session.save_all()

    # -- slots --------------------------------------------------------------------------------
    @Slot(object)
    def _on_session_document_loaded(self, doc: ImageDocument) -> None:
        if doc.image_id == self._current and self.canvas.document() is None:
            self._display(doc)

    @Slot(object)
    def _on_session_load_failed(self, failure: LoadFailure) -> None:
        if failure.image_id != self._current:
            return
        self.canvas.set_document(None)
        if failure.missing:
            self._show_placeholder(f"The image file is missing.\n\n{failure.reason}", relink=True)
        else:
            self._show_placeholder(f"This image cannot be shown.\n\n{failure.reason}")

    @Slot(object)
    def _on_canvas_mask_edited(self, edit: MaskEdit) -> None:
        doc = self.canvas.document()
        self._undo.record_mask_edit(doc, edit)
        if self.canvas.tool() != "eraser" and self._paint_class is not None:  # brush, polygon or fill
            self.mask_painted.emit((doc.image_id, self._paint_class))

    @Slot()
    def _on_canvas_heatmap_changed(self) -> None:
        self.legend.setVisible(self.canvas.heatmap_shown())

    @Slot()
    def _on_placeholder_relink_clicked(self) -> None:
        if self._current is not None:
            self.relink_requested.emit(self._current)

    @Slot()
    def _on_idle_timeout(self) -> None:
        if self.canvas.is_stroking():
            self._idle.start()
            return
        self._session.save_all()
