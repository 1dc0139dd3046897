"""Reviewing mask proposals in the main window: the Proposals dock, the outline over the
editor, Enter / E / Backspace, the cut slider and the bulk accept, checked in the store.

The project: 12 generated long parts (60 x 150 px, not square), labeled from the truth;
run 1 is a real (tiny) ISU-GAN proposer run, run 2 designed proposals written through the
proposals' writer (:mod:`proposal_runs`), so that each test knows where the proposal is.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLineEdit

from core.demo_project import create_demo_project
from core.proposals import load_proposal, load_proposals
from core.proposals.review import bulk_plan, review_queue
from core.store import Project
from labelapp.proposals.overlay import OUTLINE_COLOR
from labelapp.shell.main_window import MainWindow
from labelapp.shortcuts.keymap import REVIEW

sys.path.insert(0, str(Path(__file__).parents[1] / "core"))  # the Qt-free helper lives beside the core tests
from proposal_runs import label_from_truth, run_tiny_proposer, write_designed_run  # noqa: E402

LEFT = Qt.MouseButton.LeftButton
NONE = Qt.KeyboardModifier.NoModifier


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("proposals-template") / "project"
    create_demo_project(root, n_images=12, size=(60, 150), kind="cracks", ok_fraction=0.5, workers=1)
    label_from_truth(root)
    assert run_tiny_proposer(root) == 1
    return root


def designed(tmp_path: Path, template: Path, prepare=None) -> Path:
    """A copy of the template with the designed run 2 (then ``prepare(project)``)."""
    root = tmp_path / "template"
    shutil.copytree(template, root)
    assert write_designed_run(root) == 2
    if prepare is not None:
        with Project.open(root) as project:
            prepare(project)
    return root


@pytest.fixture
def window(open_window, template: Path, tmp_path: Path) -> MainWindow:
    win = open_window(designed(tmp_path, template))
    win.docks.proposals_dock.raise_()
    return win


def store(window: MainWindow) -> Project:
    """A second connection, as another process would see the project."""
    return Project.open(window.project.root)


def open_next(qtbot, window: MainWindow) -> int:
    """Presses R and waits for the proposal on screen; returns its image id."""
    review = window.proposal_review
    before = window.editor.current_image_id()
    QTest.keyClick(window, Qt.Key.Key_R)
    qtbot.waitUntil(lambda: review.is_active() and review.current is not None
                    and window.editor.current_image_id() != before)
    return review.current.image_id


def mask_source(window: MainWindow, image_id: int) -> tuple[str, int] | None:
    window.session.flush_masks()
    with store(window) as project:
        info = project.masks.info(image_id)
    return None if info is None else (info.source, info.pixels)


def test_the_dock_lists_open_proposals_best_first_and_a_real_run_reads(window: MainWindow) -> None:
    review, panel = window.proposal_review, window.docks.proposals
    with store(window) as project:
        real = load_proposals(project, 1)  # the job's own run: its table reads, whatever it proposed
        assert real.method == "isugan" and len(real.table) > 0 and real.meta["repairs"]
        queue = review_queue(project, load_proposals(project))
        defective = {i for i, c in project.labels.class_by_image().items() if project.classes.get(c).kind.value
                     == "defect"}
    assert review.queue.run_id == 2 and {i.image_id for i in queue.items} == defective
    scores = [i.row.score for i in queue.open()]
    assert scores == sorted(scores, reverse=True) and len(scores) == 6
    assert panel.list.listed_ids() == [i.image_id for i in queue.open()]
    assert "<b>6</b> proposed masks to review" in panel.summary.text() and "run #2" in panel.summary.text()
    assert not panel.list.item(0).icon().isNull()  # thumbnails
    assert window.docks.proposals_dock.toggleViewAction().isEnabled()
    window.close_project()
    assert not window.docks.proposals_dock.toggleViewAction().isEnabled() and not panel.isEnabled()


def test_enter_accepts_records_the_run_and_undo_takes_it_back(qtbot, window: MainWindow) -> None:
    review = window.proposal_review
    first = open_next(qtbot, window)
    assert first == review.queue.items[0].image_id  # the best
    with store(window) as project:
        expected = load_proposal(project, review.queue.proposals, first).mask()
        class_id = project.labels.get(first).class_id
    clear = window.window_actions.actions["label.clear"]
    assert [k.toString() for k in clear.shortcuts()] == ["Del"]  # Backspace is the review's now
    QTest.keyClick(window, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.editor.current_image_id() not in (None, first))  # on to the next proposal
    assert window.editor.current_image_id() == review.queue.items[1].image_id
    assert mask_source(window, first) == ("proposal:run-2", int(expected.sum()))
    with store(window) as project:
        assert np.array_equal(project.masks.load(first), np.where(expected, class_id, 0))
        assert project.events.list(image_id=first, kind="mask")[-1].source == "proposal:run-2"
        assert project.labels.get(first).class_id == class_id  # the label stays
    rows = window.docks.proposals.list
    assert rows.listed_ids()[0] == first and rows.item(0).text().startswith("✓ accepted")  # kept, marked
    window.labeling.go_to(first)  # back to it: the origin shows, and Ctrl+Z takes the mask back
    qtbot.waitUntil(lambda: window.editor.current_image_id() == first and "proposed by run #2"
                    in window.image_info.text())
    assert not review.is_active()  # decided: no outline, E is the eraser again
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    window.editor.flush()
    assert mask_source(window, first) is None
    qtbot.waitUntil(review.is_active)  # offered again
    assert review.current.image_id == first and first in window.docks.proposals.list.listed_ids()


def test_e_opens_the_proposal_in_the_brush_and_an_edit_is_recorded(qtbot, window: MainWindow) -> None:
    review, editor = window.proposal_review, window.editor
    image_id = open_next(qtbot, window)
    assert window.window_actions.actions["proposal.edit"].shortcuts() and not window.window_actions.actions[
        "tool.eraser"].shortcuts()
    QTest.keyClick(window, Qt.Key.Key_E)
    assert editor.tool() == "brush" and editor.current_image_id() == image_id  # stays to be painted
    proposed = int(np.count_nonzero(editor.current_mask()))
    assert proposed > 0 and mask_source(window, image_id) in (None, ("proposal:run-2", proposed))  # saves as usual
    assert not review.is_active() and window.window_actions.actions["tool.eraser"].shortcuts()
    canvas = editor.canvas
    point = canvas.view().to_widget(10.5, 40.5).toPoint()  # outside the proposal, left of it
    qtbot.mousePress(canvas, LEFT, NONE, point)
    qtbot.mouseRelease(canvas, LEFT, NONE, point)
    editor.flush()
    source, pixels = mask_source(window, image_id)
    assert source == "proposal:run-2:edited" and pixels > proposed
    QTest.keyClick(window, Qt.Key.Key_E)  # no proposal on screen now: E is the eraser
    assert editor.tool() == "eraser"


def test_backspace_rejects_for_good_and_leaves_the_label(qtbot, window: MainWindow, open_window) -> None:
    image_id = open_next(qtbot, window)
    with store(window) as project:
        label = project.labels.get(image_id).class_id
    QTest.keyClick(window, Qt.Key.Key_Backspace)
    qtbot.waitUntil(lambda: window.editor.current_image_id() != image_id)
    with store(window) as project:
        assert project.labels.get(image_id).class_id == label  # not cleared
        assert project.rejected_proposals.image_ids(2) == {image_id} and project.masks.info(image_id) is None
    root = window.project.root
    window.close_project()
    assert window.open_project(root)  # a fresh read: the rejected proposal is not offered
    review, panel = window.proposal_review, window.docks.proposals
    assert image_id not in panel.list.listed_ids() and not review.queue.is_open(image_id)
    assert review.queue.next_open(None) != image_id and "1 rejected" in panel.summary.text()
    qtbot.mouseClick(panel.restore_button, LEFT)
    assert image_id in panel.list.listed_ids()
    with store(window) as project:
        assert not project.rejected_proposals.image_ids(2)


def outline_box(image) -> tuple[int, int, int, int] | None:
    """(left, top, right, bottom) widget pixels of the outline's colour in a grab."""
    array = image.convertToFormat(image.Format.Format_RGB32)
    width, height = array.width(), array.height()
    pixels = np.frombuffer(array.constBits(), np.uint32, count=width * height).reshape(height, width)
    ys, xs = np.nonzero(pixels == (QColor(OUTLINE_COLOR).rgb() & 0xFFFFFFFF))
    return None if not len(xs) else (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)


