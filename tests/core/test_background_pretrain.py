"""Pretraining that continues in the background (core/training/background_pretrain.py): it
pauses for a retrain, the retrain uses its newest checkpoint, and it resumes where it paused."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Generator
from pathlib import Path

import numpy as np
import pytest
import torch

from core.jobs import Progress, drain
from core.jobs.runs import load_checkpoint
from core.store import Project, RunKind
from core.training import ClassifyRequest, PretrainRequest, latest_pretrain_run, retrain_job
from core.training.background_pretrain import (
    CHECKPOINT_PHASE,
    PHASE,
    STATE_FILE,
    BackgroundPretrainRequest,
    background_pretrain_job,
    resume_path,
)
from core.training.encoder_status import describe_encoder, encoder_line, loss_trend


def run_until(job: Generator, cancel: threading.Event, stop_when: Callable[[Progress], bool],
              records: list[Progress]):
    """Drives ``job`` until a record satisfies ``stop_when``, sets ``cancel`` (a retrain is
    starting) and drains the rest; the job's result."""
    while True:
        record = next(job)
        records.append(record)
        if stop_when(record):
            break
    cancel.set()
    return drain(job, records.append)


@pytest.fixture()
def project_root(tmp_path: Path, small_classifier_project: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(small_classifier_project, root)
    return root


def test_pauses_for_a_retrain_which_uses_its_checkpoint_then_resumes(project_root: Path) -> None:
    request = BackgroundPretrainRequest(project_root=project_root, checkpoint_minutes=0, chunk_steps=2,
                                        check_battery=False)
    cancel, records = threading.Event(), []
    paused = run_until(background_pretrain_job(request, cancel), cancel,
                       lambda r: r.phase == PHASE and any(p.phase == CHECKPOINT_PHASE for p in records), records)
    after_cancel = records[[k for k, r in enumerate(records) if r.phase == CHECKPOINT_PHASE][0] + 2:]
    assert paused.stopped == "paused" and not [r for r in after_cancel if r.phase == PHASE]  # no step after it
    assert len(paused.runs) == 1
    checkpoint = paused.runs[0]
    with Project.open(project_root) as project:
        base = project.runs.get(1)
        assert checkpoint.method == base.method and checkpoint.config["continues"] == 1
        assert checkpoint.metrics["epochs"] > base.metrics["epochs"]
        assert [point[0] for point in checkpoint.metrics["loss_history"]] == [base.metrics["epochs"],
                                                                               checkpoint.metrics["epochs"]]
        assert latest_pretrain_run(project).id == checkpoint.id
        old, new = project.runs_dir / "1", project.runs_dir / str(checkpoint.id)
        assert np.array_equal(np.load(old / "texture.npy"), np.load(new / "texture.npy"))  # reused
        assert not np.allclose(np.load(old / "embeddings.npy"), np.load(new / "embeddings.npy"))
        changed = load_checkpoint(project, checkpoint)["state_dict"]
        assert any(not torch.equal(v, changed[k]) for k, v in load_checkpoint(project, base)["state_dict"].items())
        assert resume_path(project).exists()
    assert paused.epochs > checkpoint.metrics["epochs"]  # a step after the checkpoint, kept by the resume point

    retrained = drain(retrain_job(PretrainRequest(project_root=project_root, encoder="shufflenet", size=48, epochs=1,
                                                  batch_size=16, workers=1),
                                  ClassifyRequest(project_root=project_root, epochs=10)))
    assert retrained.pretrain is None and retrained.embedded is None  # the encoder was reused, not retrained
    assert retrained.classify.run.config["pretrain_run"] == checkpoint.id

    again = BackgroundPretrainRequest(project_root=project_root, minutes=0, chunk_steps=2, check_battery=False)
    resumed_records: list[Progress] = []
    resumed = drain(background_pretrain_job(again), resumed_records.append)
    first_step = next(r for r in resumed_records if r.phase == PHASE)
    assert first_step.epoch > paused.epochs  # from the resume point, not from the checkpoint before it
    assert resumed.stopped == "time up" and len(resumed.runs) == 1
    last = resumed.runs[0]
    assert last.config["continues"] == checkpoint.id and len(last.metrics["loss_history"]) == 3
    with Project.open(project_root) as project:
        assert latest_pretrain_run(project).id == last.id
        state = [(project.runs_dir / str(r) / STATE_FILE).exists() for r in (1, checkpoint.id, last.id)]
        assert state == [True, False, True]  # the pretraining's model, and the newest checkpoint's state
        assert [r.id for r in project.runs.finished(RunKind.PRETRAIN)][:2] == [last.id, checkpoint.id]


def test_without_an_encoder_it_does_nothing(tmp_path: Path) -> None:
    from core.demo_project import create_demo_project

    create_demo_project(tmp_path / "p", n_images=6, size=64, workers=1)
    result = drain(background_pretrain_job(BackgroundPretrainRequest(project_root=tmp_path / "p",
                                                                     check_battery=False)))
    assert result.stopped == "no encoder" and result.runs == ()


def test_the_encoder_line() -> None:
    assert describe_encoder(34.4, 2.912, [[20, 3.2], [34.4, 2.912]]) == "encoder: 34 epochs, loss 2.91, improving"
    assert loss_trend([[20, 3.0], [30, 2.99]]) == "levelled off"
    assert loss_trend([[20, 3.0]]) == "" and encoder_line(None).startswith("encoder: none yet")


def test_images_imported_after_the_encoder_are_taken_in(tmp_path: Path, small_classifier_project: Path) -> None:
    from core.demo import write_dataset
    from core.importing.importer import ImportOptions, import_folder

    root = tmp_path / "project"
    shutil.copytree(small_classifier_project, root)
    new = write_dataset(tmp_path / "arrived", n_images=6, seed=99, size=64, layout="flat", workers=1)
    with Project.open(root) as project:
        assert import_folder(project, Path(new.root) / "images", ImportOptions(workers=1)).added == 6
        assert latest_pretrain_run(project) is None  # the encoder does not cover them yet
    request = BackgroundPretrainRequest(project_root=root, minutes=0, chunk_steps=1, check_battery=False)
    result = drain(background_pretrain_job(request))
    assert result.stopped == "time up" and len(result.runs) == 1
    with Project.open(root) as project:
        assert latest_pretrain_run(project).id == result.run.id  # now it covers every image
        folder, base = project.runs_dir / str(result.run.id), project.runs_dir / "1"
        ids, texture = np.load(folder / "ids.npy"), np.load(folder / "texture.npy")
        assert ids.tolist() == project.images.ids().tolist() and np.isfinite(texture).all()
        old = np.isin(ids, np.load(base / "ids.npy"))
        assert old.sum() == len(ids) - 6 and np.array_equal(texture[old], np.load(base / "texture.npy"))
        assert not np.allclose(texture[~old], 0.0)  # computed for the new images


def test_training_time_before_a_pause_counts_towards_the_next_checkpoint(project_root: Path) -> None:
    request = BackgroundPretrainRequest(project_root=project_root, checkpoint_minutes=60, chunk_steps=2,
                                        check_battery=False)
    trained = []
    for _ in range(2):  # two short sessions, each paused after its first step
        cancel = threading.Event()
        result = run_until(background_pretrain_job(request, cancel), cancel, lambda r: r.phase == PHASE, [])
        assert result.stopped == "paused" and result.runs == ()
        with Project.open(project_root) as project:
            trained.append(float(torch.load(resume_path(project), weights_only=True)["trained_s"]))
    assert 0.0 < trained[0] < trained[1]
