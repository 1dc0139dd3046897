"""Masks a failed save keeps aside: written outside the project, or inside it when the
user's folder cannot be written; the newest per image; removed once saved."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.store.recovery import RECOVERY_ENV, MaskRecovery


def test_kept_masks_are_listed_newest_per_image_and_discarded(tmp_path: Path, _recovery_dir: Path) -> None:
    recovery = MaskRecovery(tmp_path / "project")
    first = np.zeros((4, 6), dtype=np.uint8)
    first[1, 2] = 3
    kept = recovery.keep(7, "abc", first, source="gui", actor="ann", reason="No space left on device")
    assert kept is not None and kept.parent.parent == _recovery_dir  # outside the project
    second = first.copy()
    second[3, 5] = 1
    recovery.keep(7, "abc", second, source="gui", actor="ann", reason="No space left on device")
    recovery.keep(9, "def", None, source="gui", actor="ann", reason="Read-only file system")
    pending = recovery.pending()
    assert [item.image_id for item in pending] == [7, 9]
    assert (pending[0].mask == second).all() and pending[0].image_hash == "abc"
    assert pending[0].reason == "No space left on device" and pending[1].mask is None
    assert MaskRecovery(tmp_path / "other").pending() == []  # each project its own
    recovery.discard(7)
    assert [item.image_id for item in MaskRecovery(tmp_path / "project").pending()] == [9]


def test_the_project_folder_takes_the_mask_when_the_users_folder_cannot(tmp_path: Path, monkeypatch) -> None:
    blocked = tmp_path / "cache-is-a-file"
    blocked.write_text("")
    monkeypatch.setenv(RECOVERY_ENV, str(blocked))  # writing below a file fails (not a folder)
    root = tmp_path / "project"
    root.mkdir()
    mask = np.ones((2, 2), dtype=np.uint8)
    kept = MaskRecovery(root).keep(1, "h", mask, source="gui", actor="a", reason="disk full")
    assert kept == root / "recovery" / "1.npz"
    assert (MaskRecovery(root).pending()[0].mask == mask).all()
    (root / "recovery").rename(root / "gone")
    (root / "recovery").write_text("")  # neither folder can be written
    assert MaskRecovery(root).keep(1, "h", mask, source="gui", actor="a", reason="disk full") is None
