"""Import against files that are not what they claim: names that are not UTF-8, named
pipes, devices, broken links, hidden files, EXIF-rotated photos; and the masks folder
cleaned of what a killed write left behind."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from core.importing import import_folder
from core.media.imaging import decode, decode_raw, shown_size
from core.store import Project


def gray(w: int = 32, h: int = 24, seed: int = 0) -> PILImage.Image:
    return PILImage.fromarray(np.random.default_rng(seed).integers(0, 255, (h, w), dtype=np.uint8))


def rotated_jpeg(width: int, height: int, orientation: int) -> bytes:
    """A JPEG stored ``width`` x ``height`` whose EXIF says to show it turned (6: a quarter clockwise)."""
    image = PILImage.fromarray(np.tile(np.linspace(0, 255, width, dtype=np.uint8), (height, 1)))
    exif = PILImage.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes(), quality=95)
    return out.getvalue()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_files_that_would_hang_or_abort_the_import_are_reported_and_the_rest_imported(tmp_path: Path,
                                                                                      project_dir: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for k in range(3):
        gray(seed=k).save(folder / f"good{k}.png")
    os.mkfifo(folder / "pipe.png")  # opening it would wait for a writer forever
    (folder / "zero.png").symlink_to("/dev/zero")  # reading it would never end
    (folder / "nowhere.png").symlink_to(folder / "missing.png")
    gray(seed=9).save(folder / ".hidden.png")
    (folder / ".cache").mkdir()
    bad_name = os.fsencode(folder) + b"/bad\xff\xfebytes.png"  # not UTF-8: aborted the whole import
    with open(bad_name, "wb") as handle:
        gray(seed=7).save(handle, format="PNG")
    with Project.open(project_dir, create=True) as project:
        report = import_folder(project, folder)
        assert report.added == 3 and project.images.count() == 3
    reasons = {Path(issue.path).name: issue.reason for issue in report.failed}
    assert reasons["pipe.png"] == "not a regular file (a named pipe)"
    assert reasons["zero.png"] == "not a regular file (a device)"
    assert reasons["nowhere.png"].startswith("a link to nothing")
    assert reasons["bad\\xff\\xfebytes.png"].startswith("file name is not valid UTF-8")
    assert report.hidden_files == 2  # .hidden.png and .cache/, counted, not imported
    assert all(issue.path.encode("utf-8") for issue in report.failed)  # printable, storable


def test_exif_rotation_is_applied_wherever_an_image_is_decoded(tmp_path: Path, project_dir: Path) -> None:
    data = rotated_jpeg(120, 80, orientation=6)
    path = tmp_path / "in" / "photo.jpg"
    path.parent.mkdir()
    path.write_bytes(data)
    assert shown_size(path) == (80, 120)
    full = decode(data)
    assert (full.width, full.height) == (80, 120) and full.pixels.shape[:2] == (120, 80)
    assert full.pixels[0, 40] < full.pixels[-1, 40]  # the stored left-to-right ramp now runs top to bottom
    half = decode_raw(data, reduce=lambda w, h: 2)  # JPEG draft: decoded at half size, still turned
    assert (half.width, half.height) == (80, 120) and half.pixels.shape[:2] == (60, 40) and half.reduced == 2
    with Project.open(project_dir, create=True) as project:
        import_folder(project, path.parent)
        (image,) = project.images.list()
        assert (image.width, image.height) == (80, 120)


def test_opening_a_project_removes_what_a_killed_mask_write_left(tmp_path: Path, project_dir: Path) -> None:
    (tmp_path / "in").mkdir()
    gray().save(tmp_path / "in" / "a.png")
    with Project.open(project_dir, create=True) as project:
        import_folder(project, tmp_path / "in")
        (image,) = project.images.list()
        cls = project.classes.add("scratch", actor="test", source="test")
        mask = np.zeros((24, 32), np.uint8)
        mask[5:9, 5:20] = cls.id
        project.masks.save(image.id, mask, actor="test", source="test")
        kept = project.root / "masks" / project.masks.info(image.id).file
    masks = kept.parent
    stale = time.time() - 3600
    leftovers = [masks / ".3-ab12.png.x1y2.tmp", masks / "7-deadbeef.png"]  # a temporary file, an orphan PNG
    fresh = masks / ".4-cd34.png.z9.tmp"  # another process may be writing it now: kept
    for path in [*leftovers, fresh]:
        path.write_bytes(b"x")
    for path in [*leftovers, kept]:
        os.utime(path, (stale, stale))
    with Project.open(project_dir) as project:
        assert (project.masks.load(image.id) == mask).all()  # the mask in use, however old, stays
    assert [p.exists() for p in leftovers] == [False, False] and fresh.exists() and kept.exists()