def test_the_outline_lines_up_with_a_non_square_image(qtbot, window: MainWindow) -> None:
    review, canvas = window.proposal_review, window.editor.canvas
    open_next(qtbot, window)
    doc = canvas.document()
    mask = review.current.mask()
    assert doc.width != doc.height and mask.shape == (doc.height, doc.width)
    ys, xs = np.nonzero(mask)
    box = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)  # image pixel borders
    lines = np.array([[line.x1(), line.y1(), line.x2(), line.y2()] for line in review.overlay.lines])
    assert (lines[:, [0, 2]].min(), lines[:, [1, 3]].min(), lines[:, [0, 2]].max(), lines[:, [1, 3]].max()) == box
    for zoom in (1.0, 2.0):  # fitted, then zoomed about the centre
        canvas.zoom_by(zoom)
        qtbot.waitUntil(lambda: review.overlay.isVisible())
        view = canvas.view()
        review.overlay.set_legend("")  # its sample line has the outline's colour
        drawn = outline_box(canvas.grab().toImage())
        left, top = view.to_widget(box[0], box[1]).toTuple()
        right, bottom = view.to_widget(box[2], box[3]).toTuple()
        right, bottom = min(right, canvas.width()), min(bottom, canvas.height())  # zoomed: it may leave the view
        assert drawn is not None
        assert all(abs(a - b) <= 2 for a, b in zip(drawn, (left, top, right, bottom), strict=True)), (drawn, view)


