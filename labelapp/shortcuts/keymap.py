"""The app's remappable keyboard actions and the user's key map (kept in QSettings).

Every action the window offers has an id, a text, default keys and a group. The
user's overrides live under ``shortcuts/<id>`` in the per-user settings; an action
without an override uses its defaults. The map sends no signals: whoever changes it
(the settings dialog) tells the main window, which re-applies the keys to its actions.

Most actions hold their keys all the time (context :data:`WINDOW`). An action of another
context holds them only while that context is active (the review keys, while a mask
proposal is on screen), and then takes them from the window's actions: Enter, E and
Backspace accept, edit and reject a proposal there, and elsewhere E stays the eraser and
Backspace clears the label. Keys conflict only within a context (and with class keys).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction, QKeySequence

from core.store import ImageClass

logger = logging.getLogger(__name__)

SETTINGS_GROUP = "shortcuts"
GROUPS = ("Navigate", "Label", "Mask tools", "Review proposals", "View", "Edit", "Project", "Train", "Help")
WINDOW = "window"  # the context of the actions whose keys always work
REVIEW = "review"  # a mask proposal is on screen for review
KeyLike = QKeySequence | str
Conflict = tuple[str, str, str]  # (key, action id or reserved owner, action id or reserved owner)


@dataclass(frozen=True)
class ActionSpec:
    """One remappable action: ``defaults`` are key strings in QKeySequence's portable text."""

    id: str
    text: str
    defaults: tuple[str, ...]
    group: str
    context: str = WINDOW


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("image.next", "Next image", ("D", "Right"), "Navigate"),
    ActionSpec("image.previous", "Previous image", ("A", "Left"), "Navigate"),
    ActionSpec("image.next_unlabeled", "Next unlabeled image", ("U",), "Navigate"),
    ActionSpec("image.next_suggested", "Next suggested image", ("N",), "Navigate"),
    ActionSpec("grid.search", "Search images", ("Ctrl+F",), "Navigate"),
    ActionSpec("label.ok", "Label OK", ("Space",), "Label"),
    ActionSpec("label.clear", "Clear label", ("Delete", "Backspace"), "Label"),
    ActionSpec("label.accept_prediction", "Accept the prediction", ("Y",), "Label"),
    ActionSpec("tool.brush", "Brush", ("B",), "Mask tools"),
    ActionSpec("tool.eraser", "Eraser", ("E",), "Mask tools"),
    ActionSpec("tool.polygon", "Polygon", ("P",), "Mask tools"),
    ActionSpec("tool.fill", "Fill", ("G",), "Mask tools"),
    ActionSpec("tool.pan", "Pan", ("H",), "Mask tools"),
    ActionSpec("brush.smaller", "Smaller brush", ("[",), "Mask tools"),
    ActionSpec("brush.larger", "Larger brush", ("]",), "Mask tools"),
    ActionSpec("mask.save", "Save mask", ("Ctrl+S",), "Mask tools"),
    ActionSpec("mask.worth_next", "Next image worth a mask", ("W",), "Mask tools"),
    ActionSpec("proposal.next", "Next mask proposal to review", ("R",), "Review proposals"),
    ActionSpec("proposal.accept", "Accept the proposed mask", ("Return", "Enter"), "Review proposals", REVIEW),
    ActionSpec("proposal.edit", "Edit the proposed mask with the brush", ("E",), "Review proposals", REVIEW),
    ActionSpec("proposal.reject", "Reject the proposed mask", ("Backspace",), "Review proposals", REVIEW),
    ActionSpec("proposal.repair", "Show the repair / the image", ("V",), "Review proposals", REVIEW),
    ActionSpec("proposal.difference", "Show the difference map / the image", ("Shift+V",), "Review proposals",
               REVIEW),
    ActionSpec("overlay.toggle", "Show / hide overlay", ("O",), "View"),
    ActionSpec("overlay.less", "Fainter overlay", (",",), "View"),
    ActionSpec("overlay.more", "Stronger overlay", (".",), "View"),
    ActionSpec("heatmap.toggle", "Show / hide the defect heat map", ("J",), "View"),
    ActionSpec("view.fit", "Fit to window", ("F",), "View"),
    ActionSpec("view.actual_size", "Actual size (100%)", ("Ctrl+1",), "View"),
    ActionSpec("view.zoom_in", "Zoom in", ("+", "="), "View"),
    ActionSpec("view.zoom_out", "Zoom out", ("-",), "View"),
    ActionSpec("edit.undo", "Undo", ("Ctrl+Z",), "Edit"),
    ActionSpec("edit.redo", "Redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "Edit"),
    ActionSpec("project.new", "New project…", ("Ctrl+N",), "Project"),
    ActionSpec("project.open", "Open project…", ("Ctrl+O",), "Project"),
    ActionSpec("project.import", "Import folder…", ("Ctrl+I",), "Project"),
    ActionSpec("project.classes", "Classes…", ("Ctrl+K",), "Project"),
    ActionSpec("model.export", "Export model…", ("Ctrl+E",), "Project"),
    ActionSpec("app.quit", "Quit", ("Ctrl+Q",), "Project"),
    ActionSpec("train.retrain", "Retrain with current labels", ("Ctrl+R",), "Train"),
    ActionSpec("train.cancel", "Cancel training", ("Ctrl+Shift+R",), "Train"),
    ActionSpec("train.pretrain_again", "Retrain with a new encoder (pretrain again)", (), "Train"),
    ActionSpec("train.detector_from_scratch", "Retrain with a new defect detector (from scratch)", (), "Train"),
    ActionSpec("train.propose_masks", "Propose masks…", (), "Train"),
    ActionSpec("help.shortcuts", "Keyboard shortcuts", ("?", "F1"), "Help"),
)
_BY_ID = {spec.id: spec for spec in ACTIONS}


