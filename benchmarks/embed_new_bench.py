"""New images after a pretraining: seconds to embed them with the current encoder
(``core.training.embed_new``, the retrain's "Embedding N new images" stage), against the
full pretraining the retrain ran before.

    python benchmarks/embed_new_bench.py [--base 200] [--new 30 1000] [--px 200] [--epochs 2]
        [--full] [--threads N] [--out /tmp/labelapp-embed-new]

A generated steel project of ``--base`` images (``--px`` px) is pretrained once at the
default input size (96 px, shufflenet; ``--epochs`` only to build the encoder quickly:
embedding does not depend on them). Then each batch of ``--new`` images is generated,
imported and embedded: decoding (the new images only), loading the encoder, one forward
pass and the texture statistics, writing the run. ``--full`` also times what a retrain
did before for the first batch: a pretraining at the default epochs on base + new images.
The table: images added, seconds to the first embedding record (reading the run,
decoding, loading the encoder), seconds in all, new images per second.

Measured with ``--full`` and the other defaults (issue 17; 2 CPU cores shared with other
jobs, load average about 5): the full pretraining a retrain ran before for 30 new images
(230 images, 20 epochs) took 206.4 s; embedding them takes 1.8 s.

| new images | to first embedding (s) | all (s) | images/s |
|---:|---:|---:|---:|
| 30 | 1.8 | 1.8 | 17 |
| 1,000 | 5.0 | 15.2 | 66 |
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import models  # noqa: E402,F401  (torchvision hook)
from core.demo import write_dataset  # noqa: E402
from core.demo_project import create_demo_project  # noqa: E402
from core.importing.importer import ImportOptions, import_folder  # noqa: E402
from core.jobs import drain  # noqa: E402
from core.store import Project  # noqa: E402
from core.training import PretrainRequest, pretrain_job  # noqa: E402
from core.training.embed_new import EmbedNewRequest, embed_new_images_job  # noqa: E402


def timed_embed(root: Path, threads: int | None) -> tuple[int, float, float]:
    """(images added, seconds to the first embedding record, seconds in all)."""
    started = time.perf_counter()
    first: list[float] = []

    def seen(record) -> None:
        if record.phase == "embedding" and not first:
            first.append(time.perf_counter() - started)

    result = drain(embed_new_images_job(EmbedNewRequest(project_root=root, threads=threads, device="cpu")), seen)
    return result.added, (first or [float("nan")])[0], time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", type=int, default=200)
    parser.add_argument("--new", type=int, nargs="+", default=[30, 1000])
    parser.add_argument("--px", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("/tmp/labelapp-embed-new"))
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    root = args.out / "project"
    create_demo_project(root, n_images=args.base, size=args.px, workers=2)
    t0 = time.perf_counter()
    drain(pretrain_job(PretrainRequest(project_root=root, epochs=args.epochs, threads=args.threads, device="cpu")))
    print(f"base: {args.base} images at {args.px} px, pretrained {args.epochs} epochs in "
          f"{time.perf_counter() - t0:.1f} s")
    rows = []
    for k, n in enumerate(args.new):
        arrived = write_dataset(args.out / f"arrived-{k}", n_images=n, seed=1000 + k, size=args.px, layout="flat",
                                workers=2)
        with Project.open(root) as project:
            assert import_folder(project, Path(arrived.root) / "images", ImportOptions(workers=2)).added == n
        if args.full and k == 0:
            full = args.out / "full"
            shutil.copytree(root, full)
            t0 = time.perf_counter()
            drain(pretrain_job(PretrainRequest(project_root=full, threads=args.threads, device="cpu")))
            print(f"before: a full pretraining (default epochs) of {args.base + n} images took "
                  f"{time.perf_counter() - t0:.1f} s")
        rows.append(timed_embed(root, args.threads))
    print("\n| new images | to first embedding (s) | all (s) | images/s |\n|---:|---:|---:|---:|")
    for added, first, total in rows:
        print(f"| {added:,} | {first:.1f} | {total:.1f} | {added / total:.0f} |")


if __name__ == "__main__":
    main()
