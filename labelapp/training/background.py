"""The encoder keeps learning while the project is idle: the background pretraining in the window.

:class:`BackgroundPretraining` runs :func:`core.training.background_pretrain.background_pretrain_job`
in the training process (the worker that runs Retrain, niced; the job uses one torch
thread) when the toggle in the training panel is on, a project with an encoder is open,
no other job runs, and the platform does not say it runs on its battery. It starts
:data:`IDLE_S` seconds after the project opened or the last job ended. Any job the
training controller starts pauses it first: the job stops at its next step, keeps its
place (the resume point), and the controller's job starts when it has ended
(:meth:`pause_then`); it resumes when that job has ended and the project is idle again.

Each checkpoint is a new pretraining run: the run history shows it and the next retrain
uses it. The line under the toggle says how far the encoder is ("encoder: 34 epochs,
loss 2.91, improving") and what the background pretraining does now.

On by default: it only ever uses the time the engineer spends labeling, on one core at
a lower priority, pauses for every job, and stops on battery; without it the encoder
stops after the first retrain's few epochs, which is what the issue asks to change.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable

from PySide6.QtCore import QObject, QSettings, QTimer, Signal, Slot

from core.jobs.worker import JobCall, WorkerProcess
from core.store import Project, RunKind, StoreError
from labelapp.jobs.process_runner import WorkerJobRunner, recover_run
from labelapp.session.project_session import ProjectSession
from labelapp.training.panel import TrainingPanel

logger = logging.getLogger(__name__)
ENABLED_KEY = "training/background"
IDLE_KEY = "training/background_idle_s"
CHECKPOINT_KEY = "training/background_checkpoint_minutes"
IDLE_S = 60.0  # idle seconds before it starts (after opening a project, after a job)
CHECKPOINT_MINUTES = 5.0
BATTERY_RECHECK_S = 120.0
TIP = ("While the project is open and nothing else trains, the encoder goes on learning from every image on one "
       "core at low priority, and saves a checkpoint every few minutes; the next retrain uses the newest one. It "
       "pauses for a retrain and resumes after; it does not run on battery.")


class BackgroundPretraining(QObject):
    """The background pretraining of one window (owned by the training controller).

    ``busy`` says whether the controller runs a job; ``history`` re-reads the run history.

    Signals:
        line_changed(str): the encoder line shows this now.
        checkpoint_saved(int): a checkpoint run was recorded (its id).
        stopped(str): the job ended ("paused", "on battery", "no encoder", "busy", "failed").
    """

    line_changed = Signal(str)
    checkpoint_saved = Signal(int)
    stopped = Signal(str)

    def __init__(self, worker: WorkerProcess, panel: TrainingPanel, session: ProjectSession, settings: QSettings, *,
                 busy: Callable[[], bool], history: Callable[[], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._worker, self._panel, self._session, self._settings = worker, panel, session, settings
        # weakly: the controller owns this object, and a reference cycle would leave both to the
        # garbage collector, which may run on any thread (a QObject must be deleted on its own)
        self._busy, self._history = _weakly(busy, False), _weakly(history, None)
        self._runner: WorkerJobRunner | None = None
        self._then: Callable[[], None] | None = None  # the controller's job, started when this one has paused
        self._encoder = ""  # the encoder part of the line
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.start_if_idle)
        panel.background_box.setToolTip(TIP)
        panel.background_box.setChecked(bool(settings.value(ENABLED_KEY, True, type=bool)))
        panel.background_box.toggled.connect(self._on_box_toggled)
        session.opened.connect(self._on_session_opened)
        session.closed.connect(self._on_session_closed)

    # -- state -------------------------------------------------------------------------------------
    def enabled(self) -> bool:
        return self._panel.background_box.isChecked()

    def is_running(self) -> bool:
        return self._runner is not None and self._runner.is_running()

    def handing_over(self) -> bool:
        """Whether a job waits for the background pretraining to pause."""
        return self._then is not None

    def line(self) -> str:
        return self._panel.encoder_label.text()

    def _show(self, doing: str = "") -> None:
        text = self._encoder + (f" — {doing}" if doing else "")
        if text != self._panel.encoder_label.text():
            self._panel.encoder_label.setText(text)
            self.line_changed.emit(text)

    def _settings_float(self, key: str, default: float) -> float:
        try:
            return float(self._settings.value(key, default))
        except (TypeError, ValueError):
            return default

    # -- starting and pausing ------------------------------------------------------------------------
    def schedule(self, seconds: float | None = None) -> None:
        """Starts after ``seconds`` (default: the idle time of the settings) if still idle then."""
        if self.enabled() and self._session.project is not None:
            self._timer.start(int(1000 * (self._settings_float(IDLE_KEY, IDLE_S) if seconds is None else seconds)))

    @Slot()
    def start_if_idle(self) -> bool:
        """Starts the job when the toggle is on, a project with an encoder is open, no job
        runs and the computer is not on battery; returns whether it started."""
        project = self._session.project
        if not self.enabled() or project is None or self._busy() or self.is_running() or self._then is not None:
            return False
        from core.training.background_pretrain import BackgroundPretrainRequest, background_pretrain_job
        from core.training.embed_new import extendable_run
        from core.training.encoder_status import on_battery

        try:
            if extendable_run(project) is None:
                return False  # the first retrain pretrains the encoder; its end schedules this again
        except StoreError as exc:
            logger.warning("cannot read the encoder runs: %s", exc)
            return False
        if on_battery():
            self._show("paused: on battery")
            self.schedule(BATTERY_RECHECK_S)
            return False
        request = BackgroundPretrainRequest(
            project_root=project.root, checkpoint_minutes=self._settings_float(CHECKPOINT_KEY, CHECKPOINT_MINUTES))
        runner = WorkerJobRunner(JobCall(background_pretrain_job, (request,)), self._worker, self)
        runner.progressed.connect(self._on_runner_progressed)
        runner.finished.connect(self._on_runner_finished)
        runner.failed.connect(self._on_runner_failed)
        self._runner = runner
        runner.start()
        self._show("training while idle")
        return True

    def pause_then(self, start: Callable[[], None]) -> bool:
        """When the background pretraining runs: asks it to pause and returns True; ``start``
        runs when it has (the controller's job). False when it does not run."""
        self._timer.stop()
        if not self.is_running():
            return False
        self._then = start
        assert self._runner is not None
        self._runner.cancel()
        self._show("pausing for the job")
        return True

    def pause(self) -> None:
        """Pauses without starting anything (the toggle was switched off)."""
        self._timer.stop()
        if self._runner is not None and self._runner.is_running():
            self._runner.cancel()

    def shutdown(self) -> None:
        """Stops at once (the window closes or the project changes): the training since the
        last resume point (a few steps) is lost, nothing else."""
        self._timer.stop()
        self._then = None
        runner, self._runner = self._runner, None
        if runner is not None and runner.is_running():
            for signal in (runner.progressed, runner.finished, runner.failed):
                signal.disconnect()
            runner.stop_now()
            runner.wait(10_000)
        if runner is not None:
            runner.deleteLater()

    # -- the job's messages ---------------------------------------------------------------------------
    @Slot(object)
    def _on_runner_progressed(self, record: object) -> None:
        from core.training.background_pretrain import CHECKPOINT_PHASE, PHASE

        phase = getattr(record, "phase", "")
        if phase in (PHASE, CHECKPOINT_PHASE) and getattr(record, "message", ""):
            self._encoder = record.message  # type: ignore[attr-defined]
            self._show("pausing for the job" if self._then is not None else "training while idle")
        if phase == CHECKPOINT_PHASE:
            self._history()
            self.checkpoint_saved.emit(int(record.step))  # type: ignore[attr-defined]

    @Slot(object)
    def _on_runner_finished(self, result: object) -> None:
        self._forget_runner()
        stopped = str(getattr(result, "stopped", "paused"))
        if getattr(result, "line", ""):
            self._encoder = result.line  # type: ignore[attr-defined]
        self._ended(stopped)

    @Slot(object)
    def _on_runner_failed(self, exc: object) -> None:
        self._forget_runner()
        if self._session.project is not None and isinstance(exc, BaseException):
            problem = recover_run(self._session.project, exc)
            if problem:
                logger.warning(problem)
        logger.warning("the background pretraining stopped: %s", exc)
        self._ended("failed", f"stopped: {exc}")

    def _forget_runner(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.deleteLater()  # one runner per start: none piles up over a long session

    def _ended(self, stopped: str, doing: str | None = None) -> None:
        then, self._then = self._then, None
        words = {"on battery": "paused: on battery", "busy": "paused: another program trains on this project",
                 "paused": "paused" if self.enabled() else "off"}
        self._show(doing if doing is not None else words.get(stopped, ""))
        self.stopped.emit(stopped)
        if then is not None:
            then()
        elif stopped in ("on battery", "busy"):
            self.schedule(BATTERY_RECHECK_S)
        elif stopped == "paused":  # switched off and on again while it was pausing
            self.schedule()

    # -- the window's events ----------------------------------------------------------------------------
    @Slot(object)
    def job_ended(self, _result: object = None) -> None:
        """The controller's job ended: the line shows the newest encoder; start when idle again."""
        self._refresh_encoder()
        self._show("" if self.enabled() else "off")
        self.schedule()

    def _refresh_encoder(self) -> None:
        from core.training.encoder_status import encoder_line

        project = self._session.project
        try:
            self._encoder = encoder_line(None if project is None else project.runs.latest(RunKind.PRETRAIN))
        except StoreError as exc:
            logger.warning("cannot read the encoder runs: %s", exc)

    @Slot(bool)
    def _on_box_toggled(self, on: bool) -> None:
        self._settings.setValue(ENABLED_KEY, on)
        if on:
            self._show("")
            self.schedule(0)
        else:
            self.pause()
            self._show("off")

    @Slot(object)
    def _on_session_opened(self, _project: Project) -> None:
        self._refresh_encoder()
        self._show("" if self.enabled() else "off")
        self.schedule()

    @Slot()
    def _on_session_closed(self) -> None:
        self.shutdown()
        self._encoder = ""
        self._show("")


def _weakly(method: Callable[[], object], dead: object) -> Callable[[], object]:
    """``method`` (a bound method) called through a weak reference; ``dead`` once its object is gone."""
    ref = weakref.WeakMethod(method)  # type: ignore[arg-type]

    def call() -> object:
        bound = ref()
        return dead if bound is None else bound()

    return call