def spec(action_id: str) -> ActionSpec:
    """The action with this id.

    Raises:
        KeyError: no such action.
    """
    try:
        return _BY_ID[action_id]
    except KeyError:
        raise KeyError(f"no action {action_id!r}") from None


def key_text(key: KeyLike) -> str:
    """A key in portable text ("Ctrl+Z", "D"); the form keys are stored and compared in."""
    sequence = key if isinstance(key, QKeySequence) else QKeySequence(key)
    return sequence.toString(QKeySequence.SequenceFormat.PortableText)


def display_text(keys: Iterable[KeyLike]) -> str:
    """Keys as the user reads them, e.g. "D / Right"."""
    texts = []
    for key in keys:
        sequence = key if isinstance(key, QKeySequence) else QKeySequence(key)
        if not sequence.isEmpty():
            texts.append(sequence.toString(QKeySequence.SequenceFormat.NativeText))
    return " / ".join(texts)


def find_conflicts(bindings: Mapping[str, Sequence[KeyLike]], reserved: Mapping[str, str] | None = None) -> list[
        Conflict]:
    """Keys bound twice: ``(key, first owner, second owner)`` in action order.

    Args:
        bindings: action id -> its keys.
        reserved: key -> who else uses it (e.g. ``{"1": "class crazing"}``).
    """
    classes: dict[str, str] = {}
    for key, owner in (reserved or {}).items():
        if key_text(key):
            classes.setdefault(key_text(key), owner)
    owners: dict[str, dict[str, str]] = {}  # context -> key -> first action (class keys in every context)
    found: list[Conflict] = []
    for action_id, keys in bindings.items():
        taken = owners.setdefault(_context(action_id), dict(classes))
        for key in dict.fromkeys(t for t in (key_text(k) for k in keys) if t):
            first = taken.setdefault(key, action_id)
            if first != action_id:
                found.append((key, first, action_id))
    return found


