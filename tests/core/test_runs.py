"""Run records: complete or gone, one training at a time, interrupted runs recovered."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from core.jobs import JobCancelled, Progress, RunRecorder, drain, recover_interrupted_runs, take_snapshot
from core.jobs.base import check_cancel
from core.jobs.runs import TrainingBusyError, load_checkpoint
from core.store import ClassKind, NewImage, PredictionState, Project, RunKind, RunStatus

WHO = {"actor": "t", "source": "test"}


@pytest.fixture()
def project(project_dir: Path) -> Project:
    p = Project.create(project_dir)
    p.classes.add("ok", kind=ClassKind.OK, **WHO)
    p.classes.add("scratch", **WHO)
    p.images.add_many([NewImage(path=f"{i}.png", hash=f"h{i}", width=4, height=4, channels=1, bit_depth=8,
                                mode="L", gray=True, file_size=1, mtime=0.0) for i in range(4)])
    p.labels.apply([(1, "ok"), (2, "scratch")], **WHO)
    yield p
    p.close()


def record(project: Project, **kw: object) -> RunRecorder:
    return RunRecorder(project, method="test", config={"lr": 0.1}, snapshot=take_snapshot(project), seed=3, **kw)


def test_a_finished_run_has_its_folder_checkpoint_and_metrics(project: Project) -> None:
    weights = {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3)}
    with record(project) as run:
        run.save_checkpoint(weights, config={"lr": 0.1})
        assert run.partial_dir.is_dir() and not run.final_dir.exists()
        done = run.finish(metrics={"accuracy": 0.75})
    assert done.status is RunStatus.DONE and done.metrics == {"accuracy": 0.75} and done.seed == 3
    assert done.label_snapshot["classes"] == {"ok": 1, "scratch": 1}
    folder = project.runs_dir / str(done.id)
    assert sorted(p.name for p in folder.iterdir()) == ["labels.json", "metrics.json", "model.pt"]
    loaded = load_checkpoint(project, done)
    assert torch.equal(loaded["state_dict"]["w"], weights["w"]) and loaded["config"] == {"lr": 0.1}
    assert not list(project.runs_dir.glob("*.partial"))


@pytest.mark.parametrize("error", [JobCancelled("stop"), RuntimeError("boom")])
def test_cancelled_or_failed_runs_leave_nothing_behind(project: Project, error: Exception) -> None:
    expected = pytest.raises(RuntimeError) if isinstance(error, RuntimeError) else contextlib.nullcontext()
    with expected:
        with record(project) as run:
            run.save_checkpoint({"w": torch.ones(2)}, config={})
            raise error
    (only,) = project.runs.list()
    assert only.status is (RunStatus.CANCELLED if isinstance(error, JobCancelled) else RunStatus.FAILED)
    if isinstance(error, RuntimeError):
        assert "boom" in only.metrics["error"]
    assert [p.name for p in project.runs_dir.iterdir() if not p.name.startswith(".")] == []


CHILD = """
import sys, torch
from core.jobs import RunRecorder, take_snapshot
from core.store import Project
project = Project.open(sys.argv[1])
with RunRecorder(project, method="child", config={}, snapshot=take_snapshot(project), seed=0) as run:
    run.save_checkpoint({"w": torch.ones(3)}, config={})
    print(run.run.id, flush=True)
    sys.stdin.readline()  # killed here, mid-run
"""


def test_a_killed_run_is_recovered_and_training_is_one_at_a_time(project: Project) -> None:
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(CHILD), str(project.root)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": os.getcwd()})
    run_id = int(child.stdout.readline())
    with pytest.raises(TrainingBusyError):  # the child trains: no second job
        with record(project):
            pass
    assert recover_interrupted_runs(project) == []  # alive: untouched
    assert project.runs.get(run_id).status is RunStatus.RUNNING
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert recover_interrupted_runs(project) == [run_id]
    assert project.runs.get(run_id).status is RunStatus.FAILED
    assert not (project.runs_dir / f"{run_id}.partial").exists()
    with record(project) as run:  # the lock died with the child
        run.finish(metrics={})


def test_snapshot_digest_follows_labels(project: Project) -> None:
    before = take_snapshot(project)
    assert before.labels == ((1, 1), (2, 2)) and before.counts() == {"ok": 1, "scratch": 1}
    assert take_snapshot(project).digest == before.digest
    project.labels.set(3, "scratch", **WHO)
    assert take_snapshot(project).digest != before.digest
    assert before.ok_class_ids() == {1}


def test_drain_and_cancel_between_steps() -> None:
    cancel = threading.Event()

    def job():
        for step in range(10):
            check_cancel(cancel)
            yield Progress(phase="train", step=step + 1, total=10, losses={"loss": 1.0 / (step + 1)})
        return "done"

    seen: list[Progress] = []
    assert drain(job(), seen.append) == "done"
    assert [p.step for p in seen] == list(range(1, 11)) and seen[-1].fraction == 1.0
    gen = job()
    next(gen)
    cancel.set()
    with pytest.raises(JobCancelled):
        next(gen)


def test_a_run_that_streams_is_done_first_and_ends_complete_or_partial(project: Project) -> None:
    with record(project) as run:
        done = run.finish(metrics={"threshold": 0.4}, streaming=True)
        assert done.status is RunStatus.DONE and done.prediction_state is PredictionState.STREAMING
        assert run.final_dir.is_dir() and run.stream_dir.is_dir() and not run.partial_dir.exists()
        assert recover_interrupted_runs(project) == []  # its stream is alive
        (run.stream_dir / "heat.bin").write_bytes(b"x")
        run.publish("heat.bin")  # a file written while streaming moves in whole
        ended = run.end_streaming()
    assert ended.prediction_state is PredictionState.COMPLETE and (run.final_dir / "heat.bin").exists()
    assert not run.stream_dir.exists()
    with record(project) as run:
        run.finish(metrics={}, streaming=True)
        project.predictions.add(run.run.id, np.array([1, 2]), None, np.ones(2), None, defect_probability=np.ones(2))
        raise JobCancelled("stop")
    stopped = project.runs.get(run.run.id)
    assert stopped.status is RunStatus.DONE and stopped.prediction_state is PredictionState.PARTIAL
    assert project.predictions.count(stopped.id) == 2 and not run.stream_dir.exists()


STREAMING_CHILD = """
import sys, numpy as np
from core.jobs import RunRecorder, take_snapshot
from core.store import Project
project = Project.open(sys.argv[1])
with RunRecorder(project, method="segdec", config={}, snapshot=take_snapshot(project), seed=0) as run:
    run.finish(metrics={}, streaming=True)
    project.predictions.add(run.run.id, np.array([1]), None, np.ones(1), None, defect_probability=np.ones(1))
    print(run.run.id, flush=True)
    sys.stdin.readline()  # killed here, while streaming
"""


def test_a_run_killed_while_streaming_is_marked_partial(project: Project) -> None:
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(STREAMING_CHILD), str(project.root)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": os.getcwd()})
    run_id = int(child.stdout.readline())
    assert recover_interrupted_runs(project) == []  # alive: untouched
    assert project.runs.get(run_id).predicting
    assert project.predictions.latest_run(RunKind.SEGDEC) == run_id  # shown while it streams
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert recover_interrupted_runs(project) == [run_id]
    run = project.runs.get(run_id)
    assert run.status is RunStatus.DONE and run.prediction_state is PredictionState.PARTIAL
    assert project.predictions.count(run_id) == 1 and project.predictions.latest_run(RunKind.SEGDEC) == run_id
    assert not (project.runs_dir / f"{run_id}.predicting").exists()
