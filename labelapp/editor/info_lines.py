"""The lines under the editor's canvas: what the defect detector says about the image
(and, where the classifier disagrees, which of the two to believe) with the heat map's
legend at its right, and whether the image is an open suggestion.

The detector's line is red with a ⚠ only when a validated detector calls the image
defective and the classifier, if it is the model to believe, does not say otherwise; an
unvalidated detector's probability is shown in gray with what to label to validate it.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from core.store import Project, StoreError
from core.store.suggestions import Suggestion
from core.training.trust import Verdict
from labelapp.editor.heatmap import DefectReading
from labelapp.editor.heatmap_legend import HeatmapLegend

DETECTED_COLOR = "#e0402a"
DISAGREE_COLOR = "#b06000"  # amber: look here, not an alarm
SUGGESTED_COLOR = "#2a7de1"


class InfoLines(QWidget):
    """The defect line and the heat-map legend side by side, the suggestion line below;
    each hidden while it has nothing to say."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.defect_info = _line("defect_info")
        self.suggestion_info = _line("suggestion_info")
        self.legend = HeatmapLegend()
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 6, 0)
        row.addWidget(self.defect_info, 1)
        row.addWidget(self.legend, 0, Qt.AlignmentFlag.AlignVCenter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(row)
        layout.addWidget(self.suggestion_info)

    def show_defect(self, text: str | None, tip: str = "") -> None:
        """The defect line (None hides it). While it shows, the legend's room is kept even
        when the legend is hidden, so that toggling the heat map never resizes the canvas."""
        self.defect_info.setVisible(text is not None)
        self.defect_info.setText(text or "")
        self.defect_info.setToolTip(tip)
        policy = self.legend.sizePolicy()
        if policy.retainSizeWhenHidden() != (text is not None):
            policy.setRetainSizeWhenHidden(text is not None)
            self.legend.setSizePolicy(policy)
            self.layout().invalidate()  # a hidden widget's updateGeometry() reaches no layout
            self.updateGeometry()


def _line(name: str) -> QLabel:
    label = QLabel(objectName=name)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setContentsMargins(8, 2, 8, 2)
    label.setWordWrap(True)
    label.hide()
    return label


def disagreement(project: Project, verdict: Verdict | None, image_id: int,
                 probability: float | None) -> tuple[str | None, bool]:
    """(what to say where classifier and detector disagree on ``image_id``, or None;
    whether the classifier overrules a "defective" call of the detector). One indexed
    read: the image's class prediction."""
    if verdict is None or probability is None or not verdict.detector_trust.validated:
        return None, False
    try:
        prediction = project.predictions.get(image_id)
        cls = project.classes.get(prediction.class_id) if prediction and prediction.class_id is not None else None
    except StoreError:
        return None, False
    says_defective = None if cls is None else not cls.is_ok
    if not verdict.disagrees(says_defective, probability):
        return None, False
    return verdict.note(bool(says_defective)), verdict.overrules_detector(says_defective, probability)


def defect_info_html(reading: DefectReading, note: str | None = None, *, overruled: bool = False) -> str:
    """``⚠ defect 0.87 (threshold 0.42)`` (red when detected and not overruled),
    ``defect 0.84 · detector not validated yet (…)`` in gray, then the run, and the
    disagreement ``note`` on a second line."""
    if reading.probability is None:
        return f"<span style='color:gray'>{html.escape(reading.text())}</span>"
    text = html.escape(reading.text())
    if reading.detected and not overruled:
        text = f"<span style='color:{DETECTED_COLOR}'><b>&#9888; {text}</b></span>"
    elif not reading.validated:
        text = f"<span style='color:gray'>{text}</span>"
    source = f"defect detector run #{reading.run_id}"
    if reading.heat is None:
        source += ", no heat map of this image"
    line = f"{text} &nbsp;·&nbsp; <span style='color:gray'>{source}</span>"
    if note:
        line += f"<br><span style='color:{DISAGREE_COLOR}'>&#8800; {html.escape(note)}</span>"
    return line


def suggestion_info_html(suggestion: Suggestion) -> str:
    """The line under the canvas: ``★ Suggested #3 · Typical of …`` (the reason in plain
    words; the strategy's name is the suggestions dock's tooltip)."""
    reason = suggestion.reason[:1].upper() + suggestion.reason[1:]
    return (f"<span style='color:{SUGGESTED_COLOR}'><b>&#9733; Suggested #{suggestion.rank}</b></span>"
            f" &nbsp;·&nbsp; {html.escape(reason)}")
