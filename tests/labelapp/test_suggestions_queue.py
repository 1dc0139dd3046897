"""The suggestions queue in the main window: the list and its header, labels dropping
images out of it, N and the route labeling follows, the line under the editor, the
grid's suggestion filter and sort, Refresh in the background and the refresh after a
retrain."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from core.demo_project import create_demo_project
from core.store import Project
from core.store.suggestions import Suggestion
from labelapp.shell.main_window import MainWindow
from labelapp.suggestions.panel import ALL_LABELED, NOT_YET, STRATEGY_KEY

LEFT = Qt.MouseButton.LeftButton
REASONS = ("typical of an unlabeled cluster of 230 images", "undecided between scratches and inclusion: 0.41 / 0.38",
           "typical of an unlabeled cluster of 57 images", "far from every labeled image",
           "undecided between crazing and patches: 0.35 / 0.33")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 demo images, the first 4 labeled; suggestions #1..#5 on unlabeled images (ids
    picked out of import order) and #6 on a labeled one (never open)."""
    root = tmp_path_factory.mktemp("suggestions") / "project"
    create_demo_project(root, n_images=16, size=64, workers=1)
    with Project.open(root) as project:
        ids = [im.id for im in project.images.list()]
        project.labels.apply([(i, "crazing") for i in ids[:4]], actor="t", source="test")
        picked = [ids[12], ids[7], ids[14], ids[5], ids[9], ids[1]]
        project.suggestions.replace(
            Suggestion(image_id=i, rank=k, score=1.0 / k, strategy="typicality" if k % 2 else "margin",
                       reason=REASONS[k - 1] if k <= len(REASONS) else "labeled since")
            for k, i in enumerate(picked, start=1))
    return root


def opened(qtbot, open_window, root: Path) -> MainWindow:
    """The window on a copy of ``root``, active (its keys work)."""
    window = open_window(root)
    qtbot.waitUntil(window.isActiveWindow)
    return window


@pytest.fixture
def window(qtbot, open_window, template: Path) -> MainWindow:
    return opened(qtbot, open_window, template)


def suggested(window: MainWindow) -> list[int]:
    """The open suggestions as the store has them, best first."""
    with Project.open(window.project.root) as project:
        return [s.image_id for s in project.suggestions.list()]


def plain(text: str) -> str:
    """Rich text as the user reads it."""
    return re.sub(r"\s+", " ", html.unescape(re.sub("<[^>]+>", "", text))).strip()


def shown(qtbot, window: MainWindow, image_id: int) -> None:
    qtbot.waitUntil(lambda: window.editor.current_image_id() == image_id)


def test_the_queue_lists_the_open_suggestions_best_first_with_their_reasons(qtbot, window: MainWindow) -> None:
    panel, open_ids = window.suggestions, suggested(window)
    assert len(open_ids) == 5  # #6 was labeled before: not listed
    assert panel.listed_ids() == open_ids
    rows = [panel.list.item(r).text() for r in range(panel.list.count())]
    assert rows[0].startswith("#1 · ") and rows[0].endswith(f"\n{REASONS[0][0].upper()}{REASONS[0][1:]}")
    assert rows[1].startswith("#2 · ") and rows[1].endswith(f"\n{REASONS[1][0].upper()}{REASONS[1][1:]}")
    assert "by margin" in panel.list.item(1).toolTip()  # the strategy's name: in the tooltip
    # thumbnails come from the list's loader thread: a gray square first, the image once it arrives
    qtbot.waitUntil(lambda: panel.list.loading_count() == 0)
    for row in range(panel.list.count()):
        image = panel.list.item(row).icon().pixmap(48, 48).toImage()
        colours = {image.pixel(x, y) for x in range(0, image.width(), 4) for y in range(0, image.height(), 4)}
        assert len(colours) > 4, f"row {row} still shows the placeholder"
    summary = plain(panel.summary.text())
    assert summary.startswith("5 images to label next, best first · picked by typicality + margin · computed ")
    assert "or N opens the next" in summary
    assert window.suggestions_dock.isVisible() and not window.suggestions_dock.visibleRegion().isEmpty()
    assert window.suggestions_dock.toggleViewAction() in window.window_actions.menus["&View"].actions()
    assert [k.toString() for k in window.window_actions.actions["image.next_suggested"].shortcuts()] == ["N"]
    item = panel.list.item(2)
    rect = panel.list.visualItemRect(item)
    qtbot.mouseClick(panel.list.viewport(), LEFT, pos=rect.center())
    qtbot.mouseDClick(panel.list.viewport(), LEFT, pos=rect.center())
    shown(qtbot, window, open_ids[2])
    assert plain(window.editor.suggestion_info.text()) == f"★ Suggested #3 · {REASONS[2][0].upper()}{REASONS[2][1:]}"
    assert window.editor.suggestion_info.isVisibleTo(window)
    other = next(int(i) for i in window.grid.ordered_ids() if i not in open_ids)
    window.labeling.go_to(other)
    shown(qtbot, window, other)
    assert not window.editor.suggestion_info.isVisibleTo(window)  # not a suggestion
    qtbot.waitUntil(lambda: panel.current_image_id() is None)  # the queue follows the editor