def active_bindings(bindings: Mapping[str, Sequence[KeyLike]], active: Iterable[str] = ()) -> dict[
        str, list[QKeySequence]]:
    """The keys each action holds while the contexts ``active`` (besides :data:`WINDOW`) are:
    an action of an inactive context holds none; an active one takes its keys from the
    window's actions."""
    active = set(active) - {WINDOW}
    shadowed = {key_text(k) for a, keys in bindings.items() if _context(a) in active for k in keys}
    held: dict[str, list[QKeySequence]] = {}
    for action_id, keys in bindings.items():
        context = _context(action_id)
        if context == WINDOW:
            held[action_id] = [_sequence(k) for k in keys if key_text(k) not in shadowed]
        else:
            held[action_id] = [_sequence(k) for k in keys] if context in active else []
    return held


def _context(action_id: str) -> str:
    found = _BY_ID.get(action_id)
    return WINDOW if found is None else found.context


def _sequence(key: KeyLike) -> QKeySequence:
    return key if isinstance(key, QKeySequence) else QKeySequence(key)


class ShortcutMap:
    """The keys of every action: the defaults, with the user's overrides from ``settings``."""

    def __init__(self, settings: QSettings | None = None) -> None:
        self._settings = settings if settings is not None else QSettings()

    def keys(self, action_id: str) -> list[QKeySequence]:
        """The keys of one action (the defaults unless the user changed them)."""
        defaults = spec(action_id).defaults
        raw = self._settings.value(f"{SETTINGS_GROUP}/{action_id}")
        texts: Sequence[str] = defaults
        if raw is not None:
            try:
                loaded = json.loads(str(raw))
                texts = [str(k) for k in loaded] if isinstance(loaded, list) else defaults
            except json.JSONDecodeError:
                logger.warning("ignoring unreadable shortcut setting %s=%r", action_id, raw)
        return [QKeySequence(t) for t in texts if t]

    def bindings(self) -> dict[str, list[QKeySequence]]:
        """Every action id with its keys, in action order."""
        return {s.id: self.keys(s.id) for s in ACTIONS}

    def is_default(self, action_id: str) -> bool:
        return [key_text(k) for k in self.keys(action_id)] == [key_text(k) for k in spec(action_id).defaults]

    def set_keys(self, action_id: str, keys: Sequence[KeyLike]) -> None:
        """Binds ``keys`` to an action (an empty list: no key); the defaults remove the override."""
        texts = [t for t in (key_text(k) for k in keys) if t]
        if texts == [key_text(k) for k in spec(action_id).defaults]:
            self._settings.remove(f"{SETTINGS_GROUP}/{action_id}")
        else:
            self._settings.setValue(f"{SETTINGS_GROUP}/{action_id}", json.dumps(texts))
        self._settings.sync()

    def reset(self, action_id: str | None = None) -> None:
        """Back to the default keys: of one action, or of every action (``None``)."""
        if action_id is None:
            self._settings.remove(SETTINGS_GROUP)
        else:
            spec(action_id)
            self._settings.remove(f"{SETTINGS_GROUP}/{action_id}")
        self._settings.sync()

    def conflicts(self, reserved: Mapping[str, str] | None = None) -> list[Conflict]:
        """Keys bound to two actions, or to an action and a ``reserved`` owner (class keys)."""
        return find_conflicts(self.bindings(), reserved)

    def apply(self, actions: Mapping[str, QAction], active: Iterable[str] = ()) -> None:
        """Sets the keys of the given ``{action id: QAction}`` with the contexts ``active``
        (see :func:`active_bindings`)."""
        held = active_bindings(self.bindings(), active)
        for action_id, action in actions.items():
            action.setShortcuts(held.get(action_id, self.keys(action_id)))


def class_keys(classes: Iterable[ImageClass]) -> dict[str, str]:
    """``{key: "class <name>"}`` for the classes with a shortcut: the keys actions must not take."""
    return {c.shortcut: f"class {c.name}" for c in classes if c.shortcut}
