"""The map's controls above the view: what the colour shows, Lasso and Fit; below them
the selection in words with "Label as" (a menu of the classes) and Clear."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QMenu, QToolButton

from core.store import ImageClass
from labelapp.map.colours import MODES
from labelapp.widgets.swatches import color_icon

NO_SELECTION = "Drag with <b>Shift</b> held (or turn on <b>Lasso</b>) to select images; <b>Ctrl</b> adds."
SELECTED = "<b>{n:,}</b> image{s} selected, shown in the grid."


class MapControls:
    """The controls' widgets, laid out in two rows (:attr:`rows`); the panel connects them."""

    def __init__(self) -> None:
        self.mode_combo = QComboBox(objectName="map_colour")
        for text, mode in MODES:
            self.mode_combo.addItem(text, mode)
        self.mode_combo.setToolTip("What the colour of a dot shows")
        self.lasso_button = QToolButton(objectName="map_lasso", text="Lasso", checkable=True)
        self.lasso_button.setToolTip("On: a drag draws around images to select them (off: hold Shift while "
                                     "dragging); with Ctrl held a lasso adds to the selection. The wheel zooms, "
                                     "the middle button pans")
        self.fit_button = QToolButton(objectName="map_fit", text="Fit")
        self.fit_button.setToolTip("Show the whole map")
        self.label_button = QToolButton(objectName="map_label_as", text="Label as")
        self.label_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.label_button.setMenu(QMenu(self.label_button))
        self.label_button.setToolTip("Give every selected image this label (undo per image in the editor)")
        self.clear_button = QToolButton(objectName="map_clear", text="Clear")
        self.clear_button.setToolTip("Clear the selection (the grid shows all images again)")
        self.selection_label = QLabel(NO_SELECTION, objectName="map_selection")
        self.selection_label.setWordWrap(True)
        controls = QHBoxLayout()
        controls.setSpacing(4)
        controls.addWidget(QLabel("Colour"))
        controls.addWidget(self.mode_combo, 1)
        controls.addWidget(self.lasso_button)
        controls.addWidget(self.fit_button)
        selection = QHBoxLayout()
        selection.setSpacing(4)
        selection.addWidget(self.selection_label, 1)
        selection.addWidget(self.label_button)
        selection.addWidget(self.clear_button)
        self.rows = (controls, selection)

    def set_classes(self, classes: Sequence[ImageClass]) -> None:
        """The "Label as" menu: one entry per class, its colour and shortcut key."""
        menu = self.label_button.menu()
        menu.clear()
        for cls in classes:
            action = menu.addAction(color_icon(cls.color), cls.name + (f"  [{cls.shortcut}]" if cls.shortcut else ""))
            action.setData(cls.id)

    def show_selection(self, n: int, *, can_label: bool) -> None:
        """Says how many images are selected; "Label as" needs some and a class."""
        self.selection_label.setText(SELECTED.format(n=n, s="" if n == 1 else "s") if n else NO_SELECTION)
        self.label_button.setEnabled(n > 0 and can_label)
        self.clear_button.setEnabled(n > 0)
        self.label_button.setText(f"Label {n:,} as" if n else "Label as")
