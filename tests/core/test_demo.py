"""Tests for the deterministic demo data generator in ``core.demo``."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.demo import (
    ALL_CLASSES,
    DEFECT_CLASSES,
    OK_CLASS,
    DemoManifest,
    plan_classes,
    read_truth,
    render_sample,
    write_dataset,
)

SIZE = 64


def _read_png(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        assert image.mode == "L"
        return np.asarray(image).copy()


def test_class_names_match_neu() -> None:
    assert DEFECT_CLASSES == (
        "crazing",
        "inclusion",
        "patches",
        "pitted_surface",
        "rolled-in_scale",
        "scratches",
    )
    assert ALL_CLASSES == (OK_CLASS, *DEFECT_CLASSES)
    assert OK_CLASS == "ok"


@pytest.mark.parametrize("class_name", ALL_CLASSES)
def test_render_is_deterministic(class_name: str) -> None:
    first = render_sample(7, seed=3, size=SIZE, class_name=class_name)
    second = render_sample(7, seed=3, size=SIZE, class_name=class_name)
    assert first.image.dtype == np.uint8 and first.mask.dtype == np.bool_
    assert first.image.shape == first.mask.shape == (SIZE, SIZE)
    assert np.array_equal(first.image, second.image)
    assert np.array_equal(first.mask, second.mask)
    assert (first.index, first.class_name) == (7, class_name)
    other_seed = render_sample(7, seed=4, size=SIZE, class_name=class_name)
    other_index = render_sample(8, seed=3, size=SIZE, class_name=class_name)
    assert not np.array_equal(first.image, other_seed.image)
    assert not np.array_equal(first.image, other_index.image)


def test_render_order_does_not_matter() -> None:
    forward = [render_sample(i, seed=1, size=SIZE, class_name="scratches").image for i in range(4)]
    backward = [render_sample(i, seed=1, size=SIZE, class_name="scratches").image for i in reversed(range(4))]
    for a, b in zip(forward, reversed(backward), strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("class_name", DEFECT_CLASSES)
def test_defect_mask_is_exactly_where_the_image_changed(class_name: str) -> None:
    for index in range(6):
        sample = render_sample(index, seed=11, size=SIZE, class_name=class_name)
        background = render_sample(index, seed=11, size=SIZE, class_name=OK_CLASS).image
        assert sample.mask.sum() >= 20, f"{class_name} #{index} has a tiny mask"
        assert not sample.mask.all()
        diff = np.abs(sample.image.astype(np.int16) - background.astype(np.int16))
        # Outside the mask the defect image is the defect-free background, pixel for pixel.
        assert np.array_equal(sample.image[~sample.mask], background[~sample.mask])
        assert diff[sample.mask].mean() > diff[~sample.mask].mean()
        assert diff[sample.mask].mean() >= 1.0


def test_ok_images_have_empty_masks_and_vary() -> None:
    samples = [render_sample(i, seed=5, size=SIZE, class_name=OK_CLASS) for i in range(12)]
    assert all(not s.mask.any() for s in samples)
    means = [float(s.image.mean()) for s in samples]
    assert max(means) - min(means) > 30.0, "global brightness should vary strongly between images"
    assert all(s.image.std() > 1.0 for s in samples)


@pytest.mark.parametrize("size", [(48, 96), (96, 40)])
def test_non_square_sizes(size: tuple[int, int]) -> None:
    for class_name in ALL_CLASSES:
        sample = render_sample(2, seed=0, size=size, class_name=class_name)
        assert sample.image.shape == sample.mask.shape == size
        assert sample.mask.any() == (class_name != OK_CLASS)


def test_defects_scale_with_image_size() -> None:
    small = render_sample(0, seed=2, size=64, class_name="patches").mask.mean()
    large = render_sample(0, seed=2, size=256, class_name="patches").mask.mean()
    assert large == pytest.approx(small, abs=0.15)


def test_invalid_arguments_are_rejected() -> None:
    with pytest.raises(ValueError):
        render_sample(0, seed=0, size=SIZE, class_name="rust")
    with pytest.raises(ValueError):
        render_sample(0, seed=0, size=16, class_name=OK_CLASS)
    with pytest.raises(ValueError):
        render_sample(-1, seed=0, size=SIZE, class_name=OK_CLASS)
    with pytest.raises(ValueError):
        plan_classes(10, seed=0, ok_fraction=1.5)
    with pytest.raises(ValueError):
        write_dataset(Path("unused"), n_images=1, layout="nested")


@pytest.mark.parametrize(("n_images", "ok_fraction"), [(100, 0.3), (37, 0.25), (6, 0.0), (5, 1.0)])
def test_plan_classes_counts(n_images: int, ok_fraction: float) -> None:
    plan = plan_classes(n_images, seed=9, ok_fraction=ok_fraction)
    counts = Counter(plan)
    assert len(plan) == n_images
    assert counts[OK_CLASS] == round(n_images * ok_fraction)
    defect_counts = [counts[name] for name in DEFECT_CLASSES]
    assert max(defect_counts) - min(defect_counts) <= 1
    assert set(plan) <= set(ALL_CLASSES)
    assert plan == plan_classes(n_images, seed=9, ok_fraction=ok_fraction)


def test_plan_classes_is_shuffled_by_seed() -> None:
    first = plan_classes(70, seed=0)
    assert first != plan_classes(70, seed=1)
    other = Counter(plan_classes(70, seed=1))
    assert sorted(Counter(first).values()) == sorted(other.values())
    assert Counter(first)[OK_CLASS] == other[OK_CLASS] == 21
    assert first != sorted(first)
    assert plan_classes(0, seed=0) == []


def _check_written(manifest: DemoManifest, size: int | tuple[int, int]) -> None:
    for index, entry in enumerate(manifest.entries):
        expected = render_sample(index, seed=manifest.seed, size=size, class_name=entry.class_name)
        assert entry.file.is_absolute() and entry.mask_file.is_absolute()
        assert np.array_equal(_read_png(entry.file), expected.image)
        mask = _read_png(entry.mask_file)
        assert set(np.unique(mask)) <= {0, 255}
        assert np.array_equal(mask == 255, expected.mask)
        assert entry.defect_pixels == int(expected.mask.sum())
        assert (entry.defect_pixels == 0) == (entry.class_name == OK_CLASS)


def test_write_folders_layout(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    manifest = write_dataset(
        tmp_path / "data",
        n_images=21,
        seed=4,
        size=SIZE,
        workers=1,
        progress=lambda d, t: calls.append((d, t)),
    )
    root = (tmp_path / "data").resolve()
    assert manifest.root == root and manifest.layout == "folders" and len(manifest.entries) == 21
    planned = Counter(plan_classes(21, seed=4))
    assert manifest.counts() == {name: planned[name] for name in ALL_CLASSES}
    for index, entry in enumerate(manifest.entries):
        name = f"{entry.class_name}_{index:05d}.png"
        assert entry.file == root / "images" / entry.class_name / name
        assert entry.mask_file == root / "masks" / entry.class_name / name
    assert all(path.suffix == ".png" for path in root.rglob("*") if path.is_file())
    assert len(list(root.glob("images/*/*.png"))) == len(list(root.glob("masks/*/*.png"))) == 21
    _check_written(manifest, SIZE)
    assert calls and calls[-1] == (21, 21)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    truth = read_truth(root)
    assert truth[f"images/{manifest.entries[0].class_name}/{manifest.entries[0].file.name}"] == (
        manifest.entries[0].class_name
    )
    assert len(truth) == 21


def test_write_flat_layout_with_workers(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    manifest = write_dataset(
        tmp_path,
        n_images=14,
        seed=2,
        size=(48, 80),
        layout="flat",
        workers=2,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == [f"img_{i:05d}.png" for i in range(14)]
    assert not list(tmp_path.rglob("*.tmp"))
    _check_written(manifest, (48, 80))
    with (tmp_path / "truth" / "labels.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["file", "class", "mask", "defect_pixels"]
    assert len(rows) == 15
    plan = plan_classes(14, seed=2)
    for index, (file, class_name, mask, pixels) in enumerate(rows[1:]):
        assert file == f"images/img_{index:05d}.png"
        assert mask == f"truth/masks/img_{index:05d}.png"
        assert class_name == plan[index] == manifest.entries[index].class_name
        assert int(pixels) == manifest.entries[index].defect_pixels
        assert (tmp_path / mask).is_file()
    assert read_truth(tmp_path) == {row[0]: row[1] for row in rows[1:]}
    assert calls[-1] == (14, 14) and all(total == 14 for _, total in calls)


def test_rewrite_is_byte_identical(tmp_path: Path) -> None:
    first = write_dataset(tmp_path / "a", n_images=7, seed=1, size=SIZE, layout="flat", workers=1)
    second = write_dataset(tmp_path / "b", n_images=7, seed=1, size=SIZE, layout="flat", workers=1)
    for a, b in zip(first.entries, second.entries, strict=True):
        assert a.file.read_bytes() == b.file.read_bytes()
        assert a.mask_file.read_bytes() == b.mask_file.read_bytes()
    assert (tmp_path / "a/truth/labels.csv").read_text() == (tmp_path / "b/truth/labels.csv").read_text()


def test_read_truth_without_data_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_truth(tmp_path)
