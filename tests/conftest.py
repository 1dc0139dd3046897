"""Shared fixtures: a small generated data set, built once per test session."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

import models  # noqa: E402,F401  (arms the torchvision compatibility hook before any test imports it)
from core.demo import DemoManifest, write_dataset  # noqa: E402


@pytest.fixture(scope="session")
def demo_folders(tmp_path_factory: pytest.TempPathFactory) -> DemoManifest:
    """42 generated 64 px images in class folders, masks in a mirrored tree."""
    root = tmp_path_factory.mktemp("demo-folders")
    return write_dataset(root, n_images=42, seed=7, size=64, layout="folders", workers=1)


@pytest.fixture(autouse=True)
def _recovery_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Masks a failed save keeps aside go to a test's own folder, never the user's cache."""
    folder = tmp_path_factory.mktemp("recovery")
    monkeypatch.setenv("LABELAPP_RECOVERY_DIR", str(folder))
    return folder


@pytest.fixture()
def project_dir(tmp_path: Path) -> Path:
    return tmp_path / "project"


def _label_from_truth(root: Path, count: int) -> None:
    """Labels the first ``count`` images of a generated demo project with their true class."""
    import csv

    from core.store import Project

    with Project.open(root) as project, open(root / "truth" / "labels.csv") as handle:
        rows = list(csv.DictReader(handle))[:count]
        project.labels.apply([(project.images.find(r["file"]).id, r["class"]) for r in rows], actor="t",
                             source="test")


@pytest.fixture(scope="session")
def label_from_truth():
    """``label_from_truth(root, count)``: labels the first ``count`` images of a generated
    demo project with their true class."""
    return _label_from_truth


@pytest.fixture(scope="session")
def train_small_classifier():
    """Builds a demo project at a path: 42 images at 64 px, 28 labeled, a 1-epoch encoder
    (run 1) and a classifier on it (run 2). Returns the project root."""
    def build(root: Path) -> Path:
        from core.demo_project import create_demo_project
        from core.jobs import drain
        from core.training import ClassifyRequest, PretrainRequest, retrain_job

        create_demo_project(root, n_images=42, size=64, workers=1)
        _label_from_truth(root, 28)
        pretrain = PretrainRequest(project_root=root, encoder="shufflenet", size=48, epochs=1, batch_size=16,
                                   workers=1)
        result = drain(retrain_job(pretrain, ClassifyRequest(project_root=root, epochs=10)))
        assert result.classify is not None and not result.cancelled
        return root

    return build


@pytest.fixture(scope="session")
def small_classifier_project(tmp_path_factory: pytest.TempPathFactory, train_small_classifier) -> Path:
    """A template project (copy it before changing it) built by ``train_small_classifier``:
    pretraining run 1 and classifier run 2, with predictions for every image."""
    return train_small_classifier(tmp_path_factory.mktemp("small-classifier") / "project")


@pytest.fixture(scope="session")
def segdec_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A template project (copy it before changing it): 42 demo images at 64 px, all
    labeled from the truth, no masks, and one 1-epoch defect-detector run (run 1)."""
    from core.demo_project import create_demo_project
    from core.jobs import drain
    from core.training import SegDecRequest, segdec_job

    root = tmp_path_factory.mktemp("segdec") / "project"
    create_demo_project(root, n_images=42, size=64, workers=1)
    _label_from_truth(root, 42)
    result = drain(segdec_job(SegDecRequest(project_root=root, max_epochs=1, workers=1)))
    assert result.run is not None and result.run.id == 1 and "validation" in result.metrics
    return root
