"""Training in its own process: progress and results through the same signals, cancel of
a job that ignores it, a worker killed mid-run, and no process left behind."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import worker_jobs
from PySide6.QtCore import QSettings

from core.jobs.worker import JobCall, WorkerDied, WorkerProcess
from core.store import Project, RunStatus
from labelapp.jobs.process_runner import WorkerJobRunner, WorkerStopped
from labelapp.session.project_session import ProjectSession
from labelapp.training.controller import TrainingController
from labelapp.training.panel import TrainingPanel

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="signals and /proc: Linux")


def alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


@pytest.fixture
def controller(qtbot, tmp_path: Path):
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    session = ProjectSession()
    runner = TrainingController(panel, session, QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    yield runner
    runner.shutdown()
    session.close()


def test_a_job_runs_in_the_worker_and_reports_through_the_same_signals(qtbot, controller) -> None:
    with qtbot.waitSignal(controller.run_finished, timeout=60_000) as blocker:
        controller.start(JobCall(worker_jobs.least_squares, (300,)), title="fitting")
    result = blocker.args[0]
    assert result["error"] < 0.05 and result["pid"] != os.getpid() and result["pid"] == controller.worker_pid()
    assert result["niceness"] > os.nice(0)  # below the window's priority
    values = controller._panel.curve_values("fit: mse")
    assert len(values) >= 2 and values[-1] < values[0]
    pid = result["pid"]
    with qtbot.waitSignal(controller.run_finished, timeout=60_000) as blocker:  # the worker is reused
        controller.start(JobCall(worker_jobs.least_squares, (5,)), title="again")
    assert blocker.args[0]["pid"] == pid


def test_cancel_of_a_job_that_ignores_it_terminates_the_worker(qtbot) -> None:
    worker = WorkerProcess(threads=1)
    runner = WorkerJobRunner(JobCall(worker_jobs.stubborn), worker, cancel_grace_s=1.0)
    progressed: list[object] = []
    runner.progressed.connect(progressed.append)
    runner.start()
    qtbot.waitUntil(lambda: bool(progressed), timeout=60_000)
    pid = worker.pid
    started = time.monotonic()
    with qtbot.waitSignal(runner.failed, timeout=10_000) as blocker:
        runner.cancel()
    assert isinstance(blocker.args[0], WorkerStopped) and "cancelled" in str(blocker.args[0])
    assert time.monotonic() - started < 5.0 and not alive(pid)
    worker.close()


def test_a_worker_killed_mid_run_is_reported_the_run_failed_and_the_next_job_succeeds(
        qtbot, tmp_path: Path, controller) -> None:
    root = tmp_path / "project"
    Project.create(root).close()
    controller._session.open(root)
    failed: list[object] = []
    controller.run_failed.connect(failed.append)
    errors: list[str] = []
    controller.error.connect(errors.append)
    progressed: list[object] = []
    controller.start(JobCall(worker_jobs.recorded_run, (root,)), title="recording")
    controller._runner.progressed.connect(progressed.append)
    qtbot.waitUntil(lambda: bool(progressed), timeout=60_000)
    run_id = int(progressed[-1].message.split()[1])
    os.kill(controller.worker_pid(), signal.SIGKILL)
    qtbot.waitUntil(lambda: bool(failed), timeout=10_000)
    assert isinstance(failed[0], WorkerDied) and "killed (SIGKILL), probably out of memory" in str(failed[0])
    assert errors and errors[-1].startswith("Training stopped: the worker was killed")
    assert "nothing was lost" in errors[-1]
    with Project.open(root) as project:
        assert project.runs.get(run_id).status is RunStatus.FAILED
    assert not (root / "runs" / f"{run_id}.partial").exists()
    with qtbot.waitSignal(controller.run_finished, timeout=60_000) as blocker:  # a fresh worker
        controller.start(JobCall(worker_jobs.least_squares, (5,)), title="again")
    assert blocker.args[0]["error"] >= 0


def test_no_worker_remains_after_the_window_closes(qtbot, open_window, tmp_path: Path, monkeypatch) -> None:
    from core.demo_project import create_demo_project

    template = tmp_path / "template"
    create_demo_project(template, n_images=6, size=48, workers=1)
    window = open_window(template)
    progressed: list[object] = []
    window.training.start(JobCall(worker_jobs.stubborn), title="stubborn")
    window.training._runner.progressed.connect(progressed.append)
    qtbot.waitUntil(lambda: bool(progressed), timeout=60_000)
    pid = window.training.worker_pid()
    asked: list[bool] = []
    monkeypatch.setattr(window.training, "confirm_stop", lambda parent: asked.append(True) or False)
    window.close()  # the user says No: the window stays and the job goes on
    assert asked and window.isVisible() and alive(pid)
    monkeypatch.setattr(window.training, "confirm_stop", lambda parent: True)
    started = time.monotonic()
    window.close()
    assert not window.isVisible() and time.monotonic() - started < 5.0
    assert not alive(pid) and not multiprocessing.active_children()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().split(")")[-1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def test_killing_simulate_leaves_no_worker_processes(demo_folders, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "labelapp", "simulate", "--images", str(demo_folders.root / "images"),
               "--out", str(tmp_path / "sim"), "--strategy", "random", "typicality", "--per-class", "1", "2",
               "--seeds", "2", "--workers", "2", "--ssl-epochs", "1", "--size", "48"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(_children(process.pid)) < 2 and process.poll() is None:
            time.sleep(0.2)
        pool = _children(process.pid)
        assert process.poll() is None and len(pool) >= 2, "the simulator's pool did not start"
        process.kill()
        process.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(alive(p) for p in pool):
            time.sleep(0.1)
        assert not [p for p in pool if alive(p)]
    finally:
        if process.poll() is None:
            process.kill()


def test_thinning_progress_keeps_every_metric_point(qtbot) -> None:
    worker = WorkerProcess(threads=1)
    runner = WorkerJobRunner(JobCall(worker_jobs.burst), worker)
    records: list[object] = []
    runner.progressed.connect(records.append)
    with qtbot.waitSignal(runner.finished, timeout=60_000):
        runner.start()
    assert len(records) < 200  # thinned: 200 records in well under a second
    assert [r.metrics["metric"] for r in records if r.metrics] == [float(s) for s in range(19, 200, 20)]
    worker.close()
