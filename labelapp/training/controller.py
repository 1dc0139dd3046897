"""Retrain with current labels: builds the job from a snapshot of the settings, runs it in
the training process (:mod:`core.jobs.worker`, one worker reused while the project is open,
through :class:`labelapp.jobs.process_runner.WorkerJobRunner`), shows its progress in the
panel and announces the result (``run_finished``: the window shows the new predictions,
heat maps, worth-a-mask list and suggestions). A detector threshold the user moves is kept
as the target recall of the next retrain. Between jobs the same worker runs the
background pretraining (:mod:`labelapp.training.background`), which every job pauses first.

It keeps the run history and stale marks of the panel: the history (with the label digest
and the last run's curves) is read off the GUI thread (:class:`labelapp.training.history.HistoryLoader`)
when a project opens and after every run; after each label or mask change :class:`StaleCheck`
costs an index lookup unless a newer run appeared. A finished retrain says so briefly in
the status bar; its results stay in the panel under the bar."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, QSettings, Signal, Slot
from PySide6.QtWidgets import QMessageBox, QWidget

from core.jobs.staleness import RunHistory, StaleCheck
from core.jobs.worker import JobCall, WorkerDied, WorkerProcess
from core.store import Project, Run, RunStatus, StoreError
from labelapp.jobs.process_runner import WorkerJobRunner, WorkerStopped, recover_run
from labelapp.jobs.runner import JobRunner, StartJob
from labelapp.session.project_session import ProjectSession
from labelapp.training.background import BackgroundPretraining
from labelapp.training.history import HistoryLoader
from labelapp.training.panel import TrainingPanel
from labelapp.training.proposer_dialog import ProposerDialog
from labelapp.training.proposer_start import proposer_call, proposer_dialog
from labelapp.training.requests import TARGET_RECALL_KEY, retrain_call, segdec_request, setting, target_recall
from labelapp.training.results import finished_details, finished_message, result_runs
from labelapp.training.wording import duration
from labelapp.widgets.formatting import figure as _figure
from labelapp.widgets.turns import in_turns

logger = logging.getLogger(__name__)


class TrainingController(QObject):
    """Runs training jobs for the panel and the Retrain action, one at a time.

    ``strategy`` gives the suggestion strategy a retrain ends with (the Suggestions dock's);
    ``shown_first`` the images the grid shows first, whose predictions are stored first.

    Signals:
        retrain_starting(): a retrain is about to take its label snapshot (save pending masks now).
        run_finished(object): the job's result (after the panel and the history show it).
        run_failed(object): the exception the job raised.
        predictions_stored(object): a running retrain stored predictions of some images
            (:class:`core.jobs.base.StoredPredictions`); the grid shows them at once.
        detector_updated(): a finished retrain brought a new defect detector.
        threshold_moved(): the user moved a defect-detector run's threshold.
        history_shown(): the panel shows the history read from the store (exact stale marks).
        message(str), error(str): notes for the status bar.
    """

    retrain_starting = Signal()
    run_finished = Signal(object)
    run_failed = Signal(object)
    predictions_stored = Signal(object)
    detector_updated = Signal()
    threshold_moved = Signal()
    history_shown = Signal()
    message = Signal(str)
    error = Signal(str)

    def __init__(self, panel: TrainingPanel, session: ProjectSession, settings: QSettings, *,
                 strategy: Callable[[], str] = lambda: "default",
                 shown_first: Callable[[], Sequence[int]] = lambda: (), parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._panel = panel
        self._session = session
        self._settings = settings
        self._strategy = strategy
        self._shown_first = shown_first
        self._runner: JobRunner | WorkerJobRunner | None = None
        self._worker = WorkerProcess()
        self.background = BackgroundPretraining(  # first to hear the session close: stops before the worker
            self._worker, panel, session, settings, busy=self.is_running, history=self.show_history, parent=self)
        self.run_finished.connect(self.background.job_ended)
        self.run_failed.connect(self.background.job_ended)
        self._stale_check: StaleCheck | None = None
        self._history = HistoryLoader(self)
        self._history.loaded.connect(self._on_history_loaded)
        self._history.failed.connect(self._on_history_failed)
        self._finished_run: int | None = None  # the run whose stale warning the next history decides
        self._started_at = 0.0  # time.monotonic() when the running job started
        self._stage: str | None = None  # the part of the running retrain the last record named
        self._what = "A retrain"  # the running job, in words
        self.proposer_dialog: ProposerDialog | None = None  # the last "Propose masks" dialog opened
        panel.retrain_requested.connect(self.retrain)
        panel.cancel_requested.connect(self.cancel)
        panel.threshold_changed.connect(self._on_panel_threshold_changed)
        session.opened.connect(self._on_session_opened)
        session.closed.connect(self._on_session_closed)
        session.labels_changed.connect(self._on_labels_changed)
        session.mask_saved.connect(self._on_labels_changed)
        panel.thorough_box.setChecked(bool(self._setting("training/thorough")))
        panel.segdec_box.setChecked(bool(self._setting("training/segdec")))

    def _setting(self, key: str) -> object:
        return setting(self._settings, key)

    def target_recall(self) -> float | None:
        """The target recall of the defect detector's threshold (None: best F1)."""
        return target_recall(self._settings)

    def segdec_request(self, project: Project, *, from_scratch: bool = False, priority_ids: tuple[int, ...] = ()):
        """The defect detector's request, or None when the Defect detector box is off;
        it continues from the last detector unless ``from_scratch``."""
        enabled = self._panel.segdec_box.isChecked()
        self._settings.setValue("training/segdec", enabled)
        return segdec_request(self._settings, project, enabled=enabled, from_scratch=from_scratch,
                              priority_ids=priority_ids)

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
    def propose_masks(self) -> None:
        """Opens the mask-proposer dialog (``proposer_dialog``); its Start runs the proposer
        like a retrain (:mod:`labelapp.training.proposer_start`)."""
        project = self._session.project
        if project is None or self.is_running():
            self.message.emit("Training is already running." if project is not None else "Open a project first.")
            return
        self.proposer_dialog = proposer_dialog(project, self._settings, self._panel.window())
        self.proposer_dialog.start_requested.connect(self._on_proposer_start_requested)
        self.proposer_dialog.open()

    @Slot(object)
    def _on_proposer_start_requested(self, choice: object) -> None:
        project = self._session.project
        if project is not None and not self.is_running():
            self.retrain_starting.emit()  # pending masks reach the snapshot; the panel comes forward
            self.start(proposer_call(self._settings, project, choice), title="Starting the mask proposer…",
                       what="The mask proposer")

    # -- running ---------------------------------------------------------------------------------
    def start(self, job: StartJob | JobCall, *, title: str, what: str = "A retrain") -> None:
        """Runs ``job``: a :class:`JobCall` in the training process (every torch job), a
        StartJob on a thread of this process (light jobs); ``what`` names it in questions."""
        if self.is_running():
            raise RuntimeError("a training job is already running")
        if not self.background.pause_then(lambda: self._launch(job, title=title, what=what)):
            self._launch(job, title=title, what=what)  # else when the background pretraining has paused

    def _launch(self, job: StartJob | JobCall, *, title: str, what: str) -> None:
        from labelapp.jobs.warmup import start_warmup

        start_warmup()  # pyqtgraph (the curves) loads off the GUI thread if not yet done
        self._started_at = time.monotonic()
        self._stage, self._what = None, what
        self._panel.job_started(title)
        if isinstance(job, JobCall):
            runner: JobRunner | WorkerJobRunner = WorkerJobRunner(job, self._worker, self)
        else:
            runner = JobRunner(job, self)
        runner.progressed.connect(self._on_runner_progressed)
        runner.finished.connect(self._on_runner_finished)
        runner.failed.connect(self._on_runner_failed)
        self._runner = runner
        runner.start()

    def is_running(self) -> bool:
        return (self._runner is not None and self._runner.is_running()) or self.background.handing_over()

    def _took(self) -> str:
        """" in 2 min 5 s": how long the job that just ended ran."""
        return f" in {duration(time.monotonic() - self._started_at)}" if self._started_at else ""

    @Slot()
    def cancel(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            self._panel.job_cancelling()

    def confirm_stop(self, parent: QWidget) -> bool:
        """Asks whether to stop the running job (the window is closing)."""
        answer = QMessageBox.question(
            parent, "Training is running",
            f"{self._what} is running. Stop it and close?\n\nNothing is lost: every label is saved; the unfinished "
            "run is discarded.", QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def worker_pid(self) -> int | None:
        """The training process's id while it runs (None: not started or ended)."""
        return self._worker.pid if self._worker.alive() else None

    def shutdown(self) -> None:
        """Stops a running job at once and ends the training process (the window closes):
        the unfinished run is marked cancelled, nothing half-written stays."""
        self.background.shutdown()
        runner, self._runner = self._runner, None
        if isinstance(runner, WorkerJobRunner):
            runner.stop_now()
            runner.wait(10_000)
            self._recover(WorkerStopped("cancelled: the window was closed"))
        elif runner is not None:
            runner.cancel()
            runner.wait()
        self._worker.close()
        self._history.set_root(None)
        self._history.wait()

    def _recover(self, exc: BaseException) -> None:
        """The worker ended mid-run: :func:`recover_run`."""
        if self._session.project is not None and (problem := recover_run(self._session.project, exc)):
            self.error.emit(problem)

    @Slot(object)
    def _on_runner_progressed(self, record: object) -> None:
        self._panel.show_progress(record)
        stage = getattr(record, "stage", None)
        if stage is not None and stage != self._stage:
            if self._stage is not None:  # the part before it has recorded its run: list it now
                self.show_history()
            self._stage = stage
        stored = getattr(record, "stored", None)
        if stored is not None:
            self.predictions_stored.emit(stored)

    @Slot(object)
    def _on_runner_finished(self, result: object) -> None:
        self._runner = None
        cancelled = bool(getattr(result, "cancelled", False))
        self._panel.job_ended("Cancelled." if cancelled else f"Finished{self._took()}.",
                              finished_details(result) if getattr(result, "run", None) is not None else "")
        # the refresh in parts, one per event-loop turn (together they took over 50 ms):
        # ``run_finished`` comes last, when the panel and the heat maps show the run
        took = self._took()
        in_turns(self, (lambda: self._announce(result, took), lambda: self._show_runs(result),
                        lambda: self.run_finished.emit(result)))

    @Slot(object)
    def _on_runner_failed(self, exc: object) -> None:
        self._runner = None
        if isinstance(exc, WorkerDied | WorkerStopped):
            self._recover(exc)
        if isinstance(exc, WorkerDied):
            self._panel.job_ended(f"Stopped: {exc}.")
            self.error.emit(f"Training stopped: {exc}; nothing was lost (every label is saved). "
                            "Retrain starts a fresh worker.")
        else:
            self._panel.job_ended(f"Failed: {exc}")
            self.error.emit(f"Training failed: {exc}")
        self.show_history()
        self.run_failed.emit(exc)

    # -- retrain ----------------------------------------------------------------------------------
    @Slot()
    def retrain(self, *, pretrain_again: bool = False, detector_from_scratch: bool = False) -> None:
        project = self._session.project
        if project is None:
            return
        if self.is_running():
            self.message.emit("Training is already running.")
            return
        self.retrain_starting.emit()
        thorough = self._panel.thorough_box.isChecked()
        self._settings.setValue("training/thorough", thorough)
        shown = tuple(self._shown_first())
        segdec = self.segdec_request(project, from_scratch=detector_from_scratch, priority_ids=shown)
        self.start(retrain_call(self._settings, project, thorough=thorough, segdec=segdec, strategy=self._strategy(),
                                priority_ids=shown, pretrain_again=pretrain_again), title="Starting…")

    # -- history and stale runs ----------------------------------------------------------------
    def show_history(self, *, finished_run: int | None = None) -> None:
        """Reads the runs and their exact stale marks off the GUI thread (the label digest
        reads every label) and shows them (``history_shown``); then warns when
        ``finished_run`` is stale already."""
        if self._session.project is None:
            return
        if finished_run is not None:
            self._finished_run = finished_run
        self._history.request()

    def history_pending(self) -> bool:
        """Whether a history read is under way (its result not yet shown)."""
        return self._history.is_busy()

    @Slot(object)
    def _on_history_loaded(self, history: object) -> None:
        project, panel, check = self._session.project, self._panel, self._stale_check
        if not isinstance(history, RunHistory) or project is None or check is None:
            return
        check.adopt(history.version)
        runs = list(history.runs)
        try:  # labels written since the read: the check errs on the safe side (stale)
            stale = check.stale_ids(runs) if not check.needs_digest(runs) else set(history.stale)
        except StoreError as exc:
            self.error.emit(str(exc))
            return
        panel.show_history(runs, stale)
        if self.is_running():
            panel.show_stale_warning(any(r.id in stale for r in runs if r.status is RunStatus.RUNNING))
        elif self._finished_run is not None:
            panel.show_stale_warning(self._finished_run in stale)
            self._finished_run = None
        if history.curves is not None and not panel.curves.names():  # on open: the last run's curves
            panel.show_curves(history.curves, history.curves_run)
        self.history_shown.emit()

    @Slot(object)
    def _on_history_failed(self, exc: object) -> None:
        self.error.emit(f"Cannot read the run history: {exc}")

    @Slot(object)
    def _on_labels_changed(self, _image_ids: object) -> None:
        """Labels or masks changed: marks the runs they make stale, and warns when the run
        in progress trains on labels older than these."""
        project, panel, check = self._session.project, self._panel, self._stale_check
        if project is None or check is None:
            return
        running = self.is_running()
        try:  # while a job runs, its run row (and the snapshot it took) is in the store
            runs = project.runs.list() if running else panel.runs()
            if check.needs_digest(runs):  # a run newer than the digest: read it all again, off this thread
                self._history.request()
                return
            stale = check.stale_ids(runs)
        except StoreError as exc:
            self.error.emit(str(exc))
            return
        panel.mark_stale(stale)
        if running:
            panel.show_stale_warning(any(r.id in stale for r in runs if r.status is RunStatus.RUNNING))

    @Slot(object)
    def _on_session_opened(self, project: Project) -> None:
        self._stale_check = StaleCheck(project)
        self._panel.set_project(project)
        self._history.set_root(project.root)
        self.show_history()

    @Slot()
    def _on_session_closed(self) -> None:
        if not self.is_running():
            self._worker.close()  # a new project gets a fresh worker
        self._stale_check = None
        self._history.set_root(None)
        self._finished_run = None
        self._panel.set_project(None)
        self._panel.show_history([])
        self._panel.show_stale_warning(False)

    # -- results ---------------------------------------------------------------------------------
    def _announce(self, result: object, took: str) -> None:
        """The status line; new heat maps when a detector run ended."""
        if self._session.project is None:
            return
        if getattr(result, "run", None) is None:
            self.message.emit("Training cancelled; nothing was kept.")
        else:  # a retrain cancelled in the defect detector keeps the classifier run before it
            cancelled = "Training cancelled. " if getattr(result, "cancelled", False) else ""
            self.message.emit(cancelled + finished_message(result, took))
        detector = getattr(result, "segdec", None)
        if detector is not None and detector.run is not None:
            self.detector_updated.emit()

    def _show_runs(self, result: object) -> None:
        """The new runs in the panel's history (at once; the exact stale marks follow)."""
        if self._session.project is None:
            return
        run = getattr(result, "run", None)
        self._panel.add_runs(result_runs(result))
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
        self.threshold_moved.emit()
        self.message.emit(
            f"Run #{run.id}: defect threshold {_figure(run.metrics.get('threshold'))} ({how}); "
            "the next retrain aims at the same.")
