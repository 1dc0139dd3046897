"""The review's parts on their own: the outline's lines, the source a save records after
a proposal was accepted, and the review keys' context in the key map."""

from __future__ import annotations

import numpy as np
import pytest

from labelapp.editor.geometry import Box
from labelapp.editor.history import History, LabelChange, MaskEdit, Patch
from labelapp.proposals.outline import outline_segments
from labelapp.shortcuts.keymap import REVIEW, ShortcutMap, active_bindings, find_conflicts, key_text, spec


def brute_edges(mask: np.ndarray) -> set[tuple[int, int, int, int]]:
    """Every unit pixel edge between a proposed and a not proposed pixel (or the border)."""
    height, width = mask.shape
    edges = set()
    for r in range(height):
        for c in range(width):
            if not mask[r, c]:
                continue
            if c == 0 or not mask[r, c - 1]:
                edges.add((c, r, c, r + 1))
            if c == width - 1 or not mask[r, c + 1]:
                edges.add((c + 1, r, c + 1, r + 1))
            if r == 0 or not mask[r - 1, c]:
                edges.add((c, r, c + 1, r))
            if r == height - 1 or not mask[r + 1, c]:
                edges.add((c, r + 1, c + 1, r + 1))
    return edges


def unit_edges(segments: np.ndarray) -> set[tuple[int, int, int, int]]:
    edges = set()
    for x1, y1, x2, y2 in segments.astype(int).tolist():
        if x1 == x2:
            edges.update((x1, y, x1, y + 1) for y in range(y1, y2))
        else:
            edges.update((x, y1, x + 1, y1) for x in range(x1, x2))
    return edges


@pytest.mark.parametrize("seed", range(5))
def test_the_outline_is_every_border_edge_merged(seed: int) -> None:
    rng = np.random.default_rng(seed)
    mask = rng.random((13, 29)) > 0.6  # not square, blobs touching the borders
    segments = outline_segments(mask)
    assert unit_edges(segments) == brute_edges(mask)
    assert len(segments) <= len(brute_edges(mask))
    assert outline_segments(np.ones((3, 7), bool)).tolist() == [[0, 0, 0, 3], [7, 0, 7, 3], [0, 0, 7, 0],
                                                                 [0, 3, 7, 3]]  # four lines, not 20 edges
    assert outline_segments(np.zeros((4, 4), bool)).shape == (0, 4)


def edit(origin: str | None = None) -> MaskEdit:
    patch = Patch.of(np.zeros((1, 1), np.uint8))
    return MaskEdit(Box(0, 0, 1, 1), patch, patch, origin=origin, edited_origin=origin and origin + ":edited")


def test_a_save_names_the_proposal_and_whether_it_was_edited_after() -> None:
    history = History()
    assert history.mask_source("gui") == "gui"
    history.push(edit())  # the user's own stroke first
    history.push(edit("proposal:run-4"))
    assert history.mask_source("gui") == "proposal:run-4"
    history.push(LabelChange(1, None, 2))  # a label change is no mask edit
    assert history.mask_source("gui") == "proposal:run-4"
    history.push(edit())
    assert history.mask_source("gui") == "proposal:run-4:edited"
    history.commit_undo()
    history.commit_undo()
    assert history.mask_source("gui") == "proposal:run-4"
    history.commit_undo()  # the proposal undone: the user's own mask again
    assert history.mask_source("gui") == "gui"


def test_review_keys_take_the_window_keys_only_while_active(tmp_path) -> None:
    from PySide6.QtCore import QSettings

    shortcuts = ShortcutMap(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    assert spec("proposal.accept").context == REVIEW and spec("proposal.next").context != REVIEW
    assert shortcuts.conflicts(reserved={str(i): f"class {i}" for i in range(10)}) == []  # E / Backspace twice: fine
    idle = active_bindings(shortcuts.bindings())
    reviewing = active_bindings(shortcuts.bindings(), [REVIEW])
    texts = {name: {a: [key_text(k) for k in keys] for a, keys in held.items()}
             for name, held in (("idle", idle), ("reviewing", reviewing))}
    assert texts["idle"]["proposal.accept"] == [] and texts["idle"]["tool.eraser"] == ["E"]
    assert texts["reviewing"]["proposal.accept"] == ["Return", "Enter"] and texts["reviewing"]["tool.eraser"] == []
    assert texts["reviewing"]["label.clear"] == ["Del"] and texts["reviewing"]["image.next"] == ["D", "Right"]
    held = [k for keys in texts["reviewing"].values() for k in keys]
    assert len(held) == len(set(held))  # no key held twice while reviewing
    bindings = {**shortcuts.bindings(), "proposal.edit": ["V"]}  # two review actions on V: a conflict
    assert find_conflicts(bindings) == [("V", "proposal.edit", "proposal.repair")]
    assert find_conflicts(shortcuts.bindings(), {"E": "class scratch"}) == [
        ("E", "class scratch", "tool.eraser"), ("E", "class scratch", "proposal.edit")]
