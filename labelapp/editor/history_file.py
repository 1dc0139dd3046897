"""Undo and redo across closing and reopening a project: the histories in a file.

When the editor lets go of a project (another project, closing the window) its undo and
redo histories (:mod:`history`: mask patches and label changes, per image) are written to
``<project>/cache/undo-history.npz`` with the id of the newest event of the project's
event log; reopening reads them back. Anything that changed an image after that event
(the command line, an import, another copy of the app) makes its history meaningless, so
the event log decides: an image with a later event loses its history, and a later class
change (a merge, a removal) drops every history. The file holds arrays and JSON only
(``allow_pickle=False``): a project file never runs code. A file that cannot be read or
written costs the history, never a label or a mask.
"""

from __future__ import annotations

import io
import json
import logging
import zipfile
from pathlib import Path

import numpy as np

from core.files import write_bytes_atomic
from core.store import Project, StoreError
from labelapp.editor.geometry import Box
from labelapp.editor.history import Command, Histories, LabelChange, MaskEdit, Patch

logger = logging.getLogger(__name__)
FILE_NAME = "undo-history.npz"
FORMAT = 1
MAX_BYTES = 64 << 20  # patches beyond this are not kept (those of the images first edited longest ago)


def history_path(project: Project) -> Path:
    return project.cache_dir / FILE_NAME


def save_histories(project: Project, histories: Histories, *, skip: set[int] = frozenset()) -> None:
    """Writes the histories of ``project`` (not those of the images in ``skip``: their
    masks were not saved, so their edits do not match the store)."""
    path = history_path(project)
    arrays: dict[str, np.ndarray] = {}
    images, budget = [], MAX_BYTES
    for image_id, history in reversed(histories.items()):  # the images first edited last come first
        if image_id in skip or not (history.undo_stack or history.redo_stack):
            continue
        budget -= history.nbytes
        if budget < 0:
            break
        images.append({"image": image_id, "base_had_mask": history.base_had_mask,
                       "undo": [_command(c, arrays) for c in history.undo_stack],
                       "redo": [_command(c, arrays) for c in history.redo_stack]})
    try:
        if not images:
            path.unlink(missing_ok=True)
            return
        manifest = {"format": FORMAT, "event": project.events.last_id(), "images": images}
        buffer = io.BytesIO()
        np.savez(buffer, manifest=np.array(json.dumps(manifest)), **arrays)
        write_bytes_atomic(path, buffer.getvalue(), durable=False)
    except (OSError, StoreError) as exc:
        logger.warning("undo history of %s not kept: %s", project.root, exc)


def load_histories(project: Project) -> Histories:
    """The histories saved at the last close, less what the event log says changed since."""
    histories = Histories()
    path = history_path(project)
    if not path.is_file():
        return histories
    try:
        with np.load(path, allow_pickle=False) as data:
            manifest = json.loads(str(data["manifest"]))
            if manifest.get("format") != FORMAT:
                return histories
            changed, classes_changed = project.events.changed_since(int(manifest["event"]))
            if classes_changed:
                return histories
            for entry in reversed(manifest["images"]):  # back in the order they were used
                image_id = int(entry["image"])
                if image_id in changed:
                    continue
                history = histories.get(image_id)
                history.base_had_mask = entry["base_had_mask"]
                history.undo_stack = [_read_command(c, data) for c in entry["undo"]]
                history.redo_stack = [_read_command(c, data) for c in entry["redo"]]
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, StoreError) as exc:
        logger.warning("undo history of %s not read: %s", project.root, exc)
        return Histories()
    return histories


def _command(command: Command, arrays: dict[str, np.ndarray]) -> dict:
    if isinstance(command, LabelChange):
        return {"label": [command.image_id, command.old_class_id, command.new_class_id, command.joined]}
    box = command.box
    return {"box": [box.left, box.top, box.right, box.bottom], "before": _patch(command.before, arrays),
            "after": _patch(command.after, arrays), "origin": command.origin, "edited_origin": command.edited_origin}


def _patch(patch: Patch, arrays: dict[str, np.ndarray]) -> dict:
    key = f"a{len(arrays)}"
    compressed = not isinstance(patch.data, np.ndarray)
    arrays[key] = np.frombuffer(patch.data, dtype=np.uint8) if compressed else patch.data
    return {"key": key, "shape": list(patch.shape), "compressed": compressed}


def _read_command(entry: dict, data: np.lib.npyio.NpzFile) -> Command:
    if "label" in entry:
        image_id, old, new, joined = entry["label"]
        return LabelChange(int(image_id), old, new, joined=bool(joined))
    return MaskEdit(Box(*(int(v) for v in entry["box"])), _read_patch(entry["before"], data),
                    _read_patch(entry["after"], data), origin=entry["origin"], edited_origin=entry["edited_origin"])


def _read_patch(entry: dict, data: np.lib.npyio.NpzFile) -> Patch:
    array = np.asarray(data[entry["key"]], dtype=np.uint8)
    shape = (int(entry["shape"][0]), int(entry["shape"][1]))
    if entry["compressed"]:
        return Patch(shape=shape, data=array.tobytes())
    if array.shape != shape:
        raise ValueError(f"patch of shape {array.shape}, expected {shape}")
    return Patch(shape=shape, data=array.copy())
