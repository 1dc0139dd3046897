"""The Proposals dock: the labeled defective images whose newest proposer run proposes a
mask, best score first, and the controls of the proposal on screen (the cut slider, the
image / repair / difference views, the bulk accept).

The panel only shows and asks: :class:`labelapp.proposals.review.ProposalReview` fills it
and acts on its signals.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from core.proposals.review import ReviewItem, ReviewQueue
from core.store import Project
from labelapp.proposals.overlay import OUTLINE_COLOR, VIEWS
from labelapp.shortcuts.keymap import ShortcutMap, display_text
from labelapp.widgets.ranked_list import RankedImageList, summary_label

NO_RUN = ("No mask proposals yet. Label OK and defective images, then train a mask proposer "
          "(Train ▸ Propose masks…): this list then shows its proposals, best first.")
NOTHING_PROPOSED = "Proposer run #{run} proposes no mask for a labeled defective image."
ALL_REVIEWED = "Every proposal of run #{run} is reviewed."
SHOWN = 200  # rows listed at once (thumbnails are read on the GUI thread); R walks every open proposal
CUT_STEPS = 255  # the slider's steps over 0..1 (the difference maps are stored as uint8)
DECIDED_COLOR = QColor(128, 128, 128)
MARKS = {"accepted": "✓ accepted", "edited": "✎ editing", "rejected": "✗ rejected"}


class ProposalsPanel(QWidget):
    """Signals:
        image_requested(object): an image id to show (a row chosen, double-clicked or entered).
        cut_changed(float): the slider moved the cut of the proposal on screen.
        cut_reset(): back to the run's cut.
        view_chosen(str): ``image``, ``repair`` or ``difference``.
        bulk_requested(): "Accept all above…".
        bulk_undo_requested(): "Undo the bulk accept".
        restore_requested(): "Offer rejected again".
    """

    image_requested = Signal(object)
    cut_changed = Signal(float)
    cut_reset = Signal()
    view_chosen = Signal(str)
    bulk_requested = Signal()
    bulk_undo_requested = Signal()
    restore_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._filling = False
        self.summary = summary_label("proposals_summary")
        self.list = RankedImageList("proposals_list", "Choose a row to show its proposal in the editor")
        self.legend = QLabel(objectName="proposals_legend")
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)
        self.cut_slider = QSlider(Qt.Orientation.Horizontal, objectName="proposals_cut")
        self.cut_slider.setRange(0, CUT_STEPS)
        self.cut_slider.setToolTip("The difference level the proposal cuts at: lower proposes more pixels.\n"
                                   "Enter accepts the proposal as drawn.")
        self.cut_label = QLabel(objectName="proposals_cut_value")
        self.cut_label.setMinimumWidth(self.fontMetrics().horizontalAdvance("0.000 (run 0.000)") + 8)
        self.reset_button = QPushButton("Run's cut", objectName="proposals_cut_reset")
        self.reset_button.setToolTip("Back to the cut the proposer chose for this image")
        self.view_buttons = QButtonGroup(self)
        self.view_buttons.setExclusive(True)
        self.bulk_button = QPushButton("Accept all above…", objectName="proposals_bulk")
        self.bulk_button.setToolTip("Accept every open proposal scoring at or above a score you choose")
        self.bulk_undo_button = QPushButton("Undo the bulk accept", objectName="proposals_bulk_undo")
        self.bulk_undo_button.setToolTip("Removes the masks the last bulk accept wrote (those not changed since)")
        self.bulk_undo_button.hide()
        self.restore_button = QPushButton("Offer rejected again", objectName="proposals_restore")
        self.restore_button.setToolTip("Put the proposals you rejected for this run back in the queue")
        self._layout()
        self.list.currentItemChanged.connect(self._on_list_current_item_changed)
        self.list.image_activated.connect(self.image_requested)
        self.cut_slider.valueChanged.connect(self._on_cut_slider_value_changed)
        self.reset_button.clicked.connect(self.cut_reset)
        self.view_buttons.idClicked.connect(self._on_view_buttons_id_clicked)
        self.bulk_button.clicked.connect(self.bulk_requested)
        self.bulk_undo_button.clicked.connect(self.bulk_undo_requested)
        self.restore_button.clicked.connect(self.restore_requested)
        self.show_current(None)

    def _layout(self) -> None:
        views = QHBoxLayout()
        views.setContentsMargins(0, 0, 0, 0)
        for k, (view, tip) in enumerate((("image", "The image with the proposal's outline"),
                                         ("repair", "The repair: the image as the proposer thinks it looks without"
                                                    " the defect"),
                                         ("difference", "Where image and repair differ (the heat scale: bright"
                                                        " = differs most)"))):
            button = QPushButton(view.capitalize(), objectName=f"proposals_view_{view}", checkable=True)
            button.setToolTip(tip)
            self.view_buttons.addButton(button, k)
            views.addWidget(button)
        cut = QHBoxLayout()
        cut.setContentsMargins(0, 0, 0, 0)
        cut.addWidget(QLabel("Cut"))
        cut.addWidget(self.cut_slider, 1)
        cut.addWidget(self.cut_label)
        cut.addWidget(self.reset_button)
        bulk = QHBoxLayout()
        bulk.setContentsMargins(0, 0, 0, 0)
        bulk.addWidget(self.bulk_button)
        bulk.addWidget(self.bulk_undo_button)
        bulk.addWidget(self.restore_button)
        bulk.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.summary)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.legend)
        layout.addLayout(cut)
        layout.addLayout(views)
        layout.addLayout(bulk)

    # -- filling ---------------------------------------------------------------------------
    def forget_thumbnails(self) -> None:
        self.list.forget_thumbnails()

    def fill(self, project: Project | None, rows: list[tuple[ReviewItem, str]], current: int | None) -> None:
        """Lists ``rows`` (an item and its state this session: ``open``, ``accepted``,
        ``edited`` or ``rejected``), the first :data:`SHOWN`; ``current`` stays current."""
        shown = rows[:SHOWN]
        if project is not None:
            self.list.read_thumbnails(project, [item.image_id for item, _state in shown])
        self._filling = True
        try:
            self.list.clear()
            for item, state in shown:
                self._add(item, state)
            self.select(current)
        finally:
            self._filling = False

    def _add(self, item: ReviewItem, state: str) -> None:
        row, name = item.row, self.list.name(item.image_id)
        parts = f"{row.components} part{'' if row.components == 1 else 's'}"
        mark = f"{MARKS[state]} · " if state in MARKS else ""
        self.list.add_image(item.image_id, f"{mark}{row.score:.2f} · {name}\n{row.area_share:.1%} of the image · "
                                           f"{parts}",
                            f"{name}: proposal score {row.score:.3f}, cut {row.cut:.3f} (Otsu {row.otsu:.3f}), "
                            f"{row.area_share:.2%} of the image in {parts}")
        if state in MARKS:
            self.list.item(self.list.count() - 1).setForeground(QBrush(DECIDED_COLOR))

    def set_summary(self, text: str) -> None:
        self.summary.setText(text)

    def select(self, image_id: object) -> None:
        """Makes ``image_id``'s row current when listed (without asking to show it)."""
        self._filling, filling = True, self._filling
        try:
            if image_id is None or not self.list.select_image(int(image_id)):  # type: ignore[call-overload]
                self.list.setCurrentRow(-1)
        finally:
            self._filling = filling

    def set_bulk_undo(self, count: int) -> None:
        """Shows "Undo the bulk accept (N)" while the last bulk accept can be taken back."""
        self.bulk_undo_button.setVisible(count > 0)
        self.bulk_undo_button.setText(f"Undo the bulk accept ({count})")

    def set_rejected(self, count: int) -> None:
        self.restore_button.setEnabled(count > 0)
        self.restore_button.setText(f"Offer rejected again ({count})" if count else "Offer rejected again")

    # -- the proposal on screen --------------------------------------------------------------
    def show_current(self, cut: float | None, run_cut: float | None = None, *, run_id: int | None = None,
                     has_repair: bool = False, view: str = "image", keys: str = "") -> None:
        """The controls of the proposal on screen (``cut`` None: none is; ``keys``: the key
        that opens the next proposal)."""
        on = cut is not None
        for widget in (self.cut_slider, self.reset_button, *self.view_buttons.buttons()):
            widget.setEnabled(on)
        self.view_buttons.button(VIEWS.index("repair")).setEnabled(on and has_repair)
        if not has_repair:
            self.view_buttons.button(VIEWS.index("repair")).setToolTip("This proposer makes no repair")
        self.view_buttons.button(VIEWS.index(view)).setChecked(True)
        self.cut_slider.blockSignals(True)
        self.cut_slider.setValue(round((cut or 0.0) * CUT_STEPS))
        self.cut_slider.blockSignals(False)
        self.cut_label.setText("" if not on else f"{cut:.3f} (run {run_cut:.3f})")
        color = OUTLINE_COLOR.name()
        self.legend.setText(
            f"<span style='color:{color}'><b>━━</b></span> outline of the mask run #{run_id} proposes" if on else
            f"<span style='color:gray'>No proposal on screen: choose a row{keys and ' or press ' + keys}.</span>")
        self.legend.setToolTip("The outline is drawn over the image in neon green, apart from the masks' class "
                               "colours and the heat map. Accepting makes it the image's mask.")

    def set_view(self, view: str) -> None:
        self.view_buttons.button(VIEWS.index(view)).setChecked(True)

    # -- slots ---------------------------------------------------------------------------------
    @Slot(QListWidgetItem, QListWidgetItem)
    def _on_list_current_item_changed(self, item: QListWidgetItem | None, _previous: object) -> None:
        if item is not None and not self._filling:
            self.image_requested.emit(int(item.data(Qt.ItemDataRole.UserRole)))

    @Slot(int)
    def _on_cut_slider_value_changed(self, value: int) -> None:
        self.cut_changed.emit(value / CUT_STEPS)

    @Slot(int)
    def _on_view_buttons_id_clicked(self, index: int) -> None:
        self.view_chosen.emit(VIEWS[index])


