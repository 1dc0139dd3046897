"""One progress for a job made of stages, how a retrain plans its stages, and the training curves a run keeps."""

from __future__ import annotations

import math

import pytest

from core.jobs import RunRecorder, take_snapshot
from core.jobs.base import Progress
from core.jobs.curves import EPOCH, MINUTES, CurveLog
from core.jobs.stages import Stage, StagedProgress
from core.store import ClassKind, NewImage, Project
from core.training import ClassifyRequest, SegDecRequest
from core.training.plan import retrain_stages


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def training(clock: Clock, steps: int, step_s: float, tail_steps: int = 0):
    """A stage's job: a training phase that reports its own ETA, then a tail phase (embedding)."""
    for step in range(1, steps + 1):
        clock.now += step_s
        yield Progress(phase="training", step=step, total=steps, eta_s=(steps - step) * step_s)
    for step in range(1, tail_steps + 1):
        clock.now += step_s
        yield Progress(phase="embedding", step=step, total=tail_steps)
    return "trained"


def opaque(clock: Clock, seconds: float, step_s: float = 0.5):
    """A stage's job that says nothing of how far it got."""
    for _ in range(int(seconds / step_s)):
        clock.now += step_s
        yield Progress(phase="thinking", step=0, total=0)
    return "thought"


def run_stages(clock: Clock, stages: list[Stage], jobs) -> tuple[list[Progress], list[object], list[float]]:
    """The records of the staged job, the stages' results, and when each record came."""
    staged = StagedProgress(stages, clock=clock)
    results: list[object] = []

    def whole():
        for index, job in enumerate(jobs):
            results.append((yield from staged.run(index, job)))
        yield staged.done()

    records, times = [], []
    for record in whole():
        records.append(record)
        times.append(clock.now)
    return records, results, times


@pytest.mark.parametrize("scale", [0.3, 1.0, 3.0])  # the stages took a third, exactly, three times their estimates
def test_one_progress_across_stages_rises_to_the_end_with_a_sane_time_left(scale: float) -> None:
    clock = Clock()
    stages = [Stage("Pretraining", 160.0, main_phase="training", tail_s=32.0), Stage("Classifier", 80.0),
              Stage("Suggestions", 16.0)]
    records, results, times = run_stages(clock, stages, [
        training(clock, 256, 0.5 * scale, tail_steps=64), opaque(clock, 80.0 * scale, step_s=0.5 * scale),
        opaque(clock, 16.0 * scale, step_s=0.5 * scale)])
    assert results == ["trained", "thought", "thought"]
    overall = [r.overall for r in records]
    assert all(b >= a for a, b in zip(overall, overall[1:], strict=False))  # never goes back
    assert overall[-1] == 1.0 and max(overall[:-1]) < 1.0
    assert [r.stage for r in records[:320]] == ["Pretraining"] * 320 and records[-2].stage == "Suggestions"
    assert all(r.stages == ("Pretraining", "Classifier", "Suggestions") for r in records)
    etas = [r.eta_s for r in records]
    assert all(e is not None and math.isfinite(e) and e >= 0.0 for e in etas)
    for (a, at), (b, bt) in zip(zip(etas, times, strict=True), zip(etas[1:-1], times[1:], strict=False),
                                strict=False):  # no wild jumps: beyond counting down, a fifth at most
        assert abs(b - (a - (bt - at))) <= 0.2 * a + 2.0, (at, a, b)
    total = clock.now
    for record, at in zip(records[:-1], times, strict=False):
        left = total - at
        if scale == 1.0 and at > 0.1 * total:  # estimates that were right: the time left is right
            assert record.eta_s == pytest.approx(left, rel=0.25, abs=3.0)
        elif at > 0.5 * total:  # estimates 3x off: the pace seen so far corrects most of it
            assert left / 3 - 6.0 <= record.eta_s <= 3 * left + 6.0, (at, record.eta_s, left)


