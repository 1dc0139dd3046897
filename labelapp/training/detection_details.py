"""The details of a defect-detector (seg-dec) run, and its decision threshold.

A seg-dec run's ``metrics["validation"]`` (see :mod:`core.training.segdec`) holds AP,
AUROC, precision / recall / F1, FP and FN at the run's threshold with their image ids,
the precision-recall curve and ``target_recall`` (None: the threshold with the best
F1). The dialog shows them with the curve and the operating point, and galleries of the
validation images the detector got wrong. The threshold control moves the threshold on
the stored validation scores (:func:`core.training.segdec.set_threshold`, no
retraining) and says so by :attr:`DetectionDetailsDialog.threshold_changed`. A line at
the top says whether the run is validated well enough for its threshold to call images
defective (:func:`core.training.trust.detector_trust`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from core.store import Project, Run, StoreError
from core.training.segdec import load_validation_scores, set_threshold
from labelapp.training.run_details import detector_trust_html, run_header
from labelapp.widgets.formatting import figure
from labelapp.widgets.thumbnail_icons import image_names, thumbnail_icons

logger = logging.getLogger(__name__)
TITLE = "defect detector"
NO_VALIDATION = "No validation figures: nothing was held out of training."  # the trust line above says why
THUMB = 88
GALLERY_LIMIT = 100  # thumbnails per gallery, most confident mistakes first
DEFAULT_TARGET_RECALL = 0.95
CURVE_COLOR = "#0072B2"
POINT_COLOR = "#D55E00"


def threshold_text(validation: Mapping[str, Any]) -> str:
    """How the threshold was chosen, in words."""
    target, n = validation.get("target_recall"), validation.get("n", 0)
    how = (f"the highest threshold that finds at least {float(target):.0%} of the defective images"
           if isinstance(target, int | float) else "the threshold with the best F1")
    return (f"Threshold {figure(validation.get('threshold'), '.3f')}: {how} on the {n} validation images. "
            "An image at or above it counts as defective.")


class DetectionDetailsDialog(QDialog):
    """Validation figures, precision-recall curve and FP / FN galleries of a seg-dec run
    (non-modal). ``project`` is the window's (GUI-thread) project.

    Signals:
        image_requested(object): image id the user clicked in a gallery.
        threshold_changed(object): the run (a :class:`Run`) after its threshold moved.
    """

    image_requested = Signal(object)
    threshold_changed = Signal(object)

    def __init__(self, project: Project, run: Run, *, stale: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("detection_details")
        self.setWindowTitle(f"Run #{run.id} — {TITLE}")
        self.run = run
        self._project = project
        scores = load_validation_scores(project, run)
        self._probability = dict(zip(scores["ids"], scores["probability"], strict=True)) if scores else {}
        self._plot: Any = None
        self._point: Any = None
        self._target_line: Any = None
        self.trust_label = QLabel(objectName="detector_trust")
        self.trust_label.setTextFormat(Qt.TextFormat.RichText)
        self.trust_label.setWordWrap(True)
        self.figures_label = QLabel(objectName="detection_figures")
        self.figures_label.setTextFormat(Qt.TextFormat.RichText)
        self.figures_label.setWordWrap(True)
        self.threshold_label = QLabel(objectName="threshold_text")
        self.threshold_label.setWordWrap(True)
        self.best_f1_button = QRadioButton("Best F1", objectName="best_f1_button")
        self.target_button = QRadioButton("Target recall:", objectName="target_recall_button")
        self.recall_spin = QDoubleSpinBox(objectName="target_recall_spin")
        self.recall_spin.setRange(0.5, 1.0)
        self.recall_spin.setSingleStep(0.01)
        self.recall_spin.setDecimals(2)
        self.recall_spin.setKeyboardTracking(False)  # one threshold move per typed value, not per digit
        self.recall_spin.setToolTip("The share of defective validation images the detector must find; the "
                                    "threshold is the highest that reaches it (fewer false positives above it).")
        self._mode = QButtonGroup(self)
        self._mode.addButton(self.best_f1_button)
        self._mode.addButton(self.target_button)
        self.fp_title, self.fp_gallery = QLabel(objectName="fp_title"), self._gallery("fp_gallery")
        self.fn_title, self.fn_gallery = QLabel(objectName="fn_title"), self._gallery("fn_gallery")
        self.training_label = QLabel(objectName="training_summary")
        self.training_label.setWordWrap(True)
        self._layout(run, stale)
        self._show_controls()
        self._show(run)
        self.best_f1_button.toggled.connect(self._on_best_f1_button_toggled)
        self.recall_spin.valueChanged.connect(self._on_recall_spin_value_changed)
        self.resize(920, 800)

    def _layout(self, run: Run, stale: bool) -> None:
        control = QHBoxLayout()
        control.addWidget(self.best_f1_button)
        control.addSpacing(12)
        control.addWidget(self.target_button)
        control.addWidget(self.recall_spin)
        control.addStretch(1)
        left = QVBoxLayout()
        left.addWidget(self.figures_label)
        left.addWidget(self.threshold_label)
        left.addLayout(control)
        hint = QLabel("Moving the threshold re-reads the scores of the held-out images; nothing is retrained. "
                      "The grid's defect filters use it at once, and the next retrain aims at the same target.")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #555555")
        left.addWidget(hint)
        left.addStretch(1)
        top = QGridLayout()
        top.addLayout(left, 0, 0)
        self._plot_box = QVBoxLayout()
        top.addLayout(self._plot_box, 0, 1)
        top.setColumnStretch(0, 1)
        top.setColumnStretch(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(run_header(run, stale, title=TITLE))
        layout.addWidget(self.trust_label)
        layout.addLayout(top, 3)
        for title, gallery in ((self.fp_title, self.fp_gallery), (self.fn_title, self.fn_gallery)):
            layout.addWidget(title)
            layout.addWidget(gallery, 2)
        layout.addWidget(self.training_label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _gallery(self, name: str) -> QListWidget:
        gallery = QListWidget(objectName=name)
        gallery.setViewMode(QListView.ViewMode.IconMode)
        gallery.setIconSize(QSize(THUMB, THUMB))
        gallery.setGridSize(QSize(THUMB + 72, THUMB + 52))
        gallery.setResizeMode(QListView.ResizeMode.Adjust)
        gallery.setMovement(QListView.Movement.Static)
        gallery.setWordWrap(True)
        gallery.setUniformItemSizes(True)
        gallery.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        gallery.setMinimumHeight(THUMB + 56)
        gallery.setToolTip("Click an image to open it in the editor")
        gallery.itemClicked.connect(self._on_gallery_item_clicked)
        gallery.itemActivated.connect(self._on_gallery_item_clicked)
        return gallery

    # -- state -----------------------------------------------------------------------------------
    def validation(self) -> dict | None:
        validation = (self.run.metrics or {}).get("validation")
        return dict(validation) if isinstance(validation, Mapping) else None

    def gallery_ids(self, gallery: QListWidget) -> list[int]:
        """The image ids a gallery shows, in order."""
        return [int(gallery.item(r).data(Qt.ItemDataRole.UserRole)) for r in range(gallery.count())]

    def set_target_recall(self, target_recall: float | None) -> None:
        """Moves the threshold (None: best F1) and shows the figures at it."""
        try:
            run = set_threshold(self._project, self.run, target_recall)
        except (StoreError, ValueError, OSError) as exc:
            self.threshold_label.setText(f"The threshold was not moved: {exc}")
            return
        self._show(run)
        self.threshold_changed.emit(run)

    def _show_controls(self) -> None:
        validation = self.validation()
        target = validation.get("target_recall") if validation else None
        for widget in (self.best_f1_button, self.target_button, self.recall_spin):
            widget.setEnabled(validation is not None)
        self.recall_spin.setValue(float(target) if isinstance(target, int | float) else DEFAULT_TARGET_RECALL)
        (self.target_button if isinstance(target, int | float) else self.best_f1_button).setChecked(True)
        self.recall_spin.setEnabled(validation is not None and isinstance(target, int | float))

    def _show(self, run: Run) -> None:
        self.run = run
        m = run.metrics or {}
        self.trust_label.setText(detector_trust_html(run))
        from core.training.segdec_results import training_notes

        self.training_label.setText(
            f"Trained on {m.get('labeled', '?')} labels ({m.get('defective', '?')} defective, {m.get('ok', '?')} OK;"
            f" {m.get('masks', 0)} defective with a mask) in {figure(m.get('seconds'), '.0f')} s. "
            + " ".join(training_notes(run)))
        validation = self.validation()
        if validation is None:
            self.figures_label.setText(NO_VALIDATION)
            self.threshold_label.setText("No threshold: the detector is not validated.")
            for title, gallery in ((self.fp_title, self.fp_gallery), (self.fn_title, self.fn_gallery)):
                title.hide()
                gallery.hide()
            return
        v = validation
        self.figures_label.setText(
            f"<b>AP {figure(v.get('ap'), '.3f')}</b> &nbsp; AUROC {figure(v.get('auroc'), '.3f')}<br>"
            f"<b>F1 {figure(v.get('f1'), '.3f')}</b> &nbsp; precision {figure(v.get('precision'), '.3f')} &nbsp; "
            f"recall {figure(v.get('recall'), '.3f')}<br>"
            f"FP {v.get('fp', 0)} (OK images called defective) &nbsp; FN {v.get('fn', 0)} (defective images missed)"
            f"<br>on {v.get('n', 0)} validation images ({v.get('defective', 0)} defective), held out of training")
        self.threshold_label.setText(threshold_text(v))
        self._fill(self.fp_title, self.fp_gallery, v.get("fp_ids", []),
                   "False positives: OK images the detector calls defective")
        self._fill(self.fn_title, self.fn_gallery, v.get("fn_ids", []),
                   "False negatives: defective images the detector misses")
        self._draw_curve(v)

    def _fill(self, title: QLabel, gallery: QListWidget, image_ids: list[int], text: str) -> None:
        ids = [int(i) for i in image_ids]
        shown = ids[:GALLERY_LIMIT]
        more = f", the {len(shown)} most confident shown" if len(shown) < len(ids) else ""
        title.setText(f"<b>{text}</b> — {len(ids)}{more}" if ids else f"<b>{text}</b> — none at this threshold")
        title.show()
        gallery.clear()
        gallery.setVisible(bool(ids))
        names = image_names(self._project, shown)
        icons = thumbnail_icons(self._project, shown, THUMB)
        for image_id in shown:
            p = self._probability.get(image_id)
            probability = f"{p:.2f}" if p is not None else "–"
            label = self._project.labels.get(image_id)
            labeled = label.class_name if label is not None else "unlabeled"
            item = QListWidgetItem(icons[image_id], f"{names[image_id]}\n{labeled} · defect {probability}")
            item.setData(Qt.ItemDataRole.UserRole, image_id)
            item.setToolTip(f"{names[image_id]}: labeled {labeled}, defect probability {probability}"
                            " — click to open it in the editor")
            gallery.addItem(item)

    # -- curve -----------------------------------------------------------------------------------
    def _draw_curve(self, validation: Mapping[str, Any]) -> None:
        curve = validation.get("curve") or {}
        recall, precision = list(curve.get("recall", [])), list(curve.get("precision", []))
        if not recall:
            return
        import pyqtgraph  # on first use, as in the training panel

        if self._plot is None:
            self._plot = pyqtgraph.PlotWidget(background="w", objectName="pr_curve")
            self._plot.setMinimumSize(300, 240)
            self._plot.showGrid(x=True, y=True, alpha=0.2)
            self._plot.setLabel("bottom", "recall (share of defective images found)")
            self._plot.setLabel("left", "precision")
            self._plot.setXRange(-0.02, 1.04, padding=0)
            self._plot.setYRange(-0.02, 1.04, padding=0)
            self._plot.setMouseEnabled(x=False, y=False)
            self._plot.plot(recall, precision, pen=pyqtgraph.mkPen(CURVE_COLOR, width=2))
            self._point = pyqtgraph.ScatterPlotItem(size=12, brush=POINT_COLOR, pen="k")
            dashed = pyqtgraph.mkPen("#888888", style=Qt.PenStyle.DashLine)
            self._target_line = pyqtgraph.InfiniteLine(angle=90, pen=dashed)
            self._plot.addItem(self._target_line)
            self._plot.addItem(self._point)
            self._plot_box.addWidget(self._plot)
        self._point.setData([float(validation["recall"])], [float(validation["precision"])])
        self._point.setToolTip(f"threshold {figure(validation.get('threshold'), '.3f')}: recall "
                               f"{figure(validation.get('recall'), '.2f')}, precision "
                               f"{figure(validation.get('precision'), '.2f')}")
        target = validation.get("target_recall")
        self._target_line.setVisible(isinstance(target, int | float))
        if isinstance(target, int | float):
            self._target_line.setValue(float(target))

    def operating_point(self) -> tuple[float, float] | None:
        """(recall, precision) where the marker sits on the curve; None without a curve."""
        if self._point is None:
            return None
        xs, ys = self._point.getData()
        return float(xs[0]), float(ys[0])

    # -- slots -----------------------------------------------------------------------------------
    @Slot(bool)
    def _on_best_f1_button_toggled(self, checked: bool) -> None:
        self.recall_spin.setEnabled(not checked)
        self.set_target_recall(None if checked else round(self.recall_spin.value(), 2))

    @Slot(float)
    def _on_recall_spin_value_changed(self, value: float) -> None:
        if self.target_button.isChecked():
            self.set_target_recall(round(value, 2))

    @Slot(QListWidgetItem)
    def _on_gallery_item_clicked(self, item: QListWidgetItem) -> None:
        self.image_requested.emit(int(item.data(Qt.ItemDataRole.UserRole)))
