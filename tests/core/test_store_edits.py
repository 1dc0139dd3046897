"""Class merge, removal and order; relinking moved images."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from core.importing import ImportOptions, import_folder
from core.store import ClassKind, ClassNotFoundError, InvalidValueError, Project
from core.store.merge import merge_classes

WHO = {"actor": "tester", "source": "test"}
SIZE = (32, 24)


def write_images(folder: Path, grays: dict[str, int]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, gray in grays.items():
        PILImage.new("L", SIZE, color=gray).save(folder / name)


@pytest.fixture()
def project(tmp_path: Path) -> Project:
    """Six images in ``tmp_path/source``; classes ok, scratch, pit."""
    write_images(tmp_path / "source", {f"im{i}.png": 20 * i + 10 for i in range(6)})
    p = Project.create(tmp_path / "project")
    p.classes.add("ok", kind=ClassKind.OK, **WHO)
    p.classes.add("scratch", **WHO)
    p.classes.add("pit", **WHO)
    assert import_folder(p, tmp_path / "source", ImportOptions(workers=1)).added == 6
    yield p
    p.close()


def mask_with(project: Project, image_id: int, pixels: dict[str, tuple[slice, slice]]) -> np.ndarray:
    mask = np.zeros((SIZE[1], SIZE[0]), dtype=np.uint8)
    for name, (rows, cols) in pixels.items():
        mask[rows, cols] = project.classes.get(name).id
    assert project.masks.save(image_id, mask, **WHO)
    return mask


def test_merge_moves_labels_and_mask_pixels_and_deletes_the_class(project: Project) -> None:
    scratch, pit = project.classes.get("scratch"), project.classes.get("pit")
    project.labels.set_many([1, 2], "pit", **WHO)
    project.labels.set(3, "scratch", **WHO)
    both = mask_with(project, 1, {"pit": (slice(0, 4), slice(0, 5)), "scratch": (slice(10, 12), slice(0, 3))})
    mask_with(project, 4, {"scratch": (slice(0, 2), slice(0, 2))})
    old_file = project.masks.info(1).file
    events_before = project.events.count()

    result = merge_classes(project, "pit", "scratch", **WHO)

    assert (result.labels_moved, result.masks_rewritten) == (2, 1)
    assert result.target == scratch  # name, colour, key and kind stay
    assert project.classes.find("pit") is None
    assert {i: lab.class_name for i, lab in project.labels.all().items()} == {1: "scratch", 2: "scratch", 3: "scratch"}
    merged = project.masks.load(1)
    assert np.count_nonzero(merged == scratch.id) == 4 * 5 + 2 * 3
    assert not np.any(merged == pit.id)
    assert np.array_equal(merged != 0, both != 0)
    assert project.masks.info(1).class_ids == (scratch.id,)
    assert not (project.masks_dir / old_file).exists()
    assert (project.masks_dir / project.masks.info(1).file).exists()
    kinds = [e.kind for e in project.events.list()[events_before:]]
    assert kinds == ["label", "label", "mask", "class"]
    assert project.events.list(kind="class")[-1].new["merged_into"] == scratch.id


def test_merge_keeps_the_target_kind_and_refuses_itself_and_unknown_classes(project: Project) -> None:
    project.labels.set(1, "pit", **WHO)
    with pytest.raises(InvalidValueError, match="itself"):
        merge_classes(project, "pit", "pit", **WHO)
    with pytest.raises(ClassNotFoundError):
        merge_classes(project, "pit", "nothing", **WHO)
    assert project.labels.get(1).class_name == "pit"
    merge_classes(project, "pit", "ok", **WHO)
    assert project.labels.get(1).kind is ClassKind.OK
    assert project.classes.get("ok").kind is ClassKind.OK


def test_usage_counts_labels_and_masks_per_class(project: Project) -> None:
    project.labels.set_many([1, 2], "scratch", **WHO)
    mask_with(project, 3, {"pit": (slice(0, 2), slice(0, 2)), "scratch": (slice(5, 6), slice(5, 6))})
    usage = project.classes.usage()
    ok, scratch, pit = (project.classes.get(n).id for n in ("ok", "scratch", "pit"))
    assert usage == {ok: (0, 0), scratch: (2, 1), pit: (0, 1)}


def test_remove_only_an_unused_class(project: Project) -> None:
    project.labels.set(1, "scratch", **WHO)
    mask_with(project, 2, {"pit": (slice(0, 2), slice(0, 2))})
    with pytest.raises(InvalidValueError, match="1 label"):
        project.classes.remove("scratch", **WHO)
    with pytest.raises(InvalidValueError, match="1 mask"):
        project.classes.remove("pit", **WHO)
    project.classes.add("spare", **WHO)
    project.classes.remove("spare", **WHO)
    assert [c.name for c in project.classes.list()] == ["ok", "scratch", "pit"]
    assert project.events.list(kind="class")[-1].old["name"] == "spare"


def test_reorder_sets_positions_and_needs_every_class(project: Project) -> None:
    ids = [c.id for c in project.classes.list()]
    new_order = [ids[2], ids[0], ids[1]]
    assert [c.id for c in project.classes.reorder(new_order, **WHO)] == new_order
    assert [c.name for c in project.classes.list()] == ["pit", "ok", "scratch"]
    with pytest.raises(InvalidValueError):
        project.classes.reorder(ids[:2], **WHO)
    with pytest.raises(InvalidValueError):
        project.classes.reorder([ids[0], ids[0], ids[1]], **WHO)


def test_relink_checks_the_content_and_stores_a_relative_path(project: Project, tmp_path: Path) -> None:
    image = project.images.find("im1.png")
    inside = project.root / "moved"
    inside.mkdir()
    shutil.move(project.images.resolve(image), inside / "im1.png")
    assert [m.id for m in project.images.missing()] == [image.id]
    with pytest.raises(InvalidValueError, match="different image"):
        project.images.relink(image.id, tmp_path / "source" / "im2.png")
    relinked = project.images.relink(image.id, inside / "im1.png")
    assert relinked.path == "moved/im1.png"
    assert project.images.resolve(relinked) == inside / "im1.png"
    assert project.images.missing() == []


def test_relink_folder_finds_moved_files_by_name_and_content(project: Project, tmp_path: Path) -> None:
    source, elsewhere = tmp_path / "source", tmp_path / "elsewhere" / "deep"
    elsewhere.mkdir(parents=True)
    for name in ("im0.png", "im3.png", "im4.png"):
        shutil.move(source / name, elsewhere / name)
    (source / "im5.png").unlink()
    write_images(elsewhere, {"im5.png": 255})  # same name, other content: not relinked
    assert len(project.images.missing()) == 4
    assert len(project.images.missing(limit=2)) == 2

    assert project.images.relink_folder(tmp_path / "elsewhere") == 3

    assert [Path(m.path).name for m in project.images.missing()] == ["im5.png"]
    assert project.images.find("im3.png").path == (elsewhere / "im3.png").as_posix()
