"""Import: folder labels, masks, bad files of every kind, duplicates, re-import, crashes."""

from __future__ import annotations

import io
import os
import signal
import struct
import subprocess
import sys
import textwrap
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from core.demo import DemoManifest
from core.importing import ImportOptions, import_folder, iter_import
from core.store import ClassKind, Project
from core.store.thumbnails import ThumbnailCache


def save(path: Path, image: PILImage.Image, **kwargs: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **kwargs)
    return path


def gray(w: int = 32, h: int = 24, seed: int = 0) -> PILImage.Image:
    rng = np.random.default_rng(seed)
    return PILImage.fromarray(rng.integers(0, 255, (h, w), dtype=np.uint8))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height``, with no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk
            + struct.pack(">I", zlib.crc32(chunk)) + struct.pack(">I", 0) + b"IEND"
            + struct.pack(">I", zlib.crc32(b"IEND")))


def test_folder_labels_and_masks_read_back_exactly(demo_folders: DemoManifest, project_dir: Path) -> None:
    with Project.create(project_dir) as project:
        report = import_folder(project, demo_folders.root / "images", ImportOptions(
            labels_from_folders=True, ok_class="ok", masks=demo_folders.root / "masks", workers=2))
        assert report.failed == [] and report.added == len(demo_folders.entries)
        assert report.masks_set == len(demo_folders.entries)
        assert project.classes.get("ok").kind is ClassKind.OK
        assert project.classes.get("scratches").kind is ClassKind.DEFECT
        labels = project.labels.all()
        for entry in demo_folders.entries:
            image = project.images.find(entry.file)
            assert labels[image.id].class_name == entry.class_name
            truth = np.asarray(PILImage.open(entry.mask_file)) > 127
            mask = project.masks.load(image.id)
            cls = project.classes.get(entry.class_name)
            assert np.array_equal(mask != 0, truth), entry.file
            assert set(np.unique(mask)) <= {0, cls.id}
        summary = project.summary()
        assert summary.classes == demo_folders.counts()
        assert summary.nonempty_masks == sum(1 for e in demo_folders.entries if e.defect_pixels > 0)
        assert ThumbnailCache(project.cache_dir).count() == len(demo_folders.entries)
        # every label and mask went through the event log
        assert len(project.events.list(kind="label")) == len(demo_folders.entries)
        assert len(project.events.list(kind="mask")) == len(demo_folders.entries)


def test_masks_auto_matches_by_file_name(tmp_path: Path, project_dir: Path) -> None:
    data = tmp_path / "data"
    save(data / "crack" / "a.jpg", gray(seed=1).convert("RGB"), quality=95)
    mask = np.zeros((24, 32), np.uint8)
    mask[5:10, 5:20] = 200  # soft values: only those above half the range count
    mask[0, 0] = 100
    save(data / "crack" / "a.png", PILImage.fromarray(mask))
    save(data / "crack" / "b.png", gray(seed=2))
    save(data / "crack" / "b_mask.png", PILImage.fromarray(mask))
    save(data / "crack" / "c.bmp", gray(seed=3))
    with Project.create(project_dir) as project:
        report = import_folder(project, data, ImportOptions(labels_from_folders=True, masks="auto", workers=1))
        assert report.added == 3 and report.masks_set == 2 and report.missing_masks == 1
        assert sorted(Path(i.path).name for i in project.images.list()) == ["a.jpg", "b.png", "c.bmp"]
        for name in ("a.jpg", "b.png"):
            loaded = project.masks.load(project.images.find(name).id)
            assert np.count_nonzero(loaded) == 75 and loaded[0, 0] == 0


