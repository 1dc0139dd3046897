"""Preparing a simulation: the folder imported once (the first-level sub-folder names each
image's class; masks found as the importer finds them), those answers kept aside as the
truth, every label removed, the encoder pretrained once; a fixed held-out part is never
suggested."""

from __future__ import annotations

import csv
import logging
import os
import shutil
import threading
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.active.simulator.config import ACTOR, SimulationConfig
from core.jobs.base import Progress, check_cancel
from core.store import Project, StoreError

logger = logging.getLogger(__name__)

OK_NAMES = {"ok", "good", "normal", "free", "mt_free", "defect-free", "defect_free", "no_defect", "nodefect", "none"}
HELD_OUT_SEED = 12345


@dataclass(frozen=True)
class Truth:
    """The answers: class per image (by id), the OK class, masks kept aside, the held-out ids."""

    labels: dict[int, str]
    ok_class: str | None
    masks: dict[int, str]  # image id -> mask PNG kept in the work folder
    held_out: frozenset[int]

    @property
    def classes(self) -> list[str]:
        return sorted(set(self.labels.values()))


def guess_ok_class(names: Iterable[str]) -> str | None:
    found = [n for n in names if n.lower().replace(" ", "_") in OK_NAMES]
    return found[0] if len(found) == 1 else None


def held_out_split(labels: dict[int, str], fraction: float, seed: int = HELD_OUT_SEED) -> frozenset[int]:
    """A stratified ``fraction`` of the images per class (at least one of each class with two or more)."""
    rng = np.random.default_rng(seed)
    chosen: list[int] = []
    for name in sorted(set(labels.values())):
        members = sorted(i for i, c in labels.items() if c == name)
        k = int(round(fraction * len(members)))
        if len(members) >= 2:
            k = min(max(k, 1), len(members) - 1)
        chosen += rng.permutation(members)[:k].tolist()
    return frozenset(int(i) for i in chosen)


def prepare(config: SimulationConfig, cancel: threading.Event | None = None,
            ) -> Generator[Progress, None, tuple[Path, Truth]]:
    """The base project (imported, truth put aside, no labels, encoder pretrained) in
    ``out/work/base``; reused when a previous simulation left it complete."""
    from core.importing import ImportOptions, import_folder
    from core.training.classify import latest_pretrain_run
    from core.training.pretrain import PretrainRequest, pretrain_job

    base = config.out / "work" / "base"
    truth_file = config.out / "work" / "truth.csv"
    if not (base / "project.sqlite").exists() or not truth_file.exists():
        if base.exists():
            shutil.rmtree(base)
        folders = sorted(p.name for p in Path(config.images).iterdir() if p.is_dir())
        if len(folders) < 2:
            raise StoreError(f"{config.images} needs one sub-folder per class (found {len(folders)})")
        ok = config.ok_class or guess_ok_class(folders)
        yield Progress(phase="import", step=0, total=1, unit="step", message=f"importing {config.images}")
        with Project.create(base) as project:
            report = import_folder(project, config.images, ImportOptions(
                labels_from_folders=True, ok_class=ok, masks=config.masks, actor=ACTOR, source="simulate"))
            if report.failed:
                logger.warning("%d files could not be read and are left out", len(report.failed))
            _put_truth_aside(project, config.out / "work", truth_file, ok)
        yield Progress(phase="import", step=1, total=1, unit="step")
    truth = _read_truth(truth_file, config.held_out)
    with Project.open(base) as project:
        pretrained = latest_pretrain_run(project) is not None
    if not pretrained:
        request = PretrainRequest(project_root=base, **config.pretrain)
        result = yield from pretrain_job(request, cancel)
        if result.cancelled:
            check_cancel(cancel)
    return base, truth


def _put_truth_aside(project: Project, work: Path, truth_file: Path, ok: str | None) -> None:
    """Writes the imported labels (and copies of the masks) to the work folder, then
    removes them from the project: the simulation starts with nothing labeled."""
    names = {c.id: c.name for c in project.classes.list()}
    masks_dir = work / "truth-masks"
    masks_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for image_id, label in sorted(project.labels.all().items()):
        mask_file = ""
        mask = project.masks.load(image_id)  # an empty mask is an answer too ("no defect pixels")
        if mask is not None:
            mask_file = str(masks_dir / f"{image_id}.npy")
            np.save(mask_file, mask)
        rows.append((image_id, names[label.class_id], mask_file))
    for image_id in list(project.masks.all()):
        project.masks.save(image_id, None, actor=ACTOR, source="simulate")
    project.labels.apply([(image_id, None) for image_id, _c, _m in rows], actor=ACTOR, source="simulate")
    tmp = truth_file.with_suffix(".tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(("image_id", "class", "mask", "ok_class"))
        for image_id, name, mask_file in rows:
            writer.writerow((image_id, name, mask_file, ok or ""))
    os.replace(tmp, truth_file)


def _read_truth(path: Path, held_out: float) -> Truth:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    labels = {int(r["image_id"]): r["class"] for r in rows}
    masks = {int(r["image_id"]): r["mask"] for r in rows if r["mask"]}
    ok = next((r["ok_class"] for r in rows if r["ok_class"]), None)
    return Truth(labels=labels, ok_class=ok, masks=masks, held_out=held_out_split(labels, held_out))