def test_n_walks_the_queue_and_labeling_goes_on_along_it(qtbot, window: MainWindow) -> None:
    panel, open_ids = window.suggestions, suggested(window)
    assert window.labeling.auto_advance
    assert window.editor.current_image_id() not in open_ids
    QTest.keyClick(window, Qt.Key.Key_N)  # from an image not in the queue: the best
    shown(qtbot, window, open_ids[0])
    assert panel.current_image_id() == open_ids[0]
    assert plain(window.editor.suggestion_info.text()) == f"★ Suggested #1 · {REASONS[0][0].upper()}{REASONS[0][1:]}"
    QTest.keyClick(window, Qt.Key.Key_N)  # skip #1
    shown(qtbot, window, open_ids[1])
    QTest.keyClick(window, Qt.Key.Key_2)  # label #2: it drops out, the editor goes on to #3, not the grid's next
    shown(qtbot, window, open_ids[2])
    assert panel.listed_ids() == [open_ids[0], *open_ids[2:]]
    assert plain(window.editor.suggestion_info.text()).startswith("★ Suggested #3 · ")
    with Project.open(window.project.root) as project:
        assert project.labels.get(open_ids[1]).class_name == "inclusion"
    QTest.keyClick(window, Qt.Key.Key_2)
    shown(qtbot, window, open_ids[3])
    QTest.keyClick(window, Qt.Key.Key_N)  # skip #4
    shown(qtbot, window, open_ids[4])
    QTest.keyClick(window, Qt.Key.Key_2)  # the last rank: wraps round to the skipped #1
    shown(qtbot, window, open_ids[0])
    assert plain(panel.summary.text()).startswith("2 images to label next")
    QTest.keyClick(window, Qt.Key.Key_D)  # the grid's next image: labeling follows the grid again
    qtbot.waitUntil(lambda: window.editor.current_image_id() != open_ids[0])
    here = window.editor.current_image_id()
    grid_next = window.grid.neighbour(here, +1)
    QTest.keyClick(window, Qt.Key.Key_0)
    shown(qtbot, window, grid_next)
    window.labeling.auto_advance = False
    window.labeling.go_to(open_ids[2])  # #3, labeled since: N goes on from its rank
    shown(qtbot, window, open_ids[2])
    QTest.keyClick(window, Qt.Key.Key_N)
    shown(qtbot, window, open_ids[3])
    QTest.keyClick(window, Qt.Key.Key_2)
    assert window.editor.current_image_id() == open_ids[3]  # advance is off
    QTest.keyClick(window, Qt.Key.Key_N)
    shown(qtbot, window, open_ids[0])
    QTest.keyClick(window, Qt.Key.Key_N)  # the only open one is shown: N stays and says so
    assert window.editor.current_image_id() == open_ids[0]
    assert "last open suggestion" in window.status.message_text()
    QTest.keyClick(window, Qt.Key.Key_2)
    assert panel.listed_ids() == [] and plain(panel.summary.text()) == ALL_LABELED
    assert not window.editor.suggestion_info.isVisibleTo(window)
    QTest.keyClick(window, Qt.Key.Key_N)
    assert window.status.message_text() == ALL_LABELED


def test_a_labeled_suggestion_leaves_the_queue_and_comes_back_on_undo(qtbot, window: MainWindow) -> None:
    panel, open_ids = window.suggestions, suggested(window)
    window.labeling.auto_advance = False
    window.labeling.go_to(open_ids[1])
    shown(qtbot, window, open_ids[1])
    assert window.editor.suggestion_info.isVisibleTo(window)
    QTest.keyClick(window, Qt.Key.Key_0)
    assert open_ids[1] not in panel.listed_ids()
    assert not window.editor.suggestion_info.isVisibleTo(window)
    assert plain(panel.summary.text()).startswith("4 images to label next")
    QTest.keySequence(window, "Ctrl+Z")
    qtbot.waitUntil(lambda: panel.listed_ids() == open_ids)
    assert plain(window.editor.suggestion_info.text()).startswith("★ Suggested #2 · " + REASONS[1][0].upper())


