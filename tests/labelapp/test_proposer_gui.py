"""Training a mask proposer from the window: the Propose masks dialog (label counts and
what to label), a real proposer run in the training process (progress, curves and the
preview strip in the panel, the run in the history), resume after a cancel, and the
Proposals dock filled when the run ends.

The project: 12 generated long parts (60 x 150 px), labeled from the truth (6 OK, 6
defective); the GAN runs are tiny (4-wide networks, 32 px crops) so that each test takes
seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from core.demo_project import create_demo_project
from core.jobs.base import Preview, Progress
from core.proposals.request import ENOUGH_DEFECTIVE, ENOUGH_OK, HOLD_OUT_FROM
from core.store import Project, RunKind
from labelapp.training.preview_strip import PreviewStrip
from labelapp.training.proposer_dialog import ProposerDialog
from labelapp.training.proposer_start import OVERRIDES_KEY, label_counts

sys.path.insert(0, str(Path(__file__).parents[1] / "core"))  # the Qt-free helper lives beside the core tests
from proposal_runs import label_from_truth  # noqa: E402

TINY = {"net": {"ngf": 4, "ndf": 4, "residual_blocks": 1}, "train": {"batch_size": 2, "crop": 32},
        "workers": 1, "threads": 1, "device": "cpu", "preview_every_s": 0}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("proposer-gui") / "project"
    create_demo_project(root, n_images=12, size=(60, 150), kind="cracks", ok_fraction=0.5, workers=1)
    label_from_truth(root)
    return root


def choose(dialog: ProposerDialog, method: str, preset: str = "quick") -> None:
    dialog.method_box.setCurrentIndex(dialog.method_box.findData(method))
    dialog.preset_box.setCurrentIndex(dialog.preset_box.findData(preset))


def open_dialog(qtbot, window, **overrides) -> ProposerDialog:
    window._settings.setValue(OVERRIDES_KEY, json.dumps({**TINY, **overrides}))
    window.window_actions.actions["train.propose_masks"].trigger()
    dialog = window.training.proposer_dialog
    qtbot.waitUntil(lambda: dialog is not None and dialog.isVisible())
    return dialog


def run_from_dialog(qtbot, window, dialog: ProposerDialog, timeout: int = 60_000):
    with qtbot.waitSignal(window.training.run_finished, timeout=timeout) as finished:
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    return finished.args[0]


def test_the_dialog_says_how_many_more_labels_and_blocks_start_below_the_minimum(qtbot) -> None:
    few = ProposerDialog(3, 1)
    qtbot.addWidget(few)
    assert few.counts_label.text() == "Labeled: 3 OK and 1 defective image."
    assert f"{ENOUGH_DEFECTIVE - 1} more defective and {ENOUGH_OK - 3} more OK" in few.warning()
    assert few.start_button.isEnabled()
    choose(few, "patchcore")  # learns from OK images: the defective ones only set its threshold
    assert f"{HOLD_OUT_FROM - 1} more defective and {ENOUGH_OK - 3} more OK" in few.warning()
    assert not few.preset_box.isEnabled() and "No network to train" in few.preset_label.text()

    none = ProposerDialog(1, 0)
    qtbot.addWidget(none)
    assert not none.start_button.isEnabled()
    assert "label at least 1 more OK and 1 more defective" in none.warning()
    with qtbot.assertNotEmitted(none.start_requested):
        none.buttons.accepted.emit()

    enough = ProposerDialog(ENOUGH_OK, ENOUGH_DEFECTIVE, resumable={"cyclegan": "stopped today 10:00"})
    qtbot.addWidget(enough)
    assert enough.warning() == "" and enough.start_button.isEnabled()
    assert enough.resume_box.isHidden()  # only CycleGAN has an interrupted training
    choose(enough, "cyclegan", "standard")
    assert not enough.resume_box.isHidden() and "stopped today 10:00" in enough.resume_box.text()
    assert "6,000 steps" in enough.preset_label.text() and "on a CPU" in enough.preset_label.text()
    enough.resume_box.setChecked(False)
    with qtbot.waitSignal(enough.start_requested) as started:
        enough.buttons.accepted.emit()
    assert started.args[0].method == "cyclegan" and started.args[0].preset == "standard"
    assert started.args[0].resume is False and started.args[0].scope == "defective"


def test_the_preview_strip_shows_image_repair_difference_and_mask(qtbot) -> None:
    strip = PreviewStrip()
    qtbot.addWidget(strip)
    strip.show_record(Progress(phase="training ISU-GAN", step=1, total=2))
    assert strip.isHidden() and strip.tile_count() == 0
    ramp = np.tile(np.arange(40, dtype=np.uint8) * 6, (16, 1))
    preview = Preview(step=7, columns=("image", "repair", "difference", "mask"), image_ids=(3, 5),
                      tiles=((ramp, ramp, ramp, ramp), (ramp, ramp, ramp, ramp)), note="mask: Otsu's cut")
    strip.show_record(Progress(phase="training ISU-GAN", step=7, total=9, preview=preview))
    assert not strip.isHidden() and strip.tile_count() == 8 and "step 7" in strip.title.text()
    pixmaps = strip.row_pixmaps(1)
    assert len(pixmaps) == 4 and all(p.width() > p.height() > 0 for p in pixmaps)  # the tile's shape kept
    image = pixmaps[0].toImage()
    assert image.pixelColor(1, 8).value() < image.pixelColor(image.width() - 2, 8).value()  # dark to bright
    strip.clear()
    assert strip.isHidden() and strip.tile_count() == 0


def test_an_isugan_run_from_the_menu_trains_in_the_worker_with_previews(qtbot, open_window, template: Path) -> None:
    window = open_window(template)
    with Project.open(template) as project:
        ok, defective = label_counts(project)
    assert (ok, defective) == (6, 6)
    dialog = open_dialog(qtbot, window, steps=4)
    assert dialog.counts_label.text() == "Labeled: 6 OK and 6 defective images."
    assert f"label {ENOUGH_DEFECTIVE - 6} more defective and {ENOUGH_OK - 6} more OK images" in dialog.warning()
    choose(dialog, "isugan")
    panel = window.training_panel
    records: list[Progress] = []
    previews: list[int] = []  # tiles on screen whenever the panel showed a record with pictures
    panel.progress_shown.connect(records.append)
    panel.progress_shown.connect(lambda r: previews.append(panel.preview_strip.tile_count()) if r.preview else None)
    result = run_from_dialog(qtbot, window, dialog)

    assert result.run is not None and result.run.kind is RunKind.PROPOSER and result.run.method == "proposer-isugan"
    assert window.training.worker_pid() is not None  # it ran in the training process
    steps = [r.step for r in records if r.phase == "training ISU-GAN"]
    assert steps and steps[-1] == 4 and any(r.eta_s is not None for r in records)
    assert previews and all(count >= 4 and count % 4 == 0 for count in previews)
    strip = panel.preview_strip
    assert not strip.isHidden() and strip.preview.step == 4 and len(strip.row_pixmaps(0)) == 4
    assert any(name.startswith("training ISU-GAN: cycle") for name in panel.curve_names())
    assert "Mask proposer" in panel.detail_label.text()
    qtbot.waitUntil(lambda: any(r.kind is RunKind.PROPOSER for r in panel.runs()))
    assert "mask proposer (ISU-GAN)" in panel.history.item(0).text()
    qtbot.waitUntil(lambda: f"run #{result.run.id}" in window.docks.proposals.summary.text())


def test_a_cancelled_training_is_offered_for_resume_and_continues(qtbot, open_window, template: Path) -> None:
    window = open_window(template)
    panel = window.training_panel
    dialog = open_dialog(qtbot, window, steps=10_000, preview_every_s=3600)
    assert dialog.resume_box.isHidden()
    choose(dialog, "cyclegan")
    steps: list[int] = []
    panel.progress_shown.connect(lambda r: steps.append(r.step) if r.phase == "training CycleGAN" else None)
    with qtbot.waitSignal(window.training.run_finished, timeout=60_000) as finished:
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: len(steps) >= 2, timeout=60_000)
        window.training.cancel()
    assert finished.args[0].cancelled and finished.args[0].run is None

    stopped = max(steps)

    dialog = open_dialog(qtbot, window, steps=10_000, preview_every_s=3600)  # the same settings
    choose(dialog, "cyclegan")
    assert not dialog.resume_box.isHidden() and dialog.resume_box.isChecked()
    messages: list[str] = []
    panel.progress_shown.connect(lambda r: messages.append(r.message))
    with qtbot.waitSignal(window.training.run_finished, timeout=60_000):
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: any("continued from step" in m for m in messages), timeout=60_000)
        window.training.cancel()
    resumed = next(m for m in messages if "continued from step" in m)
    assert int(resumed.split("continued from step ")[1].split(")")[0]) >= stopped


def test_a_nearest_neighbour_run_fills_the_proposals_dock(qtbot, open_window, template: Path) -> None:
    window = open_window(template)
    window.docks.proposals_dock.show()
    assert window.docks.proposals.list.count() == 0
    dialog = open_dialog(qtbot, window)
    choose(dialog, "patchcore")
    result = run_from_dialog(qtbot, window, dialog)
    assert result.run is not None and result.run.method == "proposer-patchcore"
    assert window.training_panel.preview_strip.isHidden()  # no pictures from this proposer
    with_mask = result.run.metrics["with_mask"]
    assert with_mask > 0
    qtbot.waitUntil(lambda: window.docks.proposals.list.count() > 0)
    assert f"run #{result.run.id}" in window.docks.proposals.summary.text()


def test_the_dialog_and_its_job_are_built_without_torch(template: Path, tmp_path: Path) -> None:
    """The window builds the proposer's job without importing torch (the worker imports it)."""
    code = (
        "import sys\n"
        "from PySide6.QtCore import QSettings\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from core.store import Project\n"
        "from labelapp.training.proposer_dialog import ProposerChoice\n"
        "from labelapp.training.proposer_start import proposer_call, proposer_dialog\n"
        f"settings = QSettings({str(tmp_path / 's.ini')!r}, QSettings.Format.IniFormat)\n"
        f"with Project.open({str(template)!r}) as project:\n"
        "    dialog = proposer_dialog(project, settings)\n"
        "    call = proposer_call(settings, project, ProposerChoice('isugan', 'quick', 'all', True))\n"
        "print('TORCH', 'torch' in sys.modules, call.args[0].scope)\n")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(Path(__file__).parents[2])}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert "TORCH False all" in done.stdout, done.stderr
