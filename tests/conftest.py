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


@pytest.fixture()
def project_dir(tmp_path: Path) -> Path:
    return tmp_path / "project"
