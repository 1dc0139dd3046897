"""Screenshots of the window as a new user meets it, before and after one Retrain on the demo.

One run: the window with no project, then a demo project (generated once under --cache,
copied fresh each run) whose first images carry their true labels and a few true masks;
the grid, the editor with a mask, the class settings and the shortcuts; a short real
Retrain (Train ▸ Retrain) with the Training panel grabbed from its progress signal while
it runs; then the panel after it, the run details, the grid's marks, the editor with the
defect heat map, the suggestions, the map and the Export Model dialog. PNGs are numbered
in that order under --out, and a table of what each shows is printed at the end:

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/screenshots.py --out /tmp/shots

Without a display it also runs with QT_QPA_PLATFORM=offscreen (fonts may differ). The
retrain is kept short (--epochs pretraining epochs, --detector-epochs for the defect
detector): about two minutes on two busy cores, the whole run under five.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from shots_common import (  # noqa: E402
    ShotLog,
    demo_template,
    fresh_copy,
    label_from_truth,
    settle,
    wait_for,
    wait_for_refined,
    watch_retrain,
)

from core.store import RunKind  # noqa: E402
from labelapp.shell.app import create_application, create_main_window  # noqa: E402

DURING_AT = 0.5  # the share of the retrain at which the panel is grabbed while it runs


def before_retrain(window, shots: ShotLog, project_root: Path) -> None:
    """The empty window, then the project as labeled so far."""
    window.training_dock.raise_()  # its Retrain, disabled, in sight
    shots.save(window, "empty", "no project open: Open / New / Create the Demo Project; docks, Retrain and "
               "Refresh disabled")
    window.open_project(project_root)
    settle()
    shots.save(window, "grid", "the demo project opened: grid of thumbnails with label chips and mask badges, "
               "before any retrain")
    masked = sorted(window.project.masks.all())
    window.labeling.go_to(masked[min(3, len(masked) - 1)])
    settle()
    shots.save(window, "editor-mask", "an image with its mask in the editor, the line under it naming file, "
               "label, size and mask")
    from labelapp.project.class_settings import ClassSettingsDialog

    dialog = ClassSettingsDialog(window.project, window)
    dialog.show()
    settle()
    shots.save(dialog, "classes", "Edit ▸ Classes…: names, colours, kinds and keys of the classes")
    dialog.close()
    window.window_actions.actions["help.shortcuts"].trigger()
    settle()
    shots.save(window, "help", "F1: every shortcut, with the project's class keys")
    window.window_actions.actions["help.shortcuts"].trigger()


def retrain(window, shots: ShotLog) -> None:
    """Train ▸ Retrain; the Training dock is grabbed once the retrain is DURING_AT done
    (from the panel's progress signal, texts already updated), then after it ends."""
    dock, panel = window.training_dock, window.training_panel
    taken: list[str] = []

    def on_progress(record) -> None:
        if not taken and record.overall is not None and record.overall >= DURING_AT and record.eta_s:
            taken.append(record.stage)
            shots.save(dock, "training-during", f"the Training panel during the retrain ({record.overall:.0%}, "
                       f"{record.stage}): one bar for the whole retrain, the part running, the time left, curves")

    action = window.window_actions.actions["train.retrain"]
    watch = watch_retrain(action.trigger, window.training, panel, on_progress)
    if watch.error is not None:
        raise RuntimeError(f"the retrain failed: {watch.error}")
    if not taken:
        print(f"warning: no progress record reached {DURING_AT:.0%} with a time left; no shot during the retrain")
    print(f"retrain: {watch.seconds:.0f} s, {len(watch.records)} progress records", flush=True)
    wait_for(window.training.history_shown, done=lambda: not window.training.history_pending(), timeout_ms=30_000)
    settle()
    shots.save(dock, "training-after", "the Training panel after the retrain: what it brought, the detector's "
               "curves, the runs")
    runs = panel.runs()
    for kind, slug, what in ((RunKind.CLASSIFIER, "run-details-classifier",
                              "Details… of the classifier run: metrics and the validation's confusion matrix"),
                             (RunKind.SEGDEC, "run-details-detector",
                              "Details… of the defect detector run: validation, threshold, held-out images")):
        run = next((r for r in reversed(runs) if r.kind is kind), None)
        if run is None:
            print(f"warning: no {kind.value} run in the history")
            continue
        dialog = panel.show_run_details(run.id)
        settle()
        shots.save(dialog, slug, what)
        dialog.close()


def hottest_unlabeled(project) -> int | None:
    """The unlabeled image the latest defect detector finds most likely defective."""
    run_id = project.predictions.latest_run(RunKind.SEGDEC)
    if run_id is None:
        return None
    labeled = set(project.labels.all())
    scores = {i: p for i, p in project.predictions.defect_probabilities(run_id).items() if i not in labeled}
    return max(scores, key=scores.get) if scores else None


def after_retrain(window, shots: ShotLog) -> None:
    """The grid's marks, the heat map, suggestions, the map and the export dialog."""
    window.grid.set_filter("unlabeled")
    settle()
    shots.save(window, "grid-after", "the grid after the retrain, filtered to Unlabeled: ⚠ defect marks, the "
               "predicted class (dashed chip), ★ suggestion ranks, ? unsure")
    window.grid.filter_bar.legend_button.click()
    legend = window.grid.legend.legend
    if legend is not None:
        settle()
        shots.save(legend, "grid-legend", "the ? above the grid: what each mark on a tile means")
        legend.close()
    target = hottest_unlabeled(window.project)
    if target is not None:
        window.labeling.go_to(target)
        window.editor.set_heatmap_visible(True)
        settle()
        shots.save(window, "editor-heatmap", "an unlabeled image the detector calls defective, its heat map over "
                   "it and the defect probability under it")
        window.editor.set_heatmap_visible(False)
    else:
        print("warning: no defect detector predictions; no heat-map shot")
    window.suggestions_dock.raise_()
    window.grid.set_filter("all")
    window.grid.set_sort("suggested")
    window.labeling.go_to(int(next(iter(window.project.labels.all()))))  # not a suggestion: N opens the best
    window.suggestions_queue.go_next()
    settle()
    shots.save(window, "suggested-image", "N: the best suggestion opened, its reason under the editor, the grid "
               "sorted suggested first")
    shots.save(window.suggestions_dock, "suggestions", "the Suggestions dock: images to label next, best first, "
               "each with its reason")
    map_dock, map_panel = window.embedding_map.dock, window.embedding_map.panel
    map_dock.raise_()
    if not wait_for_refined(map_panel):
        print("warning: the map's refined layout did not come within 3 minutes")
    settle()
    shots.save(window, "map", "the Map dock: every image as a dot placed by its features, coloured by label")
    window.window_actions.actions["model.export"].trigger()
    from labelapp.export.model_dialog import ExportModelDialog

    dialogs = [d for d in window.findChildren(ExportModelDialog) if d.isVisible()]
    if dialogs:
        settle()
        shots.save(dialogs[0], "export-model", "File ▸ Export Model…: model, run, format, folder, and which classes "
                   "the model knows")
        dialogs[0].reject()
    else:
        print("warning: File ▸ Export Model opened no dialog")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "labelapp-shots")
    parser.add_argument("--project", type=Path, default=Path(tempfile.gettempdir()) / "labelapp-shots-project",
                        help="where the demo project is copied (replaced on every run)")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "labelapp-shots-cache")
    parser.add_argument("--images", type=int, default=240)
    parser.add_argument("--labeled", type=int, default=90, help="the first images in import order get labels")
    parser.add_argument("--masks", type=int, default=25, help="of which defective ones get their true masks")
    parser.add_argument("--epochs", type=int, default=3, help="pretraining epochs of the retrain")
    parser.add_argument("--detector-epochs", type=int, default=4, help="defect detector epochs of the retrain")
    parser.add_argument("--size", default="1600x1000", help="window size, WxH")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    project_root = fresh_copy(demo_template(args.cache, images=args.images, size=200), args.project)
    label_from_truth(project_root, first=args.labeled, masks=args.masks)
    shots = ShotLog(args.out)
    create_application([sys.argv[0]])
    with tempfile.TemporaryDirectory() as scratch:
        settings = QSettings(str(Path(scratch) / "settings.ini"), QSettings.Format.IniFormat)
        settings.setValue("training/epochs", args.epochs)
        settings.setValue("training/segdec_max_epochs", args.detector_epochs)
        window = create_main_window(None, settings=settings)  # no recent projects: the empty window
        window.resize(width, height)
        window.show()
        QTest.qWaitForWindowExposed(window, 5000)
        settle()
        try:
            before_retrain(window, shots, project_root)
            retrain(window, shots)
            after_retrain(window, shots)
        finally:
            window.close()
    print()
    print(shots.table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
