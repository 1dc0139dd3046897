"""The classifier run rebuilt as one module reproduces the app's predictions; validation metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from core.jobs import drain
from core.media.pixel_cache import open_pixel_cache
from core.store import Project
from core.training import ClassifyRequest
from core.training.classify import validation_metrics
from core.training.model_io import load_classifier


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, train_small_classifier) -> Path:
    return train_small_classifier(tmp_path_factory.mktemp("classifier") / "project")


def test_rebuilt_module_matches_the_stored_predictions(trained: Path) -> None:
    with Project.open(trained) as project:
        loaded = load_classifier(project)
        cache = open_pixel_cache(project, loaded.input_size)
        ids = cache.ids[:12]
        stored = np.stack([project.predictions.get(int(i), loaded.run.id).probabilities for i in ids])
    with torch.no_grad():
        again = loaded.module(torch.from_numpy(np.array(cache.pixels[:12]))[:, None]).numpy()
    assert again.shape == stored.shape == (12, len(loaded.class_names))
    assert np.abs(again - stored).max() < 1e-4


def test_classifier_run_records_out_of_fold_validation(trained: Path) -> None:
    with Project.open(trained) as project:
        run = load_classifier(project).run
    validation = run.metrics["validation"]
    n = len(validation["classes"])
    matrix = np.array(validation["confusion"])
    assert matrix.shape == (n, n) and matrix.sum() == validation["n"] > 0
    assert validation["accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum())


def test_validation_metrics_by_hand() -> None:
    truth = np.array([0, 0, 1, 1, 2])
    predicted = np.array([0, 1, 1, 1, 2])
    m = validation_metrics(truth, predicted, ["a", "b", "c"])
    assert m["confusion"] == [[1, 1, 0], [0, 2, 0], [0, 0, 1]]
    assert m["accuracy"] == pytest.approx(0.8)
    # F1: a = 2/3, b = 0.8, c = 1
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.8 + 1.0) / 3)


def test_the_thorough_path_fine_tunes_the_encoder_and_exports_it(trained: Path) -> None:
    from core.jobs.runs import load_checkpoint
    from core.training import classify_job

    records = []
    result = drain(classify_job(ClassifyRequest(project_root=trained, epochs=5, finetune_steps=3)), records.append)
    steps = [r for r in records if r.phase == "fine-tuning"]
    assert [r.step for r in steps] == [1, 2, 3] and all(np.isfinite(r.losses["fine-tune loss"]) for r in steps)
    with Project.open(trained) as project:
        loaded = load_classifier(project, result.run)
        pretrained = load_checkpoint(project, loaded.pretrain_run)["state_dict"]
        cache = open_pixel_cache(project, loaded.input_size)
        stored = np.stack([project.predictions.get(int(i), result.run.id).probabilities for i in cache.ids[:6]])
    tuned = loaded.module.features.encoder.state_dict()
    assert any(not torch.equal(tuned[k], pretrained[k]) for k in pretrained)  # its own encoder, not the pretrained
    with torch.no_grad():
        again = loaded.module(torch.from_numpy(np.array(cache.pixels[:6]))[:, None]).numpy()
    assert np.abs(again - stored).max() < 1e-4
