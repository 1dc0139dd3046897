"""The "worth a mask" list: defective images without a mask whose mask would teach the
defect detector most, from the latest seg-dec run (:func:`core.active.worth_a_mask.load_worth_a_mask`),
best first, each with the reason.

The panel reads the list when a project opens and after a training run (:meth:`reload`),
and drops an entry once its image gets a mask or stops being labeled defective, without
reading the list again. Double-click or Enter asks the window to open the image with the
brush (:attr:`WorthAMaskPanel.image_requested`); the window's "Next image worth a mask"
key walks the list (:meth:`next_after`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QVBoxLayout, QWidget

from core.active.worth_a_mask import load_worth_a_mask
from core.store import Project, RunKind, StoreError
from labelapp.suggestions.ranked_list import RankedImageList, summary_label

logger = logging.getLogger(__name__)
SHOWN = 100  # entries listed at once; the rest after a retrain
NO_DETECTOR = ("No defect detector yet. Label OK and defective images, then Retrain (Ctrl+R) with “Defect "
               "detector” ticked: this list then shows the defective images whose mask would teach it most.")
EMPTY = "No image left on run #{run}'s list. Retrain (Ctrl+R) for a new one."
LISTED = ("<b>{n}</b> defective images without a mask, most useful first (run #{run}). "
          "Double-click, Enter or <b>W</b> opens the next with the brush.")


class WorthAMaskPanel(QWidget):
    """Signals:
        image_requested(object): image id to open with the brush (double-click or Enter).
    """

    image_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._project: Project | None = None
        self._run_id: int | None = None
        self._total = 0  # entries on the run's list (only the first SHOWN are listed)
        self.summary = summary_label("worth_a_mask_summary")
        self.list = RankedImageList("worth_a_mask_list",
                                    "Double-click or Enter: open the image with the brush to draw its mask")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.summary)
        layout.addWidget(self.list, 1)
        self.list.image_activated.connect(self.image_requested)
        self._show_summary()

    # -- project ---------------------------------------------------------------------------------
    def set_project(self, project: Project | None) -> None:
        self._project = project
        self.reload()

    def reload(self) -> None:
        """Reads the latest defect-detector run's list again (after a run, or a project opened)."""
        self.list.clear()
        self.list.forget_thumbnails()  # read afresh: the thumbnail cache may have gained some
        self._run_id = None
        self._total = 0
        project = self._project
        if project is not None:
            try:
                run = project.runs.latest(RunKind.SEGDEC)
                entries = load_worth_a_mask(project, run) if run is not None else []
            except (StoreError, OSError, ValueError) as exc:
                logger.warning("cannot read the worth-a-mask list: %s", exc)
                run, entries = None, []
            self._run_id = run.id if run is not None else None
            self._total = len(entries)
            self._add(project, entries[:SHOWN])
        self._show_summary()

    def _add(self, project: Project, entries: list[dict]) -> None:
        ids = [int(e["image_id"]) for e in entries]
        self.list.read_thumbnails(project, ids)
        names = {c.id: c.name for c in project.classes.list()}
        labeled = project.labels.class_by_image(ids)  # one query, not one per row
        for entry, image_id in zip(entries, ids, strict=True):
            kind = f"{names[labeled[image_id]]} · " if image_id in labeled else ""
            name = self.list.name(image_id)
            self.list.add_image(image_id, f"{name}\n{kind}{entry['reason']}",
                                f"{name} ({kind.removesuffix(' · ') or 'unlabeled'}): {entry['reason']}")

    def _show_summary(self) -> None:
        if self._project is None:
            self.summary.setText("")
        elif self._run_id is None:
            self.summary.setText(NO_DETECTOR)
        elif self.list.count() == 0:
            self.summary.setText(EMPTY.format(run=self._run_id))
        else:
            more = self._total - SHOWN if self._total > SHOWN else 0
            self.summary.setText(LISTED.format(n=self.list.count(), run=self._run_id)
                                 + (f" {more} more after the next retrain." if more else ""))

    # -- queries ---------------------------------------------------------------------------------
    def image_ids(self) -> list[int]:
        """The listed image ids, in order."""
        return self.list.listed_ids()

    def next_after(self, image_id: int | None) -> int | None:
        """The entry after ``image_id`` (the first when it is not listed or the last); None when empty."""
        ids = self.image_ids()
        if not ids:
            return None
        if image_id in ids:
            return ids[(ids.index(image_id) + 1) % len(ids)]
        return ids[0]

    def select(self, image_id: int) -> None:
        """Makes ``image_id``'s entry current (when listed)."""
        self.list.select_image(image_id)

    # -- changes ---------------------------------------------------------------------------------
    @Slot(object)
    def shutdown(self) -> None:
        """Stops the thumbnail loader (the window is closing); final."""
        self.list.shutdown()

    def on_mask_saved(self, image_id: object) -> None:
        """Drops the image once its mask has defect pixels."""
        project = self._project
        if project is None or image_id is None:
            return
        info = project.masks.info(int(image_id))  # type: ignore[arg-type]
        if info is not None and info.pixels > 0:
            self._drop([int(image_id)])  # type: ignore[arg-type]

    @Slot(object)
    def on_labels_changed(self, image_ids: object) -> None:
        """Drops images no longer labeled defective (labeled OK, or cleared)."""
        project = self._project
        if project is None:
            return
        listed = set(self.image_ids())
        gone = []
        for image_id in (int(i) for i in image_ids if int(i) in listed):  # type: ignore[attr-defined]
            label = project.labels.get(image_id)
            if label is None or label.kind.value == "ok":
                gone.append(image_id)
        self._drop(gone)

    def _drop(self, image_ids: Iterable[int]) -> None:
        drop = set(image_ids)
        if not drop:
            return
        self.list.remove_images(drop)
        self._show_summary()
