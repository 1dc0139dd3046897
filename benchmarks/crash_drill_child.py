"""The writer that ``crash_drill.py`` kills: labels or masks through the store, acknowledged.

    python benchmarks/crash_drill_child.py labels|masks PROJECT ACK_FILE SEED

Writes until killed. Before each write it appends ``want <json>`` to ``ACK_FILE``, after
the commit ``ack <json>`` (one ``os.write`` of a whole line each, so a kill never leaves
half a line): the drill then knows every write the store acknowledged and the one that
was in flight when the kill came.

* ``labels``: ``Labels.apply`` of 1 to 5 images at once (one transaction), a random class
  or no label each, as the labeling keys and the map's lasso write them.
* ``masks``: the editor's saver (:class:`labelapp.session.mask_saver.MaskSaver`, its own
  thread and connection, ``Masks.save``), each mask drawn from ``(image id, seq)`` so that
  the drill can draw it again and compare pixel for pixel.
"""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MASK_SIZE = (48, 64)  # (height, width) of the drill's images


def drill_mask(image_id: int, seq: int, class_ids: list[int]) -> np.ndarray | None:
    """The mask that write ``seq`` gives ``image_id`` (None: remove it), the same every time."""
    rng = np.random.default_rng([image_id, seq])
    if rng.random() < 0.1:
        return None
    mask = np.zeros(MASK_SIZE, dtype=np.uint8)
    for _ in range(int(rng.integers(0, 4))):  # 0 boxes: an empty mask ("no defect pixels")
        y, x = rng.integers(0, MASK_SIZE[0] - 4), rng.integers(0, MASK_SIZE[1] - 4)
        h, w = rng.integers(2, MASK_SIZE[0] - y), rng.integers(2, MASK_SIZE[1] - x)
        mask[y:y + h, x:x + w] = class_ids[int(rng.integers(0, len(class_ids)))]
    return mask


class Acks:
    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, kind: str, record: dict) -> None:
        os.write(self._fd, f"{kind} {json.dumps(record)}\n".encode())


def run_labels(project_root: Path, acks: Acks, rng: random.Random) -> None:
    from core.store import Project

    project = Project.open(project_root)
    image_ids = project.images.table().ids.tolist()
    class_ids = [c.id for c in project.classes.list()]
    acks.write("ready", {})
    while True:
        targets = rng.sample(image_ids, rng.randint(1, 5))
        change = {str(i): (None if rng.random() < 0.15 else rng.choice(class_ids)) for i in targets}
        acks.write("want", change)
        project.labels.apply([(int(i), c) for i, c in change.items()], actor="drill", source="drill")
        acks.write("ack", change)


def run_masks(project_root: Path, acks: Acks, rng: random.Random) -> None:
    from core.store import Project
    from labelapp.session.mask_saver import MaskSaver, SaveRequest

    with Project.open(project_root) as project:
        image_ids = project.images.table().ids.tolist()
        class_ids = [c.id for c in project.classes.list()]
    seq = rng.randrange(1 << 40)  # a fresh sequence per child: masks never repeat across kills
    saver = MaskSaver(project_root)
    acks.write("ready", {})
    while True:
        image_id = rng.choice(image_ids)
        seq += 1
        record = {"image": image_id, "seq": seq}
        acks.write("want", record)
        saver.submit(SaveRequest(image_id=image_id, version=seq, mask=drill_mask(image_id, seq, class_ids),
                                 actor="drill", source="drill"))
        saver.wait_idle()
        (result,) = saver.take_results()
        if result.error is not None:
            raise SystemExit(f"mask not saved: {result.error}")
        acks.write("ack", record)


def main() -> None:
    kind, project_root, ack_path, seed = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
    acks = Acks(ack_path)
    rng = random.Random(seed)
    {"labels": run_labels, "masks": run_masks}[kind](project_root, acks, rng)


if __name__ == "__main__":
    main()
