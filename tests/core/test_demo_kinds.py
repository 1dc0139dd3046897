"""Tests for the ``cracks`` and ``textured`` kinds of the demo generator and the ``beside`` layout."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.demo import KINDS, OK_CLASS, demo_kind, plan_classes, read_truth, render_sample, write_dataset
from core.demo_project import create_demo_project
from core.importing import ImportOptions, import_folder
from core.store import ClassKind, Project

CRACKS_SIZE = (250, 100)
"""A fifth of the nominal 1250 x 500 part: small enough for fast tests."""

TEXTURED_SIZE = 96

SMALL = {"cracks": CRACKS_SIZE, "textured": TEXTURED_SIZE}
NEW_KINDS = tuple(SMALL)


def _classes(kinds: tuple[str, ...] = NEW_KINDS) -> list[tuple[str, str]]:
    return [(kind, name) for kind in kinds for name in demo_kind(kind).classes]


def _defect_classes() -> list[tuple[str, str]]:
    return [(kind, name) for kind, name in _classes() if name != OK_CLASS]


def test_kinds_and_their_classes() -> None:
    assert KINDS == ("steel", "cracks", "textured")
    assert demo_kind("cracks").classes == (OK_CLASS, "crack")
    assert demo_kind("textured").classes == (OK_CLASS, "spot", "scratch", "texture_change")
    assert demo_kind("cracks").default_size == (1250, 500)
    assert demo_kind("textured").default_size == 512
    assert demo_kind("cracks").default_ok_fraction == pytest.approx(0.87)
    assert demo_kind("textured").default_ok_fraction == pytest.approx(0.88)
    with pytest.raises(ValueError):
        demo_kind("wood")
    with pytest.raises(ValueError):
        render_sample(0, seed=0, size=64, class_name="crack", kind="steel")
    with pytest.raises(ValueError):
        render_sample(0, seed=0, size=64, class_name="scratches", kind="textured")


@pytest.mark.parametrize(("kind", "class_name"), _classes())
def test_render_is_deterministic(kind: str, class_name: str) -> None:
    size = SMALL[kind]
    first = render_sample(3, seed=2, size=size, class_name=class_name, kind=kind)
    second = render_sample(3, seed=2, size=size, class_name=class_name, kind=kind)
    assert first.image.dtype == np.uint8 and first.mask.dtype == np.bool_
    assert first.image.shape == first.mask.shape
    assert np.array_equal(first.image, second.image) and np.array_equal(first.mask, second.mask)
    assert (first.kind, first.class_name) == (kind, class_name)
    assert not np.array_equal(first.image, render_sample(3, seed=5, size=size, class_name=class_name, kind=kind).image)
    assert not np.array_equal(first.image, render_sample(4, seed=2, size=size, class_name=class_name, kind=kind).image)


def test_cracks_heights_vary_around_the_nominal_size() -> None:
    shapes = [render_sample(i, seed=1, size=CRACKS_SIZE, class_name=OK_CLASS, kind="cracks").image.shape
              for i in range(16)]
    assert {width for _, width in shapes} == {CRACKS_SIZE[1]}
    heights = {height for height, _ in shapes}
    assert len(heights) > 3
    assert all(abs(height - CRACKS_SIZE[0]) <= 0.016 * CRACKS_SIZE[0] + 0.5 for height in heights)
    crack = render_sample(5, seed=1, size=CRACKS_SIZE, class_name="crack", kind="cracks")
    assert crack.image.shape == shapes[5]


def test_textured_size_is_exact() -> None:
    for size, shape in ((TEXTURED_SIZE, (TEXTURED_SIZE, TEXTURED_SIZE)), ((64, 120), (64, 120))):
        for class_name in demo_kind("textured").classes:
            sample = render_sample(1, seed=0, size=size, class_name=class_name, kind="textured")
            assert sample.image.shape == sample.mask.shape == shape


@pytest.mark.parametrize(("kind", "class_name"), _defect_classes())
def test_defect_changes_exactly_its_mask(kind: str, class_name: str) -> None:
    size = SMALL[kind]
    for index in range(6):
        sample = render_sample(index, seed=7, size=size, class_name=class_name, kind=kind)
        background = render_sample(index, seed=7, size=size, class_name=OK_CLASS, kind=kind).image
        assert sample.mask.any() and not sample.mask.all(), f"{kind}/{class_name} #{index}"
        # Outside the mask the defective image is the defect-free one, pixel for pixel.
        assert np.array_equal(sample.image[~sample.mask], background[~sample.mask])
        diff = np.abs(sample.image.astype(np.int16) - background.astype(np.int16))
        assert diff[sample.mask].mean() >= 1.0


@pytest.mark.parametrize("kind", NEW_KINDS)
def test_ok_images_have_empty_masks_and_vary(kind: str) -> None:
    samples = [render_sample(i, seed=4, size=SMALL[kind], class_name=OK_CLASS, kind=kind) for i in range(8)]
    assert not any(sample.mask.any() for sample in samples)
    means = [float(sample.image.mean()) for sample in samples]
    assert max(means) - min(means) > 20.0
    assert all(sample.image.std() > 3.0 for sample in samples)


def test_full_size_crack_is_thin_and_faint() -> None:
    sample = render_sample(0, seed=0, class_name="crack", kind="cracks")
    ok = render_sample(0, seed=0, class_name=OK_CLASS, kind="cracks")
    height, width = sample.image.shape
    assert width == 500 and 1230 <= height <= 1270
    assert 40 <= sample.mask.sum() <= 0.01 * sample.mask.size
    diff = np.abs(sample.image.astype(np.int16) - ok.image.astype(np.int16))[sample.mask]
    assert diff.mean() < 3.0 * ok.image.std()


@pytest.mark.parametrize(("kind", "n_ok"), [("cracks", 174), ("textured", 176)])
def test_plan_uses_the_kinds_ok_fraction(kind: str, n_ok: int) -> None:
    plan = plan_classes(200, seed=3, kind=kind)
    counts = Counter(plan)
    assert counts[OK_CLASS] == n_ok and len(plan) == 200
    assert set(plan) <= set(demo_kind(kind).classes)
    defects = [counts[name] for name in demo_kind(kind).defect_classes]
    assert max(defects) - min(defects) <= 1
    assert plan == plan_classes(200, seed=3, kind=kind)
    assert Counter(plan_classes(10, seed=3, ok_fraction=0.5, kind=kind))[OK_CLASS] == 5


def test_steel_plan_default_is_unchanged() -> None:
    assert plan_classes(70, seed=0) == plan_classes(70, seed=0, ok_fraction=0.3, kind="steel")


def _read_png(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image).copy()


def test_beside_layout_round_trips_through_import(tmp_path: Path) -> None:
    data = tmp_path / "data"
    manifest = write_dataset(data, n_images=10, seed=3, size=CRACKS_SIZE, layout="beside", ok_fraction=0.5,
                             kind="cracks", workers=1)
    assert manifest.kind == "cracks" and manifest.counts() == {OK_CLASS: 5, "crack": 5}
    root = data.resolve()
    for index, entry in enumerate(manifest.entries):
        assert entry.file == root / entry.class_name / f"img_{index:05d}.png"
        expected = render_sample(index, seed=3, size=CRACKS_SIZE, class_name=entry.class_name, kind="cracks")
        assert np.array_equal(_read_png(entry.file), expected.image)
        if entry.class_name == OK_CLASS:
            assert entry.mask_file is None and entry.defect_pixels == 0
        else:
            assert entry.mask_file == entry.file.with_name(f"img_{index:05d}_mask.png")
            assert np.array_equal(_read_png(entry.mask_file) == 255, expected.mask)
    assert len(list(root.rglob("*_mask.png"))) == 5
    assert read_truth(root) == {e.file.relative_to(root).as_posix(): e.class_name for e in manifest.entries}

    with Project.create(tmp_path / "project") as project:
        report = import_folder(project, root, ImportOptions(labels_from_folders=True, ok_class=OK_CLASS,
                                                            masks="auto", workers=1))
        assert report.added == 10 and report.failed == [] and report.mask_issues == []
        assert report.masks_nonempty == 5
        assert project.classes.get(OK_CLASS).kind is ClassKind.OK
        crack = project.classes.get("crack")
        assert crack.kind is ClassKind.DEFECT
        labels = project.labels.all()
        for entry in manifest.entries:
            image = project.images.find(entry.file)
            assert labels[image.id].class_name == entry.class_name
            if entry.mask_file is not None:
                mask = project.masks.load(image.id)
                assert mask is not None
                assert np.array_equal(mask == crack.id, _read_png(entry.mask_file) == 255)


def test_demo_project_of_a_kind(tmp_path: Path) -> None:
    result = create_demo_project(tmp_path / "p", n_images=8, seed=1, size=TEXTURED_SIZE, kind="textured", workers=1)
    assert result.images == 8
    with Project.open(result.root) as project:
        kinds = {cls.name: cls.kind for cls in project.classes.list()}
    assert kinds == {OK_CLASS: ClassKind.OK, "spot": ClassKind.DEFECT, "scratch": ClassKind.DEFECT,
                     "texture_change": ClassKind.DEFECT}
    truth = read_truth(result.root)
    assert Counter(truth.values()) == Counter(plan_classes(8, seed=1, kind="textured"))


def test_worker_processes_render_the_same_pixels(tmp_path: Path) -> None:
    manifest = write_dataset(tmp_path, n_images=6, seed=8, size=TEXTURED_SIZE, layout="flat", ok_fraction=0.0,
                             kind="textured", workers=2)
    assert manifest.counts()[OK_CLASS] == 0
    for index, entry in enumerate(manifest.entries):
        expected = render_sample(index, seed=8, size=TEXTURED_SIZE, class_name=entry.class_name, kind="textured")
        assert np.array_equal(_read_png(entry.file), expected.image)
        assert entry.mask_file is not None
        assert np.array_equal(_read_png(entry.mask_file) == 255, expected.mask)
        assert entry.defect_pixels == int(expected.mask.sum()) > 0
