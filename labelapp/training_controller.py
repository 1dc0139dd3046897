"""Retrain with current labels: builds the job from a snapshot of the settings, runs it
in the training panel, and applies the result on the GUI thread."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSettings, Slot

from core.store import StoreError

if TYPE_CHECKING:
    from labelapp.main_window import MainWindow

logger = logging.getLogger(__name__)
# Per-user training settings (QSettings keys) and their defaults.
DEFAULTS = {"training/ssl": "simclr", "training/encoder": "shufflenet", "training/size": 96,
            "training/epochs": 20, "training/batch_size": 64}


class TrainingController(QObject):
    """Connects the Retrain action and the training panel to the core jobs."""

    def __init__(self, window: MainWindow, settings: QSettings) -> None:
        super().__init__(window)
        self._window = window
        self._settings = settings
        window.training_panel.retrain_requested.connect(self.retrain)
        window.training_panel.run_finished.connect(self._on_panel_run_finished)
        window.training_panel.run_failed.connect(self._on_panel_run_failed)

    def _setting(self, key: str) -> object:
        default = DEFAULTS[key]
        return self._settings.value(key, default, type=type(default))

    @Slot()
    def retrain(self) -> None:
        window = self._window
        project = window.project
        if project is None:
            return
        if window.training_panel.is_running():
            window.status.show_info("Training is already running.")
            return
        window.editor.flush()
        from core.training import ClassifyRequest, PretrainRequest, retrain_job

        pretrain = PretrainRequest(
            project_root=project.root, method=str(self._setting("training/ssl")),
            encoder=str(self._setting("training/encoder")), size=int(self._setting("training/size")),
            epochs=int(self._setting("training/epochs")), batch_size=int(self._setting("training/batch_size")))
        window.training_dock.show()
        window.training_dock.raise_()
        classify = ClassifyRequest(project_root=project.root)
        window.training_panel.start(lambda cancel: retrain_job(pretrain, classify, cancel), title="Starting…")

    @Slot(object)
    def _on_panel_run_finished(self, result: object) -> None:
        project = self._window.project
        if project is None:
            return
        run = getattr(result, "run", None)
        if getattr(result, "cancelled", False) or run is None:
            self._window.status.show_info("Training cancelled; nothing was kept.")
        else:
            self._window.status.show_info(f"Run #{run.id} finished ({result.seconds:.0f} s).")  # type: ignore[attr-defined]
            self._window.grid.refresh(None)  # predictions appear on the tiles and under the editor
            self._window.refresh_image_info()
        try:
            self._window.training_panel.show_history(project.runs.list())
        except StoreError as exc:
            self._window.status.show_error(str(exc))

    @Slot(object)
    def _on_panel_run_failed(self, exc: object) -> None:
        self._window.status.show_error(f"Training failed: {exc}")
        project = self._window.project
        if project is not None:
            self._window.training_panel.show_history(project.runs.list())

