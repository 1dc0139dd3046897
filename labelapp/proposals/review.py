"""The review of mask proposals: which proposal is on screen, and the keys that decide it.

When the editor shows a labeled defective image with an open proposal of the newest
proposer run (and the Proposals dock is not closed), the proposal's outline is drawn
over it and the review keys hold Enter, E and Backspace (:data:`labelapp.shortcuts.keymap.REVIEW`):

* **Enter** accepts: the proposal (at the slider's cut) becomes the image's mask, one
  undoable edit saved at once, its source naming the run (``proposal:run-7``,
  :mod:`core.proposals.accept`; ``…:edited`` when the cut was moved);
* **E** makes it the editable mask with the brush, saved as usual (``…:edited`` once painted);
* **Backspace** rejects it for this run, in the store (:class:`core.store.reviews.RejectedProposals`).

Accept and reject go on to the next open proposal. Masks go through the editor (and so the
project session's saver); an undo that removes the mask puts the proposal back in the queue.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QDockWidget, QLineEdit, QPlainTextEdit, QTextEdit

from core.proposals.accept import proposal_source
from core.proposals.review import ReviewQueue, review_queue
from core.proposals.store import Proposal, load_proposals, proposer_runs
from core.store import ClassKind, Project, StoreError, default_actor
from labelapp.proposals.bulk import BulkAccept
from labelapp.proposals.loader import LoadedProposal, ProposalLoader
from labelapp.proposals.overlay import ProposalOverlay, legend_text
from labelapp.proposals.panel import ALL_REVIEWED, NO_RUN, ProposalsPanel, keys_sentence, summary_text
from labelapp.session.changes import LabelsChanged
from labelapp.session.project_session import ProjectSession
from labelapp.shortcuts.keymap import REVIEW, ShortcutMap, display_text

logger = logging.getLogger(__name__)
TEXT_INPUTS = (QLineEdit, QAbstractSpinBox, QTextEdit, QPlainTextEdit)  # Enter there is not a decision


class ProposalReview(QObject):
    """Drives the review between ``panel``, ``editor`` (the image editor: its canvas,
    ``image_shown``, ``current_image_id``, ``mask_replacer``, ``set_tool``, ``flush``,
    ``reload_image``) and ``session``; ``go_to(image_id)`` shows an image.

    Signals:
        keys_active(bool): the review keys should hold their keys (a proposal is on screen) or not.
        message(str): a line for the status area.
    """

    keys_active = Signal(bool)
    message = Signal(str)

    def __init__(self, panel: ProposalsPanel, editor: Any, session: ProjectSession, go_to: Callable[[int], None],
                 shortcuts: ShortcutMap, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.panel, self.editor, self.session, self._go_to = panel, editor, session, go_to
        self.shortcuts = shortcuts
        self.overlay = ProposalOverlay(editor.canvas)
        self.queue: ReviewQueue | None = None
        self.decided: dict[int, str] = {}  # this session's decisions on the queue's run: accepted, edited, rejected
        self.current: Proposal | None = None  # the open proposal on screen
        self.cut: float | None = None  # the cut the slider chose for it (None: the run's)
        self._mask: np.ndarray | None = None  # the proposal on screen at that cut
        self.loader = ProposalLoader(self)
        self.loader.loaded.connect(self._on_loader_loaded)
        self.loader.failed.connect(self._on_loader_failed)
        self._enabled = True
        self._active = False
        self._error = ""
        session.opened.connect(self._on_session_opened)
        session.closed.connect(self._on_session_closed)
        session.mask_saved.connect(self._on_session_mask_saved)
        session.labels_changed.connect(self._on_session_labels_changed)
        editor.image_shown.connect(self._on_editor_image_shown)
        panel.image_requested.connect(self.open)
        panel.cut_changed.connect(self.set_cut)
        panel.cut_reset.connect(lambda: self.set_cut(None))
        panel.view_chosen.connect(self.set_view)
        panel.setEnabled(False)
        self.bulk = BulkAccept(self)

    @property
    def project(self) -> Project | None:
        return self.session.project

    def handlers(self) -> dict[str, Callable[[], None]]:
        """The window's key actions this review answers."""
        return {"proposal.next": self.go_next, "proposal.accept": self.accept, "proposal.edit": self.edit,
                "proposal.reject": self.reject, "proposal.repair": lambda: self.toggle_view("repair"),
                "proposal.difference": lambda: self.toggle_view("difference")}

    def attach(self, dock: QDockWidget, set_context_active: Callable[[str, bool], None]) -> None:
        """Reviews while ``dock`` is open (closing it hides the outline and frees the keys);
        ``set_context_active`` gives the review keys their keys (the window's actions)."""
        self.keys_active.connect(lambda active: set_context_active(REVIEW, active))
        dock.toggleViewAction().toggled.connect(self.set_enabled)
        dock.visibilityChanged.connect(lambda visible: self.reload() if visible else None)

    def shutdown(self) -> None:
        """Stops a bulk accept and waits for a proposal being read (call from ``closeEvent``)."""
        self.bulk.stop()
        self.loader.wait()
        self.panel.list.shutdown()

    def is_active(self) -> bool:
        """Whether a proposal is on screen for review (the review keys hold Enter, E, Backspace)."""
        return self._active

    # -- reading -------------------------------------------------------------------------------
    def reload(self, *, force: bool = False) -> None:
        """Reads the newest proposer run's proposals again when it changed (``force``: always)."""
        project = self.project
        queue = None
        self._error = ""
        if project is not None:
            try:
                runs = proposer_runs(project)
                if runs and not force and self.queue is not None and runs[0].id == self.queue.run_id:
                    return
                queue = review_queue(project, load_proposals(project, runs[0])) if runs else None
            except (StoreError, OSError, ValueError, KeyError) as exc:
                logger.warning("cannot read the mask proposals: %s", exc)
                self._error = f"Cannot read the mask proposals: {exc}"
        if queue is None or self.queue is None or queue.run_id != self.queue.run_id:
            self.decided = {}
        self.queue = queue
        self._refill()
        self._show(self.editor.current_image_id())

    def set_enabled(self, enabled: bool) -> None:
        """Reviews only while the Proposals dock is open: closed, no outline and no review keys."""
        self._enabled = bool(enabled)
        if enabled:
            self.reload()
        self._show(self.editor.current_image_id())

    def _refill(self) -> None:
        queue, project = self.queue, self.project
        rows = []
        if queue is not None:
            rows = [(item, self.decided.get(item.image_id, "open")) for item in queue.items
                    if queue.is_open(item.image_id) or item.image_id in self.decided]
        self.panel.fill(project, rows, self.editor.current_image_id())
        self.panel.set_rejected(0 if queue is None else len(queue.rejected()))
        self._show_summary()

    def _show_summary(self) -> None:
        text = "" if self.project is None else summary_text(self.queue, self._keys_text())
        if self._error:
            text = f"<span style='color:#c0392b'>{html.escape(self._error)}</span><br>{text}"
        self.panel.set_summary(text)

    def _keys_text(self) -> str:
        return keys_sentence(self.shortcuts)

    # -- the image on screen -------------------------------------------------------------------
    def _wanted(self, image_id: int | None) -> bool:
        """Whether ``image_id`` is open for review (and the review is on)."""
        queue = self.queue
        return (self._enabled and queue is not None and self.project is not None and image_id is not None
                and queue.is_open(image_id) and image_id not in self.decided)

    def _show(self, image_id: int | None) -> None:
        """Draws the proposal of ``image_id`` when it is open for review (read off the GUI
        thread the first time); else nothing."""
        current = self.current
        if (self._wanted(image_id) and current is not None and current.image_id == image_id
                and current.run_id == self.queue.run_id):
            self._draw(image_id)
            return
        self.current, self.cut, self._mask = None, None, None
        self.panel.select(image_id)  # a decided row stays listed; any other image: no row
        self.overlay.clear()
        self.panel.show_current(None, keys=display_text(self.shortcuts.keys("proposal.next")[:1]))
        self._set_active(False)
        if self._wanted(image_id):
            self.loader.request(self.project.root, self.queue.proposals, image_id)

    def _draw(self, image_id: int) -> None:
        proposal = self.current
        assert proposal is not None
        if self._mask is None:
            self._mask = proposal.mask(self.cut)
        self.overlay.set_proposal(image_id, self._mask, repair=proposal.repair, difference=proposal.difference,
                                  legend=self._legend())
        self._show_controls()
        self.panel.select(image_id)
        self._set_active(True)

    @Slot(object)
    def _on_loader_loaded(self, loaded: LoadedProposal) -> None:
        queue = self.queue
        image_id = self.editor.current_image_id()
        if (queue is None or loaded.run_id != queue.run_id or loaded.image_id != image_id
                or not self._wanted(image_id) or self.current is not None):
            return  # another image or run by now: its own read is under way
        if loaded.proposal is None:
            self.message.emit(f"Proposer run #{loaded.run_id} kept no proposal of this image.")
            return
        self.current, self.cut, self._mask = loaded.proposal, None, loaded.mask
        self._draw(image_id)

    @Slot(object)
    def _on_loader_failed(self, failure: object) -> None:
        image_id, error = failure  # type: ignore[misc]
        self.message.emit(f"Cannot read the proposal of image {image_id}: {error}")

    def _legend(self) -> str:
        proposal = self.current
        return "" if proposal is None else legend_text(proposal, self._cut_value(), self.overlay.view())

    def _show_controls(self) -> None:
        proposal = self.current
        assert proposal is not None
        self.panel.show_current(self._cut_value(), proposal.cut, run_id=proposal.run_id,
                                has_repair=proposal.repair is not None, view=self.overlay.view())

    def _cut_value(self) -> float:
        assert self.current is not None
        return self.current.cut if self.cut is None else self.cut

    def _set_active(self, active: bool) -> None:
        if active != self._active:
            self._active = active
            self.keys_active.emit(active)

    # -- commands ------------------------------------------------------------------------------
    @Slot(object)
    def open(self, image_id: object) -> None:
        """Shows ``image_id`` (a row chosen in the dock)."""
        if image_id is not None and int(image_id) != self.editor.current_image_id():  # type: ignore[call-overload]
            self._go_to(int(image_id))  # type: ignore[call-overload]

    def go_next(self) -> None:
        """Shows the next open proposal after the image on screen (the best when it has none)."""
        if self.queue is None:
            self.message.emit(NO_RUN.split(". ")[0] + ".")
            return
        target = self.queue.next_open(self.editor.current_image_id())
        if target is None:
            self.message.emit(ALL_REVIEWED.format(run=self.queue.run_id))
            return
        self._go_to(target)

    def accept(self) -> None:
        """Makes the proposal on screen the image's mask and saves it; goes on to the next."""
        if self._decide("accepted", save=True):
            self._advance()

    def edit(self) -> None:
        """Makes the proposal on screen the image's mask with the brush in hand, not saved yet."""
        if self._decide("edited", save=False):
            self.editor.set_tool("brush")
            self.message.emit("The proposal is now the mask: paint or erase, it saves as usual (Ctrl+Z takes it back).")

    def reject(self) -> None:
        """Rejects the proposal on screen for this run (it is not offered again); goes on to the next."""
        proposal, queue, project = self.current, self.queue, self.project
        if isinstance(QApplication.focusWidget(), TEXT_INPUTS):
            return
        if proposal is None or queue is None or project is None or not self._active:
            self.message.emit("No mask proposal on screen to reject.")
            return
        try:
            project.rejected_proposals.reject(queue.run_id, [proposal.image_id], actor=default_actor(), source="gui")
        except StoreError as exc:
            self.message.emit(f"The rejection was not saved: {exc}")
            return
        queue.set_rejected(proposal.image_id, True)
        self._mark(proposal.image_id, "rejected")
        self._advance()

    def _decide(self, decision: str, *, save: bool) -> bool:
        proposal, queue = self.current, self.queue
        if isinstance(QApplication.focusWidget(), TEXT_INPUTS):
            return False  # Enter in the search field, a spin box: not a decision on the proposal
        if (proposal is None or queue is None or not self._active
                or proposal.image_id != self.editor.current_image_id()):
            self.message.emit("No mask proposal on screen: R opens the next one.")
            return False
        item = queue.item(proposal.image_id)
        assert item is not None
        cut = None if self.cut is None or abs(self.cut - proposal.cut) < 1e-9 else self.cut
        origin = proposal_source(queue.run_id, edited=cut is not None)  # another cut: not as the run proposed
        mask = np.where(self._mask, np.uint8(item.class_id), np.uint8(0)).astype(np.uint8)  # as drawn
        if not self.editor.mask_replacer.replace(proposal.image_id, mask, origin=origin,
                                                 edited_origin=proposal_source(queue.run_id, edited=True), save=save):
            self.message.emit("The image is still loading: try again in a moment.")
            return False
        queue.set_masked(proposal.image_id, True)  # out of the queue now; an undo that removes it brings it back
        self._mark(proposal.image_id, decision)
        return True

    def _mark(self, image_id: int, decision: str) -> None:
        self.decided[image_id] = decision
        self._refill()
        self._show(self.editor.current_image_id())

    def _advance(self) -> None:
        queue = self.queue
        if queue is None:
            return
        target = queue.next_open(self.editor.current_image_id())
        if target is None:
            self.message.emit(ALL_REVIEWED.format(run=queue.run_id))
        else:
            self._go_to(target)

    def toggle_view(self, view: str) -> None:
        """Shows the repair (or the difference map) instead of the image, or the image again."""
        if self.current is None:
            return
        if view == "repair" and not self.overlay.has_repair():
            self.message.emit("This proposer makes no repair (nearest-neighbour proposer): V shows nothing else.")
            return
        self.set_view("image" if self.overlay.view() == view else view)

    @Slot(str)
    def set_view(self, view: str) -> None:
        self.overlay.set_view(view)
        self.overlay.set_legend(self._legend())
        self.panel.set_view(self.overlay.view())

    @Slot(object)
    def set_cut(self, cut: object) -> None:
        """Redraws the proposal on screen at ``cut`` (None: the run's)."""
        if self.current is None:
            return
        self.cut = None if cut is None else float(cut)  # type: ignore[arg-type]
        self._mask = self.current.mask(self.cut)
        self.overlay.set_mask(self._mask)
        self.overlay.set_legend(self._legend())
        self._show_controls()

    # -- changes ---------------------------------------------------------------------------------
    @Slot(object)
    def _on_session_opened(self, _project: object) -> None:
        self.queue, self.decided, self.current = None, {}, None
        self.panel.forget_thumbnails()
        self.panel.setEnabled(True)
        self.reload(force=True)

    @Slot()
    def _on_session_closed(self) -> None:
        self.queue, self.decided, self.current = None, {}, None
        self.overlay.clear()
        self.panel.fill(None, [], None)
        self.panel.set_summary("")
        self.panel.show_current(None)
        self.panel.setEnabled(False)
        self._set_active(False)

    @Slot(object)
    def _on_editor_image_shown(self, image_id: object) -> None:
        self._show(None if image_id is None else int(image_id))  # type: ignore[call-overload]

    @Slot(object)
    def _on_session_mask_saved(self, image_id: object) -> None:
        """A mask was written: the image leaves the queue, or comes back when an undo removed it."""
        queue, project = self.queue, self.project
        if queue is None or project is None or queue.item(int(image_id)) is None:  # type: ignore[call-overload]
            return
        image_id = int(image_id)  # type: ignore[call-overload]
        try:
            masked = project.masks.info(image_id) is not None
        except StoreError:
            return
        if masked == (queue.state(image_id) == "masked"):
            return
        queue.set_masked(image_id, masked)
        if not masked and self.decided.get(image_id) in ("accepted", "edited"):
            del self.decided[image_id]  # undone: offered again
        self._refill()
        self._show(self.editor.current_image_id())

    @Slot(object)
    def _on_session_labels_changed(self, change: LabelsChanged) -> None:
        """A proposal whose image stopped (or started) being labeled defective: read the queue again."""
        queue, project = self.queue, self.project
        if queue is None or project is None:
            return
        proposals = queue.proposals
        for image_id in change.changed_ids:
            if proposals.row(image_id) is None:
                continue
            new = change.new.get(image_id)
            try:
                defective = new is not None and project.classes.get(new).kind is ClassKind.DEFECT
            except StoreError:
                defective = False
            item = queue.item(image_id)
            if defective != (item is not None) or (item is not None and item.class_id != new):  # the mask's class
                self.reload(force=True)
                return