def test_the_cut_slider_redraws_the_proposal_and_enter_takes_it(qtbot, window: MainWindow) -> None:
    review, panel = window.proposal_review, window.docks.proposals
    image_id = open_next(qtbot, window)
    doc = window.editor.canvas.document()
    run_lines = len(review.overlay.lines)
    assert run_lines > 0 and panel.cut_slider.value() == round(review.current.cut * 255)
    panel.cut_slider.setValue(250)  # above the peak: nothing proposed
    assert review.overlay.lines == [] and "0.980" in panel.cut_label.text()
    panel.cut_slider.setValue(10)  # below the background (0.05): the whole image
    lines = np.array([[line.x1(), line.y1(), line.x2(), line.y2()] for line in review.overlay.lines])
    assert (lines.min(), lines[:, [0, 2]].max(), lines[:, [1, 3]].max()) == (0, doc.width, doc.height)
    QTest.keyClick(window, Qt.Key.Key_Return)
    assert mask_source(window, image_id) == ("proposal:run-2:edited", doc.width * doc.height)
    qtbot.waitUntil(lambda: review.is_active() and review.current.image_id != image_id)  # the next one, read
    assert panel.cut_slider.value() == round(review.current.cut * 255)  # at its run's cut
    panel.cut_slider.setValue(200)
    qtbot.mouseClick(panel.reset_button, LEFT)
    assert panel.cut_slider.value() == round(review.current.cut * 255) and review.cut is None


def prepare_bulk(project: Project) -> None:
    """One defective image with a mask of its own, one rejected: both skipped by the bulk accept."""
    labels = project.labels.class_by_image()
    defect = sorted(i for i, c in labels.items() if project.classes.get(c).kind.value == "defect")
    image = project.images.get(defect[0])
    mask = np.zeros((image.height, image.width), np.uint8)
    mask[:3, :3] = labels[defect[0]]
    project.masks.save(defect[0], mask, actor="t", source="test")
    project.rejected_proposals.reject(2, [defect[1]], actor="t", source="test")


