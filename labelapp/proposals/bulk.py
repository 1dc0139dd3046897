"""Accept all open proposals scoring at or above S: a dialog that counts before it acts,
then the masks written in small batches (the GUI stays responsive), and one button that
takes the whole batch back.

The editor's undo is per image, so the bulk accept is undone as one step by its own
button ("Undo the bulk accept"): it removes the masks it wrote that nobody changed since.
Masks go to the store through the project session's saver, with the run as their source.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from core.proposals.accept import proposal_source
from core.proposals.review import BulkPlan, ReviewItem, ReviewQueue, bulk_plan, proposal_mask, score_range
from core.proposals.store import load_proposal
from core.store import StoreError, default_actor
from labelapp.session.mask_saver import SaveRequest

if TYPE_CHECKING:
    from labelapp.proposals.review import ProposalReview

logger = logging.getLogger(__name__)
STEPS = 1000
TICK_S = 0.04  # work per timer tick before the GUI gets its turn


class BulkAcceptDialog(QDialog):
    """Chooses S with a slider or a spin box and says what accepting would do."""

    def __init__(self, queue: ReviewQueue, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Accept proposals above a score")
        self.setObjectName("proposals_bulk_dialog")
        self._queue = queue
        self._low, self._high = score_range(queue)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, STEPS)
        self.spin = QDoubleSpinBox()
        self.spin.setDecimals(3)
        self.spin.setSingleStep(0.01)
        self.spin.setRange(0.0, 1.0 if self._high <= 1.0 else self._high)
        self.count_label = QLabel(objectName="proposals_bulk_count")
        self.count_label.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        row = QHBoxLayout()
        row.addWidget(QLabel("Score at least"))
        row.addWidget(self.slider, 1)
        row.addWidget(self.spin)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Proposals of run #{queue.run_id} for labeled defective images scoring at or "
                                f"above S become their masks (the run's own cut)."))
        layout.addLayout(row)
        layout.addWidget(self.count_label)
        layout.addWidget(self.buttons)
        self.slider.valueChanged.connect(self._on_slider_value_changed)
        self.spin.valueChanged.connect(self._on_spin_value_changed)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        start = min(max(queue.proposals.rule.score_threshold, self._low), self._high)
        self.set_min_score(start)

    def set_min_score(self, score: float) -> None:
        self.spin.setValue(score)  # the slider follows

    def plan(self) -> BulkPlan:
        return bulk_plan(self._queue, self.spin.value())

    @Slot(int)
    def _on_slider_value_changed(self, value: int) -> None:
        score = self._low + (self._high - self._low) * value / STEPS
        if abs(score - self.spin.value()) > 5e-4:
            self.spin.setValue(score)

    @Slot(float)
    def _on_spin_value_changed(self, score: float) -> None:
        span = max(self._high - self._low, 1e-9)
        self.slider.blockSignals(True)
        self.slider.setValue(round(min(max((score - self._low) / span, 0.0), 1.0) * STEPS))
        self.slider.blockSignals(False)
        plan = self.plan()
        self.count_label.setText(plan.sentence())
        self.ok_button.setText(f"Accept {len(plan.accept)}")
        self.ok_button.setEnabled(bool(plan.accept))


class BulkAccept(QObject):
    """Runs the dialog's plan and its undo for ``review``, and offers the rejected proposals again.

    Signals:
        finished(object): the image ids the bulk accept gave a mask.
    """

    finished = Signal(object)

    def __init__(self, review: ProposalReview) -> None:
        super().__init__(review)
        self._review = review
        self.dialog: BulkAcceptDialog | None = None
        self._todo: list[ReviewItem] = []
        self._written: list[int] = []
        self._origin = ""
        self.last: tuple[str, list[int]] | None = None  # (source, image ids) of the last bulk accept
        self._timer = QTimer(self)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._on_timer_timeout)
        review.panel.bulk_requested.connect(self.ask)
        review.panel.bulk_undo_requested.connect(self.undo)
        review.panel.restore_requested.connect(self.restore_rejected)

    def is_running(self) -> bool:
        return self._timer.isActive()

    def stop(self) -> None:
        """Stops writing; the masks queued so far are still saved."""
        self._timer.stop()
        self._todo = []

    @Slot()
    def ask(self) -> None:
        """Saves the editor's masks, counts afresh and opens the dialog (not modal to the app's loop)."""
        review = self._review
        if review.project is None or self.is_running():
            return
        review.editor.flush()
        review.reload(force=True)
        if review.queue is None or not review.queue.items:
            review.message.emit("No proposals to accept.")
            return
        self.dialog = BulkAcceptDialog(review.queue, review.panel.window())
        self.dialog.accepted.connect(lambda: self.run(self.dialog.plan()))
        self.dialog.open()

    def run(self, plan: BulkPlan) -> None:
        """Writes the masks of ``plan.accept``, a batch per timer tick."""
        queue = self._review.queue
        if queue is None or not plan.accept or self.is_running():
            return
        self._origin = proposal_source(queue.run_id)
        self._todo, self._written = list(plan.accept), []
        self._review.message.emit(f"Accepting {len(self._todo)} proposals…")
        self._timer.start()

    @Slot()
    def _on_timer_timeout(self) -> None:
        review, queue = self._review, self._review.queue
        if queue is None or review.project is None:
            self._timer.stop()
            return
        began = time.perf_counter()
        while self._todo and time.perf_counter() - began < TICK_S:
            item = self._todo.pop(0)
            try:
                proposal = load_proposal(review.project, queue.proposals, item.image_id)
            except (StoreError, OSError, ValueError) as exc:
                logger.warning("proposal of image %s not read: %s", item.image_id, exc)
                continue
            if proposal is None:
                continue
            request = SaveRequest(image_id=item.image_id, version=0, mask=proposal_mask(proposal, item.class_id),
                                  actor=default_actor(), source=self._origin)
            if review.session.save_mask(request):
                queue.set_masked(item.image_id, True)  # the saved signal then finds nothing to change
                self._written.append(item.image_id)
        if not self._todo:
            self._timer.stop()
            self._finish()

    def _finish(self) -> None:
        review, written = self._review, self._written
        review.session.flush_masks()
        for image_id in written:
            review.editor.reload_image(image_id)  # a decoded copy without the mask is dropped
        self.last = (self._origin, written)
        review.panel.set_bulk_undo(len(written))
        review.reload(force=True)
        review.message.emit(f"{len(written)} proposals accepted as masks; “Undo the bulk accept” takes them back.")
        self.finished.emit(list(written))

    @Slot()
    def undo(self) -> None:
        """Removes the masks of the last bulk accept that are still as it wrote them."""
        review, last = self._review, self.last
        if last is None or review.project is None or self.is_running():
            return
        source, ids = last
        review.editor.flush()
        removed, kept = [], 0
        for image_id in ids:
            try:
                info = review.project.masks.info(image_id)
            except StoreError:
                info = None
            if info is None or info.source != source:
                kept += info is not None
                continue
            review.session.save_mask(SaveRequest(image_id=image_id, version=0, mask=None, actor=default_actor(),
                                                  source="gui undo"))
            removed.append(image_id)
        review.session.flush_masks()
        for image_id in removed:
            review.editor.reload_image(image_id)
        self.last = None
        review.panel.set_bulk_undo(0)
        review.reload(force=True)
        review.message.emit(f"Bulk accept undone: {len(removed)} masks removed"
                            + (f", {kept} changed since and kept." if kept else "."))

    @Slot()
    def restore_rejected(self) -> None:
        """Offers every proposal rejected for the review's run again."""
        review = self._review
        queue, project = review.queue, review.project
        if queue is None or project is None:
            return
        try:
            count = project.rejected_proposals.restore(queue.run_id)
        except StoreError as exc:
            review.message.emit(f"Cannot restore the rejected proposals: {exc}")
            return
        review.message.emit(f"{count} rejected proposal{'' if count == 1 else 's'} offered again.")
        review.reload(force=True)
