"""A mask the store cannot write is kept aside and offered back at the next open.

The failure is a real one: the masks folder is replaced by a file, so writing the mask's
PNG fails with an OSError as it would on a read-only or vanished folder (as root,
permissions would not stop the write; a full disk cannot be made here).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt

from core.demo_project import create_demo_project
from core.store import Project
from core.store.recovery import MaskRecovery
from labelapp.editor import ImageEditor
from labelapp.shell.app import create_main_window

LEFT, NONE = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier


def show(qtbot, editor: ImageEditor, image_id: int) -> None:
    with qtbot.waitSignal(editor.image_shown, timeout=5000):
        editor.show_image(image_id)


def drag(qtbot, editor: ImageEditor, points: list[tuple[float, float]]) -> None:
    """A brush stroke through the centres of these image pixels."""
    at = [editor.canvas.view().to_widget(x + 0.5, y + 0.5).toPoint() for x, y in points]
    qtbot.mousePress(editor.canvas, LEFT, NONE, at[0])
    for point in at[1:]:
        qtbot.mouseMove(editor.canvas, point)
    qtbot.mouseRelease(editor.canvas, LEFT, NONE, at[-1])


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    create_demo_project(root, n_images=4, size=96, workers=1)
    return root


def _break_masks_folder(root: Path) -> None:
    (root / "masks").rename(root / "masks.aside")
    (root / "masks").write_text("not a folder")


def _mend_masks_folder(root: Path) -> None:
    (root / "masks").unlink()
    (root / "masks.aside").rename(root / "masks")


def _unsaved_edit(qtbot, root: Path) -> tuple[int, np.ndarray, np.ndarray, str]:
    """Paints and saves one stroke, then paints another that cannot be saved; closes the
    editor. Returns the image id, the saved and the unsaved mask, the saved file."""
    project = Project.open(root)
    editor = ImageEditor()
    qtbot.addWidget(editor)
    editor.resize(1000, 560)
    editor.show()
    editor.set_project(project)
    editor.set_tool("brush")
    image_id = project.images.list()[0].id
    show(qtbot, editor, image_id)
    drag(qtbot, editor, [(10, 20), (60, 20)])
    editor.flush()
    saved, saved_file = project.masks.load(image_id), project.masks.info(image_id).file
    drag(qtbot, editor, [(10, 70), (60, 70)])
    unsaved = editor.current_mask().copy()
    _break_masks_folder(root)
    with qtbot.waitSignal(editor.message, timeout=5000) as blocker:
        editor.flush()
    assert "not saved" in blocker.args[0] and "kept in" in blocker.args[0]
    with qtbot.waitSignal(editor.message, timeout=5000) as blocker:
        editor.shutdown()  # closing: told that the mask waits to be offered back
    assert "offered back" in blocker.args[0]
    project.close()
    _mend_masks_folder(root)
    return image_id, saved, unsaved, saved_file


def test_an_unsaved_mask_is_kept_and_restored_at_the_next_open(qtbot, root: Path, tmp_path: Path) -> None:
    image_id, saved, unsaved, saved_file = _unsaved_edit(qtbot, root)
    assert (saved != unsaved).any()
    (kept,) = MaskRecovery(root).pending()
    assert kept.image_id == image_id and (kept.mask == unsaved).all()
    with Project.open(root) as project:  # nothing already saved is damaged
        assert project.masks.info(image_id).file == saved_file
        assert (project.masks.load(image_id) == saved).all()
        assert project.integrity_check() == "ok"
    window = create_main_window(root, settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    offer = window.views.recovered_masks
    qtbot.waitUntil(lambda: offer.box is not None and offer.box.isVisible())
    assert "1 mask could not be saved" in offer.box.text()
    with qtbot.waitSignal(window.session.mask_saved, timeout=5000) as blocker:
        qtbot.mouseClick(offer.restore_button, LEFT)
    assert blocker.args == [image_id]
    assert (window.project.masks.load(image_id) == unsaved).all()
    assert MaskRecovery(root).pending() == []  # saved: the recovery file is gone
    qtbot.waitUntil(lambda: window.editor.current_mask() is not None
                    and (window.editor.current_mask() == unsaved).all())  # the editor shows it
    window.close()


def test_discarded_masks_are_not_offered_again(qtbot, root: Path, tmp_path: Path) -> None:
    image_id, saved, _unsaved, _file = _unsaved_edit(qtbot, root)
    window = create_main_window(root, settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    offer = window.views.recovered_masks
    qtbot.waitUntil(lambda: offer.box is not None and offer.box.isVisible())
    qtbot.mouseClick(offer.discard_button, LEFT)
    assert MaskRecovery(root).pending() == []
    assert (window.project.masks.load(image_id) == saved).all()
    window.close()