def keys_sentence(shortcuts: ShortcutMap) -> str:
    """What the review keys do, with the user's keys."""
    def key(action: str) -> str:
        return display_text(shortcuts.keys(action)[:1]) or "—"
    return (f"{key('proposal.accept')} accepts, {key('proposal.edit')} edits with the brush, "
            f"{key('proposal.reject')} rejects; {key('proposal.next')} opens the next.")


def unproposed_sentence(count: int) -> str:
    """Why some labeled defective images are not in the queue (a floor above the detection
    threshold leaves images that score as defective without a proposal)."""
    return (f". {count} labeled defective image{' gets' if count == 1 else 's get'} no proposal: the strongest"
            " region is below the level learned from OK images, which keeps OK images free of proposals;"
            f" paint {'its' if count == 1 else 'their'} mask with the brush")


def summary_text(queue: ReviewQueue | None, keys: str) -> str:
    """The line above the list: how many, from which run, what the keys do (``keys``)."""
    if queue is None:
        return NO_RUN
    if not queue.items:
        return NOTHING_PROPOSED.format(run=queue.run_id)
    open_count, masked, rejected = len(queue.open()), len(queue.masked()), len(queue.rejected())
    if not open_count:
        return ALL_REVIEWED.format(run=queue.run_id) + (" Offer the rejected ones again to review them once more."
                                                        if rejected else "")
    text = (f"<b>{open_count}</b> proposed mask{'' if open_count == 1 else 's'} to review, best first"
            f" · run #{queue.run_id} ({html.escape(queue.proposals.method)})")
    extra = [f"{masked} already masked"] if masked else []
    if rejected:
        extra.append(f"{rejected} rejected")
    if extra:
        text += " · " + ", ".join(extra)
    if queue.unproposed:
        text += unproposed_sentence(queue.unproposed)
    return text + (f". {html.escape(keys)}" if keys else ".")
