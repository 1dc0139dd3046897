"""The details of one run: its metrics and, when it has one, its validation confusion matrix.

A classifier run's metrics may hold ``metrics["validation"] = {"accuracy", "macro_f1",
"n", "classes": [names in matrix order], "confusion": [[int]] (rows true class,
columns predicted class)}``; it is absent when there were too few labels to hold some
back. Everything here is read-only.
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.store import Run, RunKind, RunStatus
from core.training.trust import detector_trust
from labelapp.training.wording import duration, seconds_between, when
from labelapp.widgets.formatting import figure

logger = logging.getLogger(__name__)
NO_VALIDATION = "No validation: label at least 2 images per class."
SHADE = QColor("#0072B2")  # a full row share; lighter for less
HIDDEN_METRICS = ("validation",)
NOT_VALIDATED_COLOR = "#b06000"
SSL_NAMES = {"simclr": "SimCLR", "nnclr": "NNCLR"}
PROPOSER_NAMES = {"isugan": "ISU-GAN", "cyclegan": "CycleGAN", "patchcore": "nearest neighbour"}
STOPPED_WORDS = {"converged": "stopped improving", "time_budget": "time limit reached", "max_epochs": "all its epochs"}


def metric_rows(metrics: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(name, text) of each metric to list: numbers and strings as they are, other
    values as compact JSON; the validation block has its own table."""
    rows = []
    for name, value in metrics.items():
        if name in HIDDEN_METRICS:
            continue
        if isinstance(value, bool) or value is None:
            text = str(value)
        elif isinstance(value, float):
            text = f"{value:.4g}"
        elif isinstance(value, int | str):
            text = str(value)
        else:
            text = json.dumps(value, sort_keys=True)
        rows.append((name.replace("_", " "), text))
    return rows


def read_validation(metrics: Mapping[str, Any]) -> tuple[dict[str, Any], np.ndarray] | None:
    """The validation block and its (C, C) int64 confusion matrix; None when the run has
    none or it does not fit together (a matrix that is not C x C for C class names)."""
    validation = metrics.get("validation")
    if not isinstance(validation, Mapping):
        return None
    classes = validation.get("classes")
    try:
        matrix = np.asarray(validation.get("confusion"), dtype=np.int64)
    except (TypeError, ValueError):
        return None
    if not isinstance(classes, list) or matrix.shape != (len(classes), len(classes)) or not classes:
        logger.warning("validation block does not fit together: %d classes, matrix %s",
                       len(classes) if isinstance(classes, list) else -1, matrix.shape)
        return None
    return dict(validation), matrix


def shade(fraction: float) -> QColor:
    """White for 0, :data:`SHADE` for 1, blended between."""
    f = min(max(fraction, 0.0), 1.0)
    return QColor(round(255 + (SHADE.red() - 255) * f), round(255 + (SHADE.green() - 255) * f),
                  round(255 + (SHADE.blue() - 255) * f))


def confusion_table(classes: list[str], matrix: np.ndarray, parent: QWidget | None = None) -> QTableWidget:
    """The confusion matrix as a read-only table: counts, cells shaded by their share of
    the row (the true class), true classes down, predicted classes across."""
    n = len(classes)
    table = QTableWidget(n, n, parent)
    table.setObjectName("confusion_matrix")
    table.setHorizontalHeaderLabels([f"→ {name}" for name in classes])
    table.setVerticalHeaderLabels(list(classes))
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    totals = matrix.sum(axis=1)
    for row in range(n):
        for column in range(n):
            count = int(matrix[row, column])
            fraction = count / totals[row] if totals[row] else 0.0
            item = QTableWidgetItem(str(count))
            item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            item.setBackground(shade(fraction))
            item.setForeground(QColor("white") if fraction > 0.55 else QColor("black"))
            if row == column:
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            item.setToolTip(f"true {classes[row]}, predicted {classes[column]}: {count}"
                            f" ({fraction:.0%} of {int(totals[row])})")
            table.setItem(row, column, item)
    return table