def test_bad_files_are_reported_and_skipped(tmp_path: Path, project_dir: Path) -> None:
    data = tmp_path / "data"
    good = save(data / "good.png", gray())
    (data / "empty.png").write_bytes(b"")
    (data / "garbage.jpg").write_bytes(os.urandom(2000))
    (data / "notes.txt").write_text("not an image")
    whole = io.BytesIO()
    gray(256, 256).save(whole, format="PNG")
    (data / "truncated.png").write_bytes(whole.getvalue()[: len(whole.getvalue()) // 2])
    jpeg = io.BytesIO()
    gray(256, 256).convert("RGB").save(jpeg, format="JPEG")
    (data / "truncated.jpg").write_bytes(jpeg.getvalue()[: len(jpeg.getvalue()) // 2])
    corrupt = bytearray(whole.getvalue())
    corrupt[len(corrupt) // 2: len(corrupt) // 2 + 64] = b"\x00" * 64
    (data / "corrupt.png").write_bytes(bytes(corrupt))
    (data / "huge.png").write_bytes(png_header_only(30000, 30000))
    with Project.create(project_dir) as project:
        report = import_folder(project, data, ImportOptions(workers=1))
        assert report.added == 1 and report.ignored_files == 1
        reasons = {Path(i.path).name: i.reason for i in report.failed}
        assert set(reasons) == {"empty.png", "garbage.jpg", "truncated.png", "truncated.jpg", "corrupt.png",
                                "huge.png"}
        assert "empty file" in reasons["empty.png"]
        assert "not an image" in reasons["garbage.jpg"]
        assert "truncated" in reasons["truncated.png"] and "truncated" in reasons["truncated.jpg"]
        assert "too large: 30000x30000" in reasons["huge.png"]
        assert project.images.list()[0].path == project.images.stored_path(good)


def test_every_kind_of_pixel_format(tmp_path: Path, project_dir: Path) -> None:
    data = tmp_path / "data"
    ramp16 = (np.arange(48 * 40, dtype=np.uint32).reshape(40, 48) * 30).astype(np.uint16)
    save(data / "gray16.png", PILImage.fromarray(ramp16))
    save(data / "gray16.tif", PILImage.fromarray(ramp16[::-1].copy()))
    save(data / "rgb.tif", gray(seed=4).convert("RGB").point(lambda v: 255 - v))
    alpha = np.full((24, 32), 128, np.uint8)
    save(data / "rgba.png", PILImage.fromarray(np.dstack([np.asarray(gray(seed=5))] * 3 + [alpha])))
    save(data / "palette.png", gray(seed=6).convert("RGB").quantize(16))
    colour = np.random.default_rng(7).integers(0, 255, (24, 32, 3), dtype=np.uint8)
    save(data / "colour.bmp", PILImage.fromarray(colour))
    save(data / "big.png", PILImage.new("L", (6000, 5000), 90))
    with Project.create(project_dir) as project:
        report = import_folder(project, data, ImportOptions(workers=2))
        assert report.failed == [] and report.added == 7
        images = {Path(i.path).name: i for i in project.images.list()}
        assert (images["gray16.png"].bit_depth, images["gray16.png"].channels) == (16, 1)
        assert images["gray16.tif"].bit_depth == 16
        assert images["rgba.png"].mode == "RGBA" and images["rgba.png"].gray
        assert images["palette.png"].mode == "P"
        assert not images["colour.bmp"].gray and images["colour.bmp"].channels == 3
        assert (images["big.png"].width, images["big.png"].height) == (6000, 5000)
        cache = ThumbnailCache(project.cache_dir)
        thumb = PILImage.open(io.BytesIO(cache.get(images["gray16.png"].hash)))
        pixels = np.asarray(thumb)
        assert pixels.min() < 20 and pixels.max() > 235  # 16 bits windowed to the full 8-bit range
        assert max(PILImage.open(io.BytesIO(cache.get(images["big.png"].hash))).size) == 160


def test_duplicates_and_reimport(tmp_path: Path, project_dir: Path) -> None:
    data = tmp_path / "data"
    save(data / "a" / "one.png", gray(seed=1))
    save(data / "a" / "copy-of-one.png", gray(seed=1))
    save(data / "b" / "two.png", gray(seed=2))
    with Project.create(project_dir) as project:
        first = import_folder(project, data, ImportOptions(workers=1))
        assert first.added == 2 and len(first.duplicates) == 1
        assert "same content as" in first.duplicates[0].reason
        again = import_folder(project, data, ImportOptions(labels_from_folders=True, workers=1))
        assert again.added == 0 and again.already_present == 2
        assert again.labels_set == 2  # a re-import with folder labels labels what was unlabeled
        project.labels.set(project.images.find("two.png").id, "a", actor="me", source="test")
        third = import_folder(project, data, ImportOptions(labels_from_folders=True, workers=1))
        assert len(third.label_conflicts) == 1 and project.labels.get(
            project.images.find("two.png").id).class_name == "a"  # the user's label wins
        assert project.images.count() == 2


def test_reimport_restores_a_deleted_thumbnail_cache(demo_folders: DemoManifest, project_dir: Path) -> None:
    with Project.create(project_dir) as project:
        import_folder(project, demo_folders.root / "images", ImportOptions(workers=1))
        for leftover in project.cache_dir.iterdir():  # the user deletes the cache
            leftover.unlink()
        report = import_folder(project, demo_folders.root / "images", ImportOptions(workers=1))
        assert report.added == 0 and report.already_present == len(demo_folders.entries)
        assert ThumbnailCache(project.cache_dir).count() == len(demo_folders.entries)


def test_cancel_keeps_the_committed_batches(demo_folders: DemoManifest, project_dir: Path) -> None:
    cancel = threading.Event()
    with Project.create(project_dir) as project:
        gen = iter_import(project, demo_folders.root / "images", ImportOptions(workers=1, batch=8), cancel)
        steps = []
        while True:
            try:
                steps.append(next(gen))
            except StopIteration as stop:
                report = stop.value
                break
            if steps[-1].done >= 8:
                cancel.set()
        assert report.cancelled and report.added == 8
        assert project.images.count() == 8


CHILD = """
import sys
from core.importing import ImportOptions, iter_import
from core.store import Project
from core.store.labels import Labels

calls = 0
original_apply = Labels.apply

def apply_then_stall(self, *args, **kwargs):
    # Inside the import's third batch transaction: report, then wait to be killed.
    global calls
    calls += 1
    changed = original_apply(self, *args, **kwargs)
    if calls == 2 * 8 + 3:
        print("mid-transaction", flush=True)
        sys.stdin.readline()
    return changed

Labels.apply = apply_then_stall
project = Project.open(sys.argv[1], create=True)
for step in iter_import(project, sys.argv[2], ImportOptions(labels_from_folders=True, workers=1, batch=8)):
    if step.phase == "read":
        print(step.done, flush=True)
"""


def test_a_killed_import_keeps_every_committed_row(demo_folders: DemoManifest, project_dir: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CHILD), str(project_dir), str(demo_folders.root / "images")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    committed = 0
    for line in child.stdout:  # a number after each committed batch; then the stall
        if line.strip() == "mid-transaction":
            child.send_signal(signal.SIGKILL)
            break
        committed = int(line)
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL, "the import finished before it could be killed"
    assert committed == 16
    with Project.open(project_dir) as project:
        assert project.integrity_check() == "ok"
        assert project.images.count() == committed  # every committed row, nothing of the open batch
        assert len(project.labels.all()) == committed
        report = import_folder(project, demo_folders.root / "images",
                               ImportOptions(labels_from_folders=True, workers=1))
        assert report.already_present == committed
        assert report.added == len(demo_folders.entries) - committed
        assert project.summary().classes == demo_folders.counts()


def test_missing_folder_is_a_clear_error(project_dir: Path, tmp_path: Path) -> None:
    with Project.create(project_dir) as project, pytest.raises(NotADirectoryError, match="not a folder"):
        import_folder(project, tmp_path / "missing")
