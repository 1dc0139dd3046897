"""Qt tests run without a display: choose the offscreen platform before any QApplication.

Also the windows several test modules open: the main window on a copy of a template
project, and the thumbnail grid on a project.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import shutil  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture
def open_window(qtbot, tmp_path: Path) -> Iterator[Callable]:
    """``open_window(template, height=800)``: the main window on a copy of ``template``
    (own settings file), shown, with its first image in the editor and its run history;
    closed afterwards."""
    from PySide6.QtCore import QSettings

    from labelapp.shell.app import create_main_window

    opened = []

    def open_(template: Path, height: int = 800):
        root = tmp_path / "project"
        shutil.copytree(template, root)
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        win = create_main_window(root, settings=settings)
        qtbot.addWidget(win)
        win.resize(1300, height)
        win.show()
        qtbot.waitExposed(win)
        win.activateWindow()
        qtbot.waitUntil(lambda: win.editor.current_image_id() is not None)
        qtbot.waitUntil(lambda: not win.training.history_pending())  # the run history, read off the GUI thread
        opened.append(win)
        return win

    yield open_
    for win in opened:
        win.close()


@pytest.fixture
def open_grid(qtbot) -> Iterator[Callable]:
    """``open_grid(project)``: the thumbnail grid, shown, on ``project``; shut down afterwards."""
    from labelapp.grid import ImageGrid

    opened = []

    def open_(project):
        widget = ImageGrid()
        qtbot.addWidget(widget)
        widget.resize(900, 640)
        with qtbot.waitExposed(widget):
            widget.show()
        widget.set_project(project)
        opened.append(widget)
        return widget

    yield open_
    for widget in opened:
        widget.shutdown()


# -- a defect detector that learned, or one that is not validated -----------------------------


def _validate_detector(project, noise: float = 0.12, held_out: int = 8) -> float:
    """Rewrites the latest seg-dec run of ``project`` (every image labeled) as a detector
    that learned: defect probabilities of the labeled images near 0.25 (OK) and 0.7
    (defective) with some noise, and validation figures on ``held_out`` OK and as many
    defective images, as the run would store them. Returns the run's threshold. (The
    1-epoch runs the tests can afford rank at chance, which the trust rule rejects.)"""
    import numpy as np

    from core.store import RunKind
    from core.training.detection import choose_threshold, detection_metrics

    run = project.runs.latest(RunKind.SEGDEC)
    ok = {c.id for c in project.classes.list() if c.is_ok}
    labels = project.labels.class_by_image()
    rng = np.random.default_rng(0)
    probability = {i: float(np.clip((0.25 if c in ok else 0.7) + rng.normal(0.0, noise), 0.01, 0.99))
                   for i, c in labels.items()}
    p = np.array(list(probability.values()))
    project.predictions.add(run.id, list(probability), None, np.maximum(p, 1.0 - p), 1.0 - np.abs(2 * p - 1),
                            defect_probability=p)
    held = ([i for i, c in labels.items() if c in ok][:held_out]
            + [i for i, c in labels.items() if c not in ok][:held_out])
    truth = np.array([int(labels[i] not in ok) for i in held])
    scores = np.array([probability[i] for i in held])
    threshold = choose_threshold(truth, scores)
    figures = {**detection_metrics(truth, scores, np.array(held), threshold), "target_recall": None}
    project.runs.update_metrics(run.id, {**run.metrics, "threshold": threshold, "validation": figures})
    return threshold


def _unvalidate_detector(project, threshold: float = 0.5) -> None:
    """Makes the latest seg-dec run one that held nothing out (its threshold the default
    0.5), as a run on a few labels is."""
    from core.store import RunKind

    run = project.runs.latest(RunKind.SEGDEC)
    metrics = {k: v for k, v in run.metrics.items() if k != "validation"}
    project.runs.update_metrics(run.id, {**metrics, "threshold": threshold})


@pytest.fixture(scope="session")
def validate_detector() -> Callable:
    """``validate_detector(project, noise=0.12, held_out=8) -> threshold``: see :func:`_validate_detector`."""
    return _validate_detector


@pytest.fixture(scope="session")
def unvalidate_detector() -> Callable:
    """``unvalidate_detector(project, threshold=0.5)``: the latest seg-dec run without validation."""
    return _unvalidate_detector
