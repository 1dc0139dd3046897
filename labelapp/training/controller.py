"""Retrain with current labels: builds the job from a snapshot of the settings, runs it
in the training panel, and applies the result on the GUI thread (new predictions in the
grid, heat maps, the worth-a-mask list, the suggestions queue). The retrain ends with
fresh suggestions from the strategy chosen in the Suggestions dock. A defect-detector threshold the user moves in a
run's details is kept as the target recall of the next retrain.

It also keeps the stale marks of the panel: after every label or mask change (the
labeling controller's and the editor's signals) it asks :class:`StaleCheck`, which
costs an index lookup unless a run newer than its last digest appeared."""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSettings, Slot

from core.jobs.staleness import StaleCheck
from core.store import Project, Run, RunKind, RunStatus, StoreError
from core.training.trust import detector_trust

if TYPE_CHECKING:
    from labelapp.shell.main_window import MainWindow

logger = logging.getLogger(__name__)
# Per-user training settings (QSettings keys) and their defaults.
DEFAULTS = {"training/ssl": "simclr", "training/encoder": "shufflenet", "training/size": 96,
            "training/epochs": 20, "training/batch_size": 64, "training/thorough": False,
            "training/finetune_steps": 120, "training/segdec": True}
TARGET_RECALL_KEY = "training/target_recall"  # absent: the best-F1 threshold
# Optional overrides of the defect detector's request (absent: core's defaults), with their types.
SEGDEC_OVERRIDES = {"training/segdec_scale": ("scale", float), "training/segdec_max_epochs": ("max_epochs", int),
                    "training/segdec_minutes": ("minutes", float)}


