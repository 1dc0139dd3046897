"""Contrastive pretraining as a job: a short real run, its checkpoint and embeddings, cancel, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from core.demo_project import create_demo_project
from core.jobs import drain
from core.jobs.runs import load_checkpoint
from core.media.pixel_cache import open_pixel_cache
from core.store import Project, RunStatus
from core.training import PretrainRequest, load_embeddings, pretrain_job
from core.training.pretrain import _cache_size


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pretrain") / "project"
    create_demo_project(root, n_images=48, size=64, workers=1)
    return root


def request(root: Path, **kw: object) -> PretrainRequest:
    base = dict(project_root=root, encoder="shufflenet", size=48, epochs=2, batch_size=16, workers=1)
    return PretrainRequest(**{**base, **kw})


def test_a_short_run_saves_an_encoder_that_reproduces_its_embeddings(demo: Path) -> None:
    records = []
    result = drain(pretrain_job(request(demo)), records.append)
    assert not result.cancelled and result.run.status is RunStatus.DONE
    phases = [r.phase for r in records]
    assert phases.index("pretraining") < phases.index("embedding")
    steps = [r for r in records if r.phase == "pretraining"]
    assert steps[-1].step == steps[-1].total == 2 * (48 // 16)
    assert {r.unit for r in steps} == {"batch"}  # what step counts, for the command line's bar
    assert {r.unit for r in records if r.phase in ("decoding images", "embedding")} == {"image"}
    assert all(np.isfinite(r.losses["contrastive loss"]) for r in steps)
    with Project.open(demo) as project:
        ids, embeddings = load_embeddings(project, result.run)
        assert embeddings.shape == (48, 128) and np.allclose(np.linalg.norm(embeddings, axis=1), 1, atol=1e-4)
        assert sorted(ids.tolist()) == [i.id for i in project.images.list()]
        checkpoint = load_checkpoint(project, result.run)
        cache = open_pixel_cache(project, _cache_size(48))
    from models.encoders import create_encoder
    from models.ssl import embed_images, prepare_images

    encoder = create_encoder(checkpoint["config"]["encoder"], in_channels=1)
    encoder.load_state_dict(checkpoint["state_dict"])
    again = embed_images(encoder, prepare_images(torch.from_numpy(np.array(cache.pixels[:8]))[:, None], size=48))
    assert np.allclose(again.numpy(), embeddings[:8], atol=1e-4)


def test_cancel_mid_run_leaves_no_run_behind(demo: Path) -> None:
    cancel = threading.Event()
    job = pretrain_job(request(demo, epochs=50), cancel)
    for record in job:
        if record.phase == "pretraining" and record.step == 2:
            cancel.set()
            break
    result = drain(job)
    assert result.cancelled and result.run is None
    with Project.open(demo) as project:
        last = project.runs.list()[-1]
        assert last.status is RunStatus.CANCELLED
        assert not (project.runs_dir / str(last.id)).exists()
        assert not list(project.runs_dir.glob("*.partial"))


def test_train_from_the_command_line(demo: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "labelapp", "train", str(demo), "--method", "ssl", "--ssl", "nnclr",
         "--epochs", "1", "--size", "48", "--batch-size", "16", "--json"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(result.stdout)
    assert data["status"] == "done" and np.isfinite(data["metrics"]["loss"])
    with Project.open(demo) as project:
        assert project.runs.get(data["run"]).method == "pretrain-nnclr"


def test_retrain_reuses_the_encoder_and_predicts_every_image(demo: Path, label_from_truth) -> None:
    from core.training import ClassifyRequest, retrain_job

    label_from_truth(demo, 20)
    with Project.open(demo) as project:
        runs_before = len(project.runs.list())
    result = drain(retrain_job(request(demo), ClassifyRequest(project_root=demo, epochs=20)))
    assert result.pretrain is None  # an encoder covering these images exists: reused
    assert result.classify is not None and result.classify.run.status is RunStatus.DONE
    with Project.open(demo) as project:
        assert len(project.runs.list()) == runs_before + 1
        run_id = project.predictions.latest_run()
        assert run_id == result.classify.run.id
        assert project.predictions.count(run_id) == project.images.count()
        first = project.predictions.get(project.images.list()[0].id)
        assert first.class_id in result.classify.run.config["classes"]
        assert abs(float(first.probabilities.sum()) - 1.0) < 1e-4 and 0.0 <= first.uncertainty <= 1.0


def test_large_projects_get_fewer_epochs_so_the_first_retrain_ends_in_minutes(tmp_path: Path) -> None:
    base = PretrainRequest(project_root=tmp_path, epochs=20)
    assert base.epochs_for(1_000) == 20
    assert base.epochs_for(30_000) == 5
    assert base.epochs_for(100_000) == 1 and base.epochs_for(10_000_000) == 1
    assert PretrainRequest(project_root=tmp_path, epochs=0).epochs_for(100) == 0  # the random-init control


def test_cli_retrain_can_pretrain_again_and_take_the_thorough_path(demo: Path, label_from_truth) -> None:
    label_from_truth(demo, 20)
    with Project.open(demo) as project:
        before = [r.method for r in project.runs.list()]
    result = subprocess.run(
        [sys.executable, "-m", "labelapp", "train", str(demo), "--pretrain-again", "--thorough", "2",
         "--epochs", "1", "--size", "48", "--batch-size", "16", "--no-segdec"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "cross-validated on" in result.stdout
    lines = result.stdout.splitlines()  # one summary line per step, pretraining included
    assert [line.split(":")[0] for line in lines[:4]] == ["pretraining", "classifier", "defect detector", "suggestions"]
    assert lines[0].startswith("pretraining: run ") and "1 epoch," in lines[0]
    assert lines[2] == "defect detector: skipped, --no-segdec"
    with Project.open(demo) as project:
        runs = project.runs.list()
        assert [r.method for r in runs] == [*before, "pretrain-simclr", "classifier"]
        assert runs[-1].config["finetune_steps"] == 2 and runs[-1].config["pretrain_run"] == runs[-2].id