def test_a_stage_past_its_estimate_never_shows_nothing_left_and_the_bar_creeps_on() -> None:
    clock = Clock()
    records, _, _ = run_stages(clock, [Stage("Classifier", 10.0)], [opaque(clock, 60.0, step_s=1.0)])
    late = [r for r in records[:-1] if r.overall > 0.5]
    assert min(r.eta_s for r in records[30:-1]) > 2.0  # a stage at 3x its estimate still has time left
    assert late[-1].overall > late[len(late) // 2].overall  # still moving, below the end
    assert records[-1].overall == 1.0


def test_curves_run_against_epochs_or_minutes_and_survive_a_save() -> None:
    clock = Clock()
    log = CurveLog(clock=clock)
    for step in range(1, 11):
        clock.now += 3.0
        log.add(Progress(phase="pretraining", step=step, total=10, losses={"contrastive loss": 5.0 / step},
                         metrics={"contrastive accuracy": step / 10}, epoch=step / 5))
    log.add(Progress(phase="pretraining", step=10, total=10, losses={"contrastive loss": float("nan")}, epoch=2.0))
    clock.now += 60.0
    log.add(Progress(phase="classifier", step=1, total=1, metrics={"validation accuracy": 0.8}))
    clock.now += 30.0
    log.add(Progress(phase="classifier", step=1, total=1, metrics={"validation accuracy": 0.9}))
    assert log.unit("pretraining") == EPOCH and log.unit("classifier") == MINUTES
    loss = log.curves["pretraining", "contrastive loss"]
    assert loss.xs == pytest.approx([k / 5 for k in range(1, 11)]) and len(loss.ys) == 10  # NaN left out
    assert log.curves["classifier", "validation accuracy"].xs == pytest.approx([0.0, 0.5])  # minutes
    assert not log.dotted(loss) and log.dotted(log.curves["classifier", "validation accuracy"]) is False
    back = CurveLog.from_json(log.to_json(max_points=4))
    thinned = back.curves["pretraining", "contrastive loss"]
    assert len(thinned.xs) == 4 and thinned.ys[0] > thinned.ys[-1]  # bucket means keep the shape
    assert back.phases() == ["pretraining", "classifier"] and back.unit("pretraining") == EPOCH
    with pytest.raises(ValueError):
        CurveLog.from_json({"phases": [{"phase": "x"}]})


def test_a_retrain_is_planned_from_the_runs_of_its_kind_before_it(tmp_path) -> None:
    who = {"actor": "t", "source": "test"}
    with Project.create(tmp_path / "p") as project:
        project.classes.add("ok", kind=ClassKind.OK, **who)
        project.classes.add("scratch", **who)
        project.images.add_many([NewImage(path=f"{i}.png", hash=f"h{i}", width=8, height=8, channels=1, bit_depth=8,
                                          mode="L", gray=True, file_size=1, mtime=0.0) for i in range(40)])
        project.labels.apply([(i, "ok" if i % 2 else "scratch") for i in range(1, 21)], **who)
        snapshot = take_snapshot(project)
        requests = {"classify": ClassifyRequest(project_root=project.root),
                    "segdec": SegDecRequest(project_root=project.root, max_epochs=2)}
        first = retrain_stages(project, snapshot, **requests)
        assert list(first) == ["classify", "segdec", "suggest"]
        assert [s.name for s in first.values()] == ["Classifier", "Defect detector", "Suggestions"]
        assert all(s.seconds > 0 for s in first.values()) and first["segdec"].main_phase == "defect detector"
        for method, metrics in (("classifier", {"seconds": 30.0, "labeled": 10}),
                                ("segdec", {"seconds": 50.0, "prediction_reserve_s": 20.0, "warm_from": None})):
            with RunRecorder(project, method=method, config={"device": "cpu"}, snapshot=snapshot,
                             seed=0) as recorder:
                recorder.finish(metrics=metrics)
        second = retrain_stages(project, snapshot, **requests)
        assert second["classify"].seconds == pytest.approx(60.0, abs=0.1)  # twice the labels of the last one
        assert second["segdec"].seconds == pytest.approx(70.0) and second["segdec"].tail_s == pytest.approx(20.0)
        skipped = retrain_stages(project, snapshot, suggest=False)
        assert skipped == {}