def test_bulk_accept_counts_first_and_is_undone_in_one_step(qtbot, open_window, template: Path,
                                                            tmp_path: Path) -> None:
    window = open_window(designed(tmp_path, template, prepare_bulk))
    review, panel = window.proposal_review, window.docks.proposals
    queue = review.queue
    assert len(queue.open()) == 4 and len(queue.masked()) == 1 and len(queue.rejected()) == 1
    panel.bulk_button.click()
    dialog = review.bulk.dialog
    qtbot.waitUntil(dialog.isVisible)
    threshold = sorted(i.row.score for i in queue.open())[1]  # three of the four open ones
    dialog.set_min_score(threshold - 1e-4)
    plan = bulk_plan(queue, threshold - 1e-4)
    assert len(plan.accept) == 3 and plan.masked == 1 and plan.rejected == 1
    assert dialog.count_label.text() == "3 images will get a mask; 1 already has one and 1 you rejected are skipped."
    assert dialog.ok_button.text() == "Accept 3"
    dialog.set_min_score(1.0)
    assert "0 images will get a mask" in dialog.count_label.text() and not dialog.ok_button.isEnabled()
    dialog.set_min_score(threshold - 1e-4)
    with qtbot.waitSignal(review.bulk.finished, timeout=10_000) as done:
        dialog.ok_button.click()
    accepted = sorted(done.args[0])
    assert accepted == sorted(i.image_id for i in plan.accept)
    with store(window) as project:
        sources = {i: project.masks.info(i).source for i in accepted}
        kept = project.masks.info(queue.masked()[0].image_id)
    assert set(sources.values()) == {"proposal:run-2"} and kept.source == "test"
    assert len(review.queue.open()) == 1 and panel.bulk_undo_button.isVisible()
    panel.bulk_undo_button.click()
    with store(window) as project:
        assert all(project.masks.info(i) is None for i in accepted)
        assert project.masks.info(kept.image_id).source == "test"  # not the bulk's: kept
    assert len(review.queue.open()) == 4 and not panel.bulk_undo_button.isVisible()


def test_review_keys_hold_their_keys_only_while_a_proposal_is_shown(qtbot, window: MainWindow) -> None:
    actions = window.window_actions.actions
    review = window.proposal_review
    if review.is_active():  # the first image may be a defective one with a proposal
        window.docks.proposals_dock.close()
        qtbot.waitUntil(lambda: not review.is_active())
        window.docks.proposals_dock.show()
    image_id = open_next(qtbot, window)
    assert [k.toString() for k in actions["proposal.accept"].shortcuts()] == ["Return", "Enter"]
    window.grid.focus_search()  # Enter in a text field is no decision
    assert isinstance(QApplication.focusWidget(), QLineEdit)
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)
    assert review.is_active() and mask_source(window, image_id) is None
    assert not actions["tool.eraser"].shortcuts() and REVIEW
    assert [k.toString() for k in actions["label.clear"].shortcuts()] == ["Del"]
    window.docks.proposals_dock.close()  # closed dock: no review, the window's keys come back
    qtbot.waitUntil(lambda: not review.is_active())
    assert not review.overlay.isVisible() and not actions["proposal.accept"].shortcuts()
    assert [k.toString() for k in actions["tool.eraser"].shortcuts()] == ["E"]
    assert [k.toString() for k in actions["label.clear"].shortcuts()] == ["Del", "Backspace"]


def test_a_defective_image_without_a_proposal_is_counted(qtbot, open_window, template: Path,
                                                              tmp_path: Path) -> None:
    with Project.open(template) as project:
        defect = {c.id for c in project.classes.list() if c.kind.value == "defect"}
        defective = sorted(i for i, c in project.labels.class_by_image().items() if c in defect)
        masked = set(project.masks.files())
    unmasked = [i for i in defective if i not in masked]  # an image with a mask already is not offered
    low = unmasked[0]  # its strongest region stays under the run's floor: scored, but no proposal
    peaks = {i: (0.1 if i == low else 0.9) for i in defective}
    root = tmp_path / "template"
    shutil.copytree(template, root)
    assert write_designed_run(root, peaks) == 2
    window = open_window(root)
    window.docks.proposals_dock.raise_()
    panel = window.docks.proposals
    qtbot.waitUntil(lambda: sorted(panel.list.listed_ids()) == unmasked[1:])  # nothing to review for it
    assert "1 labeled defective image gets no proposal" in panel.summary.text()
    assert "paint its mask with the brush" in panel.summary.text()
