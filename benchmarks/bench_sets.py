"""The data sets of the active-learning benchmarks, prepared as the simulator prepares them.

Each set becomes a simulator work folder (``WORK/NAME/work/base``: imported, the truth
put aside, no labels, the encoder pretrained once with the simulator's defaults), so
``labelapp simulate --out WORK/NAME`` reuses the same pretraining and held-out split.

- ``xsdd``: ``/work/shared/data/x-sdd`` (7 classes, 63 to 397 images each).
- ``mtile``: ``/work/shared/data/magnetic-tile`` (6 classes, MT_Free 71 %, MT_Fray 2.4 %).
- ``generated``: 1,000 demo steel images (seed 7, 200 px, 30 % OK), one class
  (``inclusion``) thinned to 20 images (2 %): the rare class.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

DATA = Path("/work/shared/data")
RARE_CLASS = "inclusion"
RARE_KEEP = 20


@dataclass(frozen=True)
class BenchSet:
    name: str
    images: Path
    masks: str | None = None


def generated_folder(work: Path) -> Path:
    """The generated set with a rare class, written once under ``work``."""
    from core.demo import write_dataset

    root = work / "generated-data"
    images = root / "images"
    if not (root / "done").exists():
        if root.exists():
            shutil.rmtree(root)
        write_dataset(root, n_images=1000, seed=7, size=200, layout="folders", workers=1)
        rare = sorted((images / RARE_CLASS).iterdir())
        for path in rare[RARE_KEEP:]:
            path.unlink()
        shutil.rmtree(root / "masks", ignore_errors=True)
        (root / "done").write_text("ok\n")
    return images


def bench_sets(work: Path, names: list[str]) -> list[BenchSet]:
    known = {
        "xsdd": lambda: BenchSet("xsdd", DATA / "x-sdd"),
        "mtile": lambda: BenchSet("mtile", DATA / "magnetic-tile", masks="auto"),
        "generated": lambda: BenchSet("generated", generated_folder(work)),
    }
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown sets {unknown}; choose from {sorted(known)}")
    return [known[n]() for n in names]


def prepared(work: Path, bench: BenchSet, threads: int = 1):
    """(base project root, Truth) of ``bench``: the simulator's own preparation."""
    from core.active.simulator.config import SimulationConfig
    from core.active.simulator.truth import prepare
    from core.jobs import drain

    config = SimulationConfig(images=bench.images, out=work / bench.name, masks=bench.masks,
                              pretrain={"threads": threads})
    return drain(prepare(config))