def run_header(run: Run, stale: bool, *, title: str | None = None) -> QLabel:
    """The first lines of a run's details: id, ``title`` (default: the method), status,
    times, what it trained on and where (the device the run recorded)."""
    snapshot = run.label_snapshot
    took = seconds_between(run.started_at, run.finished_at)
    lines = [f"<b>#{run.id} {html.escape(title or run.method)}</b> · {run.status.value}",
             f"started {when(run.started_at)}" + (f", finished {when(run.finished_at)}" if run.finished_at else "")
             + (f" ({duration(took)})" if took is not None else "")]
    if snapshot.get("labeled") is not None:
        device = (run.config or {}).get("device")
        where = f" on {'the GPU (CUDA)' if device == 'cuda' else 'the CPU'}" if device else ""
        lines.append(f"trained on {snapshot['labeled']} labels, {snapshot.get('masks', 0)} masks{where}")
    if stale:
        lines.append("<span style='color:#D55E00'>stale — labels changed since this run took its snapshot"
                     "</span>")
    label = QLabel("<br>".join(lines), objectName="run_header")
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setWordWrap(True)
    return label


class RunDetailsDialog(QDialog):
    """Metrics of ``run`` and its validation confusion matrix (non-modal, read-only)."""

    def __init__(self, run: Run, *, stale: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("run_details")
        self.setWindowTitle(f"Run #{run.id} — {run.method}")
        self.run = run
        layout = QVBoxLayout(self)
        layout.addWidget(run_header(run, stale))
        rows = metric_rows(run.metrics)
        self.metrics_table = QTableWidget(len(rows), 2, self)
        self.metrics_table.setObjectName("run_metrics")
        self.metrics_table.setHorizontalHeaderLabels(["Metric", "Value"])
        self.metrics_table.verticalHeader().hide()
        self.metrics_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.metrics_table.horizontalHeader().setStretchLastSection(True)
        for row, (name, text) in enumerate(rows):
            self.metrics_table.setItem(row, 0, QTableWidgetItem(name))
            self.metrics_table.setItem(row, 1, QTableWidgetItem(text))
        self.metrics_table.resizeColumnsToContents()
        layout.addWidget(self.metrics_table, 1)
        self.validation_label = QLabel(objectName="validation_summary")
        self.validation_label.setTextFormat(Qt.TextFormat.RichText)
        self.validation_label.setWordWrap(True)
        layout.addWidget(self.validation_label)
        self.confusion: QTableWidget | None = None
        self._add_validation(layout, run)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        width = 520
        if self.confusion is not None:  # wide enough for the whole matrix, within reason
            table = self.confusion
            table.resizeColumnsToContents()
            margins = layout.contentsMargins()  # the header's width() is not laid out yet: its size hint
            width = (table.verticalHeader().sizeHint().width() + table.horizontalHeader().length()
                     + 2 * table.frameWidth() + table.verticalScrollBar().sizeHint().width()
                     + margins.left() + margins.right())
        self.resize(min(max(520, width), 1100), 560)

    def _add_validation(self, layout: QVBoxLayout, run: Run) -> None:
        found = read_validation(run.metrics)
        if found is None:
            self.validation_label.setText(NO_VALIDATION)
            return
        validation, matrix = found
        parts = []
        if isinstance(validation.get("accuracy"), int | float):
            parts.append(f"accuracy {float(validation['accuracy']):.1%}")
        if isinstance(validation.get("macro_f1"), int | float):
            parts.append(f"macro F1 {float(validation['macro_f1']):.3f}")
        n = validation.get("n", int(matrix.sum()))
        self.validation_label.setText(
            f"Cross-validated on {n} labels (each predicted by a model trained without it): " + ", ".join(parts)
            + "<br>Rows: true class · columns: predicted class (shaded by row share)")
        self.confusion = confusion_table([str(c) for c in validation["classes"]], matrix, self)
        layout.addWidget(self.confusion, 2)

    def cell_counts(self) -> list[list[int]]:
        """The counts the confusion table shows ([] when there is none)."""
        table = self.confusion
        if table is None:
            return []
        return [[int(table.item(r, c).text()) for c in range(table.columnCount())] for r in range(table.rowCount())]


def run_summary(run: Run) -> str:
    """One line of the run history: what the run was and the figure that matters."""
    m = run.metrics or {}
    parts = [f"#{run.id}"]
    if run.kind is RunKind.PRETRAIN:
        variant = run.method.removeprefix(RunKind.PRETRAIN.method(""))
        extends = (run.config or {}).get("extends")
        added = int(m.get("images_added", 0))
        if extends is not None:  # no training: new images placed with an earlier run's encoder
            parts.append(f"{added:,} new image{'' if added == 1 else 's'} embedded with the encoder of #{extends}")
        else:
            parts.append(f"pretraining ({SSL_NAMES.get(variant, variant)})")
        if "epochs" in m and extends is None:
            parts.append(f"{m['epochs']} epoch{'s' if m['epochs'] != 1 else ''}")
        if isinstance(m.get("contrastive_accuracy"), float) and extends is None:
            parts.append(f"views matched {m['contrastive_accuracy']:.0%}")
    elif run.kind is RunKind.CLASSIFIER:
        thorough = (run.config or {}).get("finetune_steps", 0)
        parts.append("classifier, thorough" if thorough else "classifier")
        if "labeled" in m:
            parts.append(f"{m['labeled']} labels")
        if m.get("validation"):
            parts.append(f"validation {m['validation']['accuracy']:.0%}")
    elif run.kind is RunKind.SEGDEC:
        parts.append("defect detector")
        if "labeled" in m:
            parts.append(f"{m['labeled']} labels, {m.get('masks', 0)} masks")
        validation = m.get("validation")
        if validation:
            parts.append(f"AP {figure(validation.get('ap'))}, F1 {figure(validation.get('f1'))}")
            trust = detector_trust(run)
            if run.status is RunStatus.DONE and not trust.validated:
                parts.append(trust.short)
        elif run.status is RunStatus.DONE:
            parts.append("no validation (too few labels)")
        if m.get("stopped"):
            parts.append(stopped_words(m["stopped"], m.get("epochs_run"))
                         + (f", from #{m['warm_from']}" if m.get("warm_from") else ""))
    elif run.kind is RunKind.PROPOSER:
        variant = run.method.removeprefix(RunKind.PROPOSER.method(""))
        parts.append(f"mask proposer ({PROPOSER_NAMES.get(variant, variant)})")
        if "with_mask" in m:
            parts.append(f"masks for {m['with_mask']} of {m.get('proposed_images', 0)} images")
    else:
        parts.append(run.method)
    if run.status is not RunStatus.DONE:
        parts.append(run.status.value)
    elif isinstance(m.get("seconds"), float | int):
        parts.append(duration(m["seconds"]))
    return " · ".join(parts)


def stopped_words(stopped: str, epochs: object) -> str:
    """Why a defect-detector run stopped, with the epochs it ran when the run recorded them:
    "stopped improving after 12 epochs", "time limit reached after 3 epochs", "4 epochs"."""
    if not isinstance(epochs, int):
        return STOPPED_WORDS.get(stopped, stopped)
    if stopped == "max_epochs":
        return f"{epochs} epoch" + ("" if epochs == 1 else "s")
    return f"{STOPPED_WORDS.get(stopped, stopped)} after {epochs} epoch" + ("" if epochs == 1 else "s")


def detector_trust_html(run: Run) -> str:
    """What a defect-detector run's validation allows, for the training panel and its details."""
    trust = detector_trust(run)
    if trust.validated:
        return f"<b>Defect detector #{run.id}</b>: {html.escape(trust.why)}."
    reason = html.escape(trust.why.removeprefix("not validated: "))
    return (f"<span style='color:{NOT_VALIDATED_COLOR}'><b>Defect detector #{run.id} is not validated</b></span>:"
            f" {reason}. No image is called defective until it is: {html.escape(trust.advice)} and retrain.")