def test_the_grid_filters_and_sorts_by_suggestion(qtbot, window: MainWindow) -> None:
    grid, open_ids = window.grid, suggested(window)
    bar = grid.filter_bar
    assert bar.filter_combo.findData("suggested") >= 0 and bar.sort_combo.findData("suggested") >= 0
    bar.filter_combo.setCurrentIndex(bar.filter_combo.findData("suggested"))
    bar.filter_combo.activated.emit(bar.filter_combo.currentIndex())
    bar.sort_combo.setCurrentIndex(bar.sort_combo.findData("suggested"))
    bar.sort_combo.activated.emit(bar.sort_combo.currentIndex())
    assert grid.ordered_ids().tolist() == open_ids
    model = grid.model
    assert model.tile(0).suggestion == 1 and "suggested #1 to label next" in model.data(
        model.index(0), Qt.ItemDataRole.ToolTipRole)
    grid.set_filter("all")
    ordered = grid.ordered_ids().tolist()
    assert ordered[:5] == open_ids and len(ordered) == 16
    assert model.tile(6).suggestion == 0  # neither suggested nor open
    window.labeling.auto_advance = False
    window.labeling.go_to(open_ids[0])
    shown(qtbot, window, open_ids[0])
    QTest.keyClick(window, Qt.Key.Key_0)
    assert grid.ordered_ids().tolist()[:4] == open_ids[1:]
    grid.set_filter("suggested")
    assert grid.ordered_ids().tolist() == open_ids[1:]


def test_only_the_next_few_suggestions_wear_a_star(qtbot, window: MainWindow, monkeypatch) -> None:
    import labelapp.grid.model as grid_model

    grid, open_ids = window.grid, suggested(window)
    grid.set_filter("suggested")
    grid.set_sort("suggested")
    monkeypatch.setattr(grid_model, "STARRED", 2)  # a queue longer than the stars
    ranks = {grid.model.tile(r).image_id: grid.model.tile(r).suggestion for r in range(grid.model.rowCount())}
    assert ranks[open_ids[0]] == 1 and ranks[open_ids[1]] == 2
    assert all(ranks[i] == 0 for i in open_ids[2:])  # still listed by the filter, without a star


def test_an_empty_project_says_how_to_get_suggestions(qtbot, open_window, tmp_path_factory) -> None:
    root = tmp_path_factory.mktemp("no-suggestions") / "project"
    create_demo_project(root, n_images=6, size=48, workers=1)
    window = opened(qtbot, open_window, root)
    panel = window.suggestions
    assert panel.listed_ids() == [] and plain(panel.summary.text()).startswith(NOT_YET)
    assert window.grid.filter_bar.filter_combo.findData("suggested") < 0  # listed once suggestions exist
    QTest.keyClick(window, Qt.Key.Key_N)
    assert window.status.message_text() == NOT_YET
    with qtbot.waitSignal(panel.message, timeout=60000):
        qtbot.mouseClick(panel.refresh_button, LEFT)  # no encoder yet: the reason, in the panel and the status
    shown = plain(panel.summary.text())  # core's reason, then the window's own action, not the command line's
    assert "Cannot compute suggestions: no pretrained encoder covers the images yet; press Retrain (Ctrl+R) first" \
        in shown and "labelapp train" not in shown
    assert panel.refresh_button.isEnabled()


def test_refresh_computes_in_the_background_with_the_chosen_strategy(
        qtbot, open_window, small_classifier_project: Path) -> None:
    window = opened(qtbot, open_window, small_classifier_project)  # a copy: the template stays as it is
    panel = window.suggestions
    combo = panel.strategy_combo
    assert combo.itemText(0) == "Default schedule" and combo.findData("mask") < 0
    assert combo.itemData(combo.findData("margin"), Qt.ItemDataRole.ToolTipRole).startswith("Images the classifier")
    combo.setCurrentIndex(combo.findData("kcenter"))
    combo.activated.emit(combo.currentIndex())
    assert window._settings.value(STRATEGY_KEY) == "kcenter"
    with qtbot.waitSignal(panel.refreshed, timeout=120000) as refreshed:
        qtbot.mouseClick(panel.refresh_button, LEFT)
        assert panel.is_busy() and not panel.refresh_button.isEnabled()
        assert "Computing suggestions (K-center (coverage))" in plain(panel.summary.text())
    assert refreshed.args == [14] and not panel.is_busy()  # 42 images, 28 labeled
    open_ids = suggested(window)
    assert panel.listed_ids() == open_ids and len(open_ids) == 14
    assert "picked by kcenter" in plain(panel.summary.text())
    assert window.grid.model.catalog.suggestion_rank.max() == 14  # the grid read the new ranks
    assert window.grid.filter_bar.filter_combo.findData("suggested") >= 0
    assert "14 suggestions computed" in window.status.message_text()
    window.training_panel.segdec_box.setChecked(False)  # the classifier only: fast
    combo.setCurrentIndex(combo.findData("random"))
    ended: list[object] = []
    window.training.run_finished.connect(ended.append)
    window.training.run_failed.connect(ended.append)
    QTest.keySequence(window, "Ctrl+R")  # a retrain ends with fresh suggestions by the chosen strategy
    qtbot.waitUntil(lambda: bool(ended), timeout=180000)
    assert getattr(ended[0], "suggestions", None) == 14, ended[0]
    assert "14 suggested to label next" in window.status.message_text()
    with Project.open(window.project.root) as project:
        assert {s.strategy for s in project.suggestions.list()} == {"random"}
    qtbot.waitUntil(lambda: panel.listed_ids() == suggested(window))  # the dock reloads a turn later
    assert "picked by random" in plain(panel.summary.text())
