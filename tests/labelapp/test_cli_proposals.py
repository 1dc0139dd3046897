"""The mask-proposer commands, run as a user runs them: a real process per command."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from core.store import Project


def labelapp(*args: object, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    result = subprocess.run([sys.executable, "-m", "labelapp", *map(str, args)], capture_output=True,
                            text=True, timeout=300, env=env)
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def labeled_project(tmp_path_factory: pytest.TempPathFactory, label_from_truth) -> Path:
    """16 non-square cracks images (two heights: the kind varies them), all labeled."""
    root = tmp_path_factory.mktemp("cli-proposals") / "demo"
    labelapp("demo", root, "--kind", "cracks", "--images", 16, "--size", "96x40", "--seed", 1, "--json")
    label_from_truth(root, 16)
    return root


def test_train_isugan_then_propose_masks_writes_pngs_of_each_images_size(labeled_project: Path,
                                                                        tmp_path: Path) -> None:
    trained = json.loads(labelapp("train", labeled_project, "--method", "isugan", "--preset", "quick", "--steps", 2,
                                  "--device", "cpu", "--json").stdout)
    assert trained["status"] == "done" and trained["method"] == "proposer-isugan"
    assert trained["metrics"]["steps"] == 2 and "more" in trained["metrics"]["advice"]
    out = tmp_path / "masks"
    written = json.loads(labelapp("propose-masks", labeled_project, "--out", out, "--json").stdout)
    assert written["run"] == trained["run"] and written["images"] >= 2
    table = (out / "proposals.csv").read_bytes()
    assert b"\r" not in table
    rows = list(csv.DictReader(table.decode().splitlines()))
    assert list(rows[0]) == ["image", "mask", "image_id", "score", "defective", "mask_pixels", "components", "cut",
                             "label"]
    assert len(rows) == written["images"]
    with Project.open(labeled_project) as project:
        for row in rows:
            image = project.images.get(int(row["image_id"]))
            with PILImage.open(out / row["mask"]) as png:
                assert png.size == (image.width, image.height) and png.mode == "L"
                pixels = np.asarray(png)
            assert set(np.unique(pixels).tolist()) <= {0, 255}
            assert int(np.count_nonzero(pixels)) == int(row["mask_pixels"])
        assert all(h > w for h, w in project.images.sizes().tolist())  # non-square, tall


def test_propose_masks_without_a_proposer_run_is_a_message(labeled_project: Path, tmp_path: Path) -> None:
    failed = labelapp("propose-masks", labeled_project, "--out", tmp_path, "--run", 999, check=False)
    assert failed.returncode == 2 and "no run with id 999" in failed.stderr
    assert "Traceback" not in failed.stderr