class TrainingController(QObject):
    """Connects the Retrain action and the training panel to the core jobs."""

    def __init__(self, window: MainWindow, settings: QSettings) -> None:
        super().__init__(window)
        self._window = window
        self._settings = settings
        self._stale_check: StaleCheck | None = None
        window.training_panel.retrain_requested.connect(self.retrain)
        window.training_panel.run_finished.connect(self._on_panel_run_finished)
        window.training_panel.run_failed.connect(self._on_panel_run_failed)
        window.training_panel.threshold_changed.connect(self._on_panel_threshold_changed)
        window.project_opened.connect(self._on_window_project_opened)
        window.project_closed.connect(self._on_window_project_closed)
        window.training_panel.thorough_box.setChecked(bool(self._setting("training/thorough")))
        window.training_panel.segdec_box.setChecked(bool(self._setting("training/segdec")))
        window.labeling.labels_changed.connect(self._on_labels_changed)
        window.editor.labels_changed.connect(self._on_labels_changed)
        window.editor.mask_saved.connect(self._on_labels_changed)

    def _setting(self, key: str) -> object:
        default = DEFAULTS[key]
        return self._settings.value(key, default, type=type(default))

    def target_recall(self) -> float | None:
        """The target recall of the defect detector's threshold (None: best F1)."""
        raw = self._settings.value(TARGET_RECALL_KEY)
        try:
            value = float(raw) if raw not in (None, "") else None
        except (TypeError, ValueError):
            logger.warning("ignoring unreadable setting %s=%r", TARGET_RECALL_KEY, raw)
            return None
        return value if value is not None and 0.0 < value <= 1.0 else None

    def segdec_request(self, project: Project, *, from_scratch: bool = False):
        """The defect detector's request, or None when the Defect detector box is off;
        it continues from the last detector unless ``from_scratch``."""
        panel = self._window.training_panel
        self._settings.setValue("training/segdec", panel.segdec_box.isChecked())
        if not panel.segdec_box.isChecked():
            return None
        from core.training import SegDecRequest

        overrides = {field: kind(self._settings.value(key)) for key, (field, kind) in SEGDEC_OVERRIDES.items()
                     if self._settings.contains(key)}
        return SegDecRequest(project_root=project.root, target_recall=self.target_recall(), warm_start=not from_scratch,
                             **overrides)

    @Slot()
    def pretrain_again(self) -> None:
        """Retrain, pretraining a new encoder even if one covers the images (after changing
        the encoder settings, or to train it longer)."""
        self.retrain(pretrain_again=True)

    @Slot()
    def detector_from_scratch(self) -> None:
        """Retrain, training a new defect detector instead of continuing the last one
        (after many label changes, or when the last one went astray)."""
        self.retrain(detector_from_scratch=True)

    @Slot()
    def retrain(self, *, pretrain_again: bool = False, detector_from_scratch: bool = False) -> None:
        window = self._window
        project = window.project
        if project is None:
            return
        if window.training_panel.is_running():
            window.status.show_info("Training is already running.")
            return
        window.editor.flush()
        from core.active import SuggestRequest
        from core.training import ClassifyRequest, PretrainRequest, retrain_job

        pretrain = PretrainRequest(
            project_root=project.root, method=str(self._setting("training/ssl")),
            encoder=str(self._setting("training/encoder")), size=int(self._setting("training/size")),
            epochs=int(self._setting("training/epochs")), batch_size=int(self._setting("training/batch_size")))
        window.training_dock.show()
        window.training_dock.raise_()
        thorough = window.training_panel.thorough_box.isChecked()
        self._settings.setValue("training/thorough", thorough)
        classify = ClassifyRequest(project_root=project.root,
                                   finetune_steps=int(self._setting("training/finetune_steps")) if thorough else 0)
        segdec = self.segdec_request(project, from_scratch=detector_from_scratch)
        suggest = SuggestRequest(project_root=project.root, strategy=window.suggestions.strategy())
        window.training_panel.start(
            lambda cancel: retrain_job(pretrain, classify, cancel, pretrain_again=pretrain_again, segdec=segdec,
                                       suggest=suggest),
            title="Starting…")

    # -- stale runs -------------------------------------------------------------------------------
    def show_history(self, *, finished_run: int | None = None) -> None:
        """Lists the runs with exact stale marks (reads every label once); warns when
        ``finished_run`` is stale already."""
        project, panel = self._window.project, self._window.training_panel
        if project is None:
            return
        try:
            runs = project.runs.list()
            check = self._stale_check if self._stale_check is not None else StaleCheck(project)
            check.refresh()
            stale = check.stale_ids(runs)
        except StoreError as exc:
            self._window.status.show_error(str(exc))
            return
        self._stale_check = check
        panel.show_history(runs, stale)
        panel.show_stale_warning(finished_run in stale)

    @Slot(object)
    def _on_labels_changed(self, _image_ids: object) -> None:
        """Labels or masks changed: marks the runs they make stale, and warns when the run
        in progress trains on labels older than these."""
        project, panel, check = self._window.project, self._window.training_panel, self._stale_check
        if project is None or check is None:
            return
        running = panel.is_running()
        try:  # while a job runs, its run row (and the snapshot it took) is in the store
            runs = project.runs.list() if running else panel.runs()
            stale = check.stale_ids(runs)
        except StoreError as exc:
            self._window.status.show_error(str(exc))
            return
        panel.mark_stale(stale)
        if running:
            panel.show_stale_warning(any(r.id in stale for r in runs if r.status is RunStatus.RUNNING))

    @Slot(object)
    def _on_window_project_opened(self, project: Project) -> None:
        self._stale_check = StaleCheck(project)
        self._window.training_panel.set_project(project)
        self.show_history()

    @Slot()
    def _on_window_project_closed(self) -> None:
        self._stale_check = None
        self._window.training_panel.set_project(None)
        self._window.training_panel.show_history([])
        self._window.training_panel.show_stale_warning(False)

    # -- results ---------------------------------------------------------------------------------
    @Slot(object)
    def _on_panel_run_finished(self, result: object) -> None:
        project = self._window.project
        if project is None:
            return
        run = getattr(result, "run", None)
        if run is None:
            self._window.status.show_info("Training cancelled; nothing was kept.")
        else:  # a retrain cancelled in the defect detector keeps the classifier run before it
            cancelled = "Training cancelled. " if getattr(result, "cancelled", False) else ""
            self._window.status.show_info(cancelled + finished_message(result))
            self._window.grid.refresh(None)  # predictions appear on the tiles and under the editor
            self._window.refresh_image_info()
        detector = getattr(result, "segdec", None)
        if detector is not None and detector.run is not None:
            self._window.detector_updated()
        self.show_history(finished_run=None if run is None else run.id)

    @Slot(object)
    def _on_panel_threshold_changed(self, run: object) -> None:
        """The user moved a defect-detector run's threshold: the next retrain aims at the same
        recall, and the grid's defect filters read the new threshold."""
        if not isinstance(run, Run):
            return
        target = ((run.metrics or {}).get("validation") or {}).get("target_recall")
        if isinstance(target, int | float):
            self._settings.setValue(TARGET_RECALL_KEY, float(target))
            how = f"target recall {float(target):.2f}"
        else:
            self._settings.remove(TARGET_RECALL_KEY)
            how = "best F1"
        self._window.defect_threshold_moved()
        self._window.status.show_info(
            f"Run #{run.id}: defect threshold {_figure(run.metrics.get('threshold'))} ({how}); "
            "the next retrain aims at the same.")

    @Slot(object)
    def _on_panel_run_failed(self, exc: object) -> None:
        self._window.status.show_error(f"Training failed: {exc}")
        self.show_history()


def finished_message(result: object) -> str:
    """The status line of a finished retrain: its runs, the classifier's cross-validated
    accuracy and the defect detector's validation AP / F1 when they have them."""
    parts = [getattr(result, name, None) for name in ("pretrain", "classify", "segdec")]
    runs = [p.run for p in parts if p is not None and p.run is not None] or [result.run]  # type: ignore[attr-defined]
    ids = ", ".join(f"#{r.id}" for r in runs[:-1]) + (" and " if len(runs) > 1 else "") + f"#{runs[-1].id}"
    text = f"Run{'s' if len(runs) > 1 else ''} {ids} finished ({result.seconds:.0f} s)"  # type: ignore[attr-defined]
    for run in runs:
        validation = (run.metrics or {}).get("validation")
        if run.kind is RunKind.SEGDEC:
            trust = detector_trust(run)
            text += (f" · defect detector AP {_figure(validation.get('ap'))}, F1 {_figure(validation.get('f1'))}"
                     f" on {validation['n']} validation images" if validation
                     else " · defect detector: no validation (too few labels)")
            if not trust.validated:
                text += f"; no image is called defective until it is validated ({trust.advice})"
        elif validation and "accuracy" in validation:
            text += (f" · validation accuracy {validation['accuracy']:.0%} (macro-F1 {validation['macro_f1']:.0%})"
                     f", cross-validated on {validation['n']} labels")
    suggested = getattr(result, "suggestions", 0)
    if suggested:
        text += f" · {suggested} images suggested to label next"
    return text + "."


def _figure(value: object) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) and math.isfinite(value) else "–"
