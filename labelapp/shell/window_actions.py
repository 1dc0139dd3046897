"""The window's actions: one QAction per remappable shortcut, the class keys, the menus."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu

from core.store import ImageClass
from labelapp.shortcuts.keymap import ACTIONS, ShortcutMap
from labelapp.widgets.swatches import color_icon

# Menu of each action; the order of ACTIONS within a menu is kept.
MENUS: dict[str, str] = {
    "project.new": "&File", "project.open": "&File", "project.import": "&File", "model.export": "&File",
    "app.quit": "&File",
    "edit.undo": "&Edit", "edit.redo": "&Edit", "mask.save": "&Edit", "project.classes": "&Edit",
    "label.ok": "&Label", "label.clear": "&Label", "label.accept_prediction": "&Label",
    "image.next": "&Go", "image.previous": "&Go", "image.next_unlabeled": "&Go", "grid.search": "&Go",
    "image.next_suggested": "&Go",
    "mask.worth_next": "&Go", "proposal.next": "&Go",
    "proposal.accept": "&Label", "proposal.edit": "&Label", "proposal.reject": "&Label",
    "proposal.repair": "&View", "proposal.difference": "&View",
    "tool.brush": "&Tools", "tool.eraser": "&Tools", "tool.polygon": "&Tools", "tool.fill": "&Tools",
    "tool.pan": "&Tools", "brush.smaller": "&Tools", "brush.larger": "&Tools",
    "view.fit": "&View", "view.actual_size": "&View", "view.zoom_in": "&View", "view.zoom_out": "&View",
    "overlay.toggle": "&View", "overlay.less": "&View", "overlay.more": "&View", "heatmap.toggle": "&View",
    "train.retrain": "T&rain", "train.cancel": "T&rain", "train.pretrain_again": "T&rain",
    "train.detector_from_scratch": "T&rain", "train.propose_masks": "T&rain",
    "help.shortcuts": "&Help",
}
MENU_ORDER = ("&File", "&Edit", "&Label", "&Go", "&Tools", "&View", "T&rain", "&Help")


class WindowActions:
    """Builds and re-keys the actions of a main window."""

    def __init__(self, window: QMainWindow, shortcuts: ShortcutMap,
                 handlers: dict[str, Callable[[], None]]) -> None:
        self._window = window
        self._shortcuts = shortcuts
        self.menus: dict[str, QMenu] = {title: window.menuBar().addMenu(title) for title in MENU_ORDER}
        self.actions: dict[str, QAction] = {}
        self._unhandled: set[str] = set()  # no handler (a feature this build lacks): stays disabled
        for spec in ACTIONS:
            action = QAction(spec.text, window)
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            handler = handlers.get(spec.id)
            if handler is not None:
                action.triggered.connect(lambda _checked=False, h=handler: h())
            else:
                action.setEnabled(False)
                self._unhandled.add(spec.id)
            window.addAction(action)  # shortcuts work with the menu bar hidden too
            self.menus[MENUS.get(spec.id, "&Help")].addAction(action)
            self.actions[spec.id] = action
        self._class_actions: list[QAction] = []
        self._contexts: set[str] = set()  # key contexts active now besides the window's (keymap.active_bindings)
        self.apply_shortcuts()

    def apply_shortcuts(self) -> None:
        """(Re)applies the user's keys, e.g. after the shortcut settings changed."""
        self._shortcuts.apply(self.actions, self._contexts)

    def set_context_active(self, context: str, active: bool) -> None:
        """Gives the keys of ``context``'s actions to them (``active``) or back to the window's."""
        if (context in self._contexts) != active:
            (self._contexts.add if active else self._contexts.discard)(context)
            self.apply_shortcuts()

    def set_classes(self, classes: list[ImageClass], on_class: Callable[[int], None]) -> None:
        """One action per class with its key (stored in the project), in the Label menu."""
        menu = self.menus["&Label"]
        for action in self._class_actions:
            menu.removeAction(action)
            self._window.removeAction(action)
            action.deleteLater()
        self._class_actions = []
        first = menu.actions()[0] if menu.actions() else None
        for cls in classes:
            action = QAction(color_icon(cls.color, border="none"), f"{cls.name}", self._window)
            if cls.shortcut:
                action.setShortcut(QKeySequence(cls.shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.triggered.connect(lambda _checked=False, class_id=cls.id: on_class(class_id))
            self._window.addAction(action)
            menu.insertAction(first, action)
            self._class_actions.append(action)
        if first is not None and classes:
            menu.insertSeparator(first)

    def set_project_actions_enabled(self, enabled: bool) -> None:
        for action_id, action in self.actions.items():
            if action_id not in self._unhandled and not action_id.startswith(
                    ("project.new", "project.open", "app.", "help.")):
                action.setEnabled(enabled)
