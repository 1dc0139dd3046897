"""Labeling by keyboard: which images a key applies to, what it writes, where to go next.

The controller is the one place where grid and editor meet: the grid's current image
is the editor's image. Labels go through the project session
(:class:`labelapp.session.project_session.ProjectSession`), whose one ``labels_changed``
refreshes the views and records the change for undo.

After a label, "go to the next image" follows the grid's order, unless the image was
opened with a route of its own (:meth:`LabelingController.go_to` with ``then``, e.g. from
the suggestions queue): then it goes where the route says, and keeps the route. Any
other way to another image (grid, next / previous keys) drops the route.

Painting labels too: a stroke, polygon or fill in a defect class on an unlabeled image
labels it with that class (see :meth:`LabelingController._on_editor_mask_painted`), so
that every painted mask reaches the defect detector; one Ctrl+Z undoes both.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal, Slot

from core.store import ClassKind, Project, StoreError
from labelapp.editor import ImageEditor
from labelapp.grid import ImageGrid
from labelapp.session.project_session import ProjectSession

logger = logging.getLogger(__name__)
SOURCE = "gui"


class LabelingController(QObject):
    """Keys -> label writes through the session -> where to go next.

    Signals:
        message(str): a note for the status bar.
        error(str): a write that failed, for the status bar.
    """

    message = Signal(str)
    error = Signal(str)

    def __init__(self, grid: ImageGrid, editor: ImageEditor, session: ProjectSession,
                 parent: QObject | None = None):
        super().__init__(parent)
        self._grid = grid
        self._editor = editor
        self._session = session
        self.auto_advance = True
        self._route: Callable[[int], int | None] | None = None  # where a label advances from _route_image
        self._route_image: int | None = None
        grid.current_changed.connect(self._on_grid_current_changed)
        grid.activated.connect(self._on_grid_current_changed)
        editor.mask_painted.connect(self._on_editor_mask_painted)

    @property
    def _project(self) -> Project | None:
        return self._session.project

    # -- navigation --------------------------------------------------------------------------
    def current_id(self) -> int | None:
        editor_id = self._editor.current_image_id()
        return editor_id if editor_id is not None else self._grid.current_id()

    def go_to(self, image_id: int | None, *, then: Callable[[int], int | None] | None = None) -> None:
        """Shows ``image_id``. ``then`` maps the image to the one that labeling it advances
        to (instead of the grid's next image); None: the grid's order."""
        if image_id is None:
            return
        self._route, self._route_image = (then, image_id) if then is not None else (None, None)
        if not self._grid.set_current(image_id):  # hidden by the filter: show it anyway
            self._show(image_id)

    def go_next(self) -> None:
        self._step(+1)

    def go_previous(self) -> None:
        self._step(-1)

    def go_next_unlabeled(self) -> None:
        found = self._grid.next_unlabeled(self.current_id())
        if found is None:
            self.message.emit("Every image in view is labeled.")
        self.go_to(found)

    def _step(self, step: int) -> None:
        current = self.current_id()
        if current is None:
            ordered = self._grid.ordered_ids()
            self.go_to(int(ordered[0]) if len(ordered) else None)
            return
        target = self._grid.neighbour(current, step)
        if target is None:
            self.message.emit("Last image in view." if step > 0 else "First image in view.")
        self.go_to(target)

    @Slot(object)
    def _on_grid_current_changed(self, image_id: object) -> None:
        if image_id != self._route_image:  # the user went elsewhere: the grid's order again
            self._route, self._route_image = None, None
        if image_id is not None and image_id != self._editor.current_image_id():
            self._show(int(image_id))

    def _show(self, image_id: int) -> None:
        self._editor.show_image(image_id)
        label = self._project.labels.get(image_id) if self._project is not None else None
        if label is not None and not label.kind.value == "ok":
            self._editor.set_paint_class(label.class_id)  # masks take the image's class
        ahead = [self._grid.neighbour(image_id, s) for s in (1, 2, -1)]
        self._editor.set_prefetch([i for i in ahead if i is not None])

    # -- labels ------------------------------------------------------------------------------
    def label_with(self, class_id: int) -> None:
        self._write(class_id)

    def label_ok(self) -> None:
        ok = self._project.classes.ok_class() if self._project is not None else None
        if ok is None:
            self.error.emit("This project has no OK class: add one in Project ▸ Classes.")
            return
        self._write(ok.id)

    def clear_label(self) -> None:
        self._write(None)

    def accept_prediction(self) -> None:
        """Labels the image (or the selection) with the latest run's predicted class."""
        project = self._project
        ids = self.targets()
        if project is None or not ids:
            return
        predicted = {i: p.class_id for i in ids if (p := project.predictions.get(i)) is not None}
        if not predicted:
            self.message.emit("No prediction for this image yet: press Retrain (Ctrl+R).")
            return
        if len(set(predicted.values())) == 1 and len(predicted) == len(ids):
            self._write(next(iter(predicted.values())))
            return
        try:  # a selection with different predictions: each image gets its own
            self._session.write_labels(list(predicted.items()), source=SOURCE)
        except StoreError as exc:
            self.error.emit(f"Labels not saved: {exc}")

    def targets(self) -> list[int]:
        """A selection of several images in the grid, else the image in the editor."""
        selected = self._grid.selected_ids()
        if len(selected) > 1:
            return selected
        current = self.current_id()
        return [current] if current is not None else []

    def _write(self, class_id: int | None) -> None:
        project = self._project
        ids = self.targets()
        if project is None or not ids:
            self.message.emit("Open an image first.")
            return
        route = self._route if len(ids) == 1 and ids[0] == self._route_image else None
        following = None
        if len(ids) == 1 and self.auto_advance:
            following = route(ids[0]) if route is not None else self._grid.neighbour(ids[0], +1)
        try:
            change = self._session.write_labels([(i, class_id) for i in ids], source=SOURCE)
        except StoreError as exc:
            self.error.emit(f"Label not saved: {exc}")
            return
        if class_id is not None and not project.classes.get(class_id).is_ok:
            self._editor.set_paint_class(class_id)
        if len(ids) > 1 and change is not None:
            self.message.emit(f"{len(change.changed_ids)} of {len(ids)} images relabeled.")
        if following is not None and class_id is not None:
            self.go_to(following, then=route)
        elif route is not None and class_id is not None and self.auto_advance:
            self.message.emit("That was the last open suggestion: Refresh the suggestions for more.")

    @Slot(object)
    def _on_editor_mask_painted(self, painted: object) -> None:
        """Defect pixels were painted on an image: without a label it takes the paint
        class (the detector trains on labeled images only, so the mask would be lost).

        An image labeled OK is relabeled to the paint class: OK means "no defect pixels"
        and the detector would learn the painted defect as clean surface. An image
        labeled with another defect class keeps its label: a mask may hold several
        defect classes (a scratch beside an inclusion) and the label names the one the
        user chose. The label change joins the edit in the undo history, so one Ctrl+Z
        takes back the stroke and the label; painting never moves to the next image."""
        image_id, class_id = painted  # type: ignore[misc]
        project = self._project
        if project is None:
            return
        try:
            label = project.labels.get(image_id)
            if label is not None and label.kind is not ClassKind.OK:
                return
            name = project.classes.get(class_id).name
            self._session.write_labels([(image_id, class_id)], source=SOURCE, joined=True)
        except StoreError as exc:
            self.error.emit(f"The painted image was not labeled: {exc}")
            return
        self.message.emit(
            f"Labeled {name}: a painted mask needs a label to reach the defect detector (Ctrl+Z undoes both)."
            if label is None else
            f"Relabeled from {label.class_name} to {name}: an OK image has no defect pixels (Ctrl+Z undoes both).")
