"""First feedback after Retrain with a reused encoder: seconds from the job's start until
the first predictions of the classifier and of the defect detector are in the store
(the first progress record with ``stored`` set, issue 14), and until all are.

    python benchmarks/first_feedback_bench.py [--images 2000 100000] [--labels 400]
        [--cache /tmp/labelapp-first-feedback] [--minutes 0.25] [--epochs 2] [--priority 300]

Projects: 2,000 generated 64 px steel images (``labelapp demo``), 400 of them labeled
from the truth, a first retrain (pretraining 1 epoch at 48 px, classifier, detector).
Larger projects reference those 2,000 files again and again (symbolic links, every
row its own path and hash), label 400 images, and take the small project's encoder as
theirs (its features repeated, a finished pretraining run), so that building 100,000
images costs a minute, not an hour of pretraining; their first retrain (classifier and
detector) runs for real. Then the measured second retrain: one more label per class,
the encoder reused, the detector's training capped (``--minutes``, ``--epochs``: the
measure is the time to first feedback, not the model), ``priority_ids`` = the first
``--priority`` ids of the grid (as the GUI passes them), no suggestions. Once the
detector has streamed for ``--stream-seconds`` the retrain is cancelled (its run stays,
partial) and the time to all stored is projected from the rate; the first retrain of a
large project is cancelled after the detector's first batch the same way. Projects are
kept under ``--cache`` and reused.

Measured with the defaults (2-core CPU, issue 14; seconds from the retrain's start; the
classifier's and the detector's first and all stored predictions, the detector's end of
training, its images per second while streaming):

| images | classifier first | all | detector trained | first [images] | images/s | all |
|---:|---:|---:|---:|---:|---:|---:|
| 2,000 | 2.8 | 5.9 | 8.6 | 9.1 [200] | 523 | 12.6 |
| 100,000 | 2.7 | 7.9 | 10.0 | 10.6 [207] | 548 | 192.8 projected |

(Before the head's calibration moved after the first predictions: 6.7 / 7.0 s to the
classifier's first stored predictions.)

Before streaming, nothing of a run showed before all its predictions were stored (the
"all" columns). The classifier's first feedback is its head fit (4 fits of 200 steps,
about 5.5 s, whatever the project size) plus reading the features (1.4 s at 100,000).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import shutil
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import models  # noqa: E402,F401  (torchvision hook)
from core.jobs import Progress, drain  # noqa: E402
from core.store import NewImage, Project, RunStatus  # noqa: E402
from core.training import ClassifyRequest, PretrainRequest, retrain_job  # noqa: E402
from core.training.classify import latest_pretrain_run  # noqa: E402
from core.training.segdec import SegDecRequest  # noqa: E402

logger = logging.getLogger(__name__)
DISTINCT = 2000  # real image files; larger projects link to them
ACTOR, SOURCE = "bench", "bench"


def requests(root: Path, args: argparse.Namespace, priority: tuple[int, ...] = ()):
    pretrain = PretrainRequest(project_root=root, size=48, epochs=1, batch_size=64)
    classify = ClassifyRequest(project_root=root, priority_ids=priority)
    segdec = SegDecRequest(project_root=root, minutes=args.minutes, warm_minutes=args.minutes,
                           max_epochs=args.epochs, priority_ids=priority)
    return pretrain, classify, segdec


def truth(root: Path) -> dict[str, str]:
    """Stored image path -> true class of the generated project at ``root``."""
    with open(root / "truth" / "labels.csv") as handle:
        return {row["file"]: row["class"] for row in csv.DictReader(handle)}


def build_small(cache: Path, args: argparse.Namespace) -> Path:
    from core.demo_project import create_demo_project

    root = cache / f"images-{DISTINCT}"
    if (root / "complete").exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    started = time.perf_counter()
    create_demo_project(root, n_images=DISTINCT, size=64)
    classes = truth(root)
    with Project.open(root) as project:
        rows = list(classes.items())[:: DISTINCT // args.labels][: args.labels]
        project.labels.apply([(project.images.find(f).id, c) for f, c in rows], actor=ACTOR, source=SOURCE)
    drain(retrain_job(*requests(root, args)[:2], segdec=requests(root, args)[2], suggest=False))
    (root / "complete").write_text("")
    logger.info("built %s in %.0f s", root, time.perf_counter() - started)
    return root


def build_large(cache: Path, small: Path, n: int, args: argparse.Namespace) -> Path:
    """``n`` image rows linking to the small project's files, its encoder's features
    repeated as a finished pretraining run, ``--labels`` labels, a first retrain."""
    root = cache / f"images-{n}"
    if (root / "complete").exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    started = time.perf_counter()
    classes = truth(small)
    with Project.open(small) as source:
        files = [(image.id, image.path, image.hash, image.width, image.height) for image in source.images.list()]
        kinds = [(c.name, c.kind) for c in source.classes.list()]
        pretrain = latest_pretrain_run(source)
        folder = source.runs_dir / str(pretrain.id)
        feature_ids = np.load(folder / "ids.npy")
    links = root / "images"
    links.mkdir(parents=True)
    with Project.create(root) as project:
        for name, kind in kinds:
            project.classes.add(name, kind=kind, actor=ACTOR, source=SOURCE)
        rows = []
        for k in range(n):
            _, path, digest, width, height = files[k % len(files)]
            link = links / f"{k:06d}.png"
            link.symlink_to((small / path).resolve())
            rows.append(NewImage(path=f"images/{k:06d}.png", hash=f"{digest}-{k}", width=width, height=height,
                                 channels=1, bit_depth=8, mode="L", gray=True, file_size=1, mtime=0.0))
        ids = np.array(project.images.add_many(rows), dtype=np.int64)
        source_of = np.arange(n) % len(files)
        picked = np.random.default_rng(0).choice(n, size=args.labels, replace=False)
        project.labels.apply([(int(ids[k]), classes[files[source_of[k]][1]]) for k in picked], actor=ACTOR,
                             source=SOURCE)
        row_of = {int(i): r for r, i in enumerate(feature_ids.tolist())}
        rows_needed = np.array([row_of[files[s][0]] for s in source_of], dtype=np.int64)
        run = project.runs.start(method=pretrain.method, config=pretrain.config, label_snapshot={}, seed=0)
        out = project.runs_dir / str(run.id)
        out.mkdir(parents=True)
        np.save(out / "ids.npy", ids)
        for name in ("embeddings.npy", "texture.npy"):
            if (folder / name).exists():
                np.save(out / name, np.load(folder / name)[rows_needed])
        project.runs.finish(run.id, status=RunStatus.DONE, metrics=pretrain.metrics)
    logger.info("built %s rows in %.0f s; first retrain ...", n, time.perf_counter() - started)
    cancel = threading.Event()

    def stop_streaming(record: Progress) -> None:  # a partial detector run warm-starts the next as well
        if record.stored is not None and record.stored.kind == "segdec":
            cancel.set()

    drain(retrain_job(*requests(root, args)[:2], cancel, segdec=requests(root, args)[2], suggest=False),
          stop_streaming)
    (root / "complete").write_text("")
    logger.info("built %s in %.0f s", root, time.perf_counter() - started)
    return root


def measure(template: Path, work: Path, args: argparse.Namespace) -> dict:
    """The second retrain on a copy of ``template``: seconds to the first stored
    predictions of each kind, to the end of the detector's training, to all stored."""
    root = work / template.name
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(template, root, symlinks=True)
    with Project.open(root) as project:
        images = project.images.count()
        labeled = set(project.labels.all())
        unlabeled = [i for i in project.images.ids().tolist() if i not in labeled]
        names = [c.name for c in project.classes.list()]  # one more label per class: the runs are stale
        project.labels.apply(list(zip(unlabeled, names, strict=False)), actor=ACTOR, source=SOURCE)
        priority = tuple(int(i) for i in project.images.ids()[: args.priority])
    times: dict[str, float] = {}
    cancel = threading.Event()
    started = time.perf_counter()

    def on_progress(record: Progress) -> None:
        now = time.perf_counter() - started
        if record.stored is not None and record.stored.kind == "segdec":
            streamed = now - times.get("segdec first", now)
            if streamed > 0:
                times["segdec rate"] = (record.stored.stored - times["segdec first n"]) / streamed
            if streamed >= args.stream_seconds and not record.stored.complete:
                cancel.set()  # long enough to know the rate: the rest is projected
                times["segdec all (projected)"] = now + (record.stored.total - record.stored.stored) / max(
                    times["segdec rate"], 1e-9)
        if record.phase == "defect detector":
            times["detector trained"] = now
        if record.stored is not None:
            times.setdefault(f"{record.stored.kind} first", now)
            times.setdefault(f"{record.stored.kind} first n", record.stored.stored)
            if record.stored.complete:
                times[f"{record.stored.kind} all"] = now
        elif record.phase != "classifier" and "classifier ended" not in times and "classifier started" in times:
            times["classifier ended"] = now
        if record.phase == "classifier":
            times.setdefault("classifier started", now)

    result = drain(retrain_job(*requests(root, args, priority)[:2], cancel,
                               segdec=requests(root, args, priority)[2], suggest=False), on_progress)
    times["job"] = time.perf_counter() - started
    assert result.classify is not None and result.segdec is not None and result.segdec.run is not None
    with Project.open(root) as project:
        assert project.predictions.count(result.classify.run.id) == images
        assert result.cancelled or project.predictions.count(result.segdec.run.id) == images
    shutil.rmtree(root, ignore_errors=True)
    return {"images": images, **times}


def table(rows: list[dict]) -> str:
    def cell(row: dict, key: str) -> str:
        return f"{row[key]:.1f}" if key in row else "–"

    lines = ["| images | classifier: first stored (s) | classifier: all | detector trained | "
             "detector: first stored (s) [images] | detector: images/s | detector: all stored |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        first = cell(row, "classifier first") if "classifier first" in row else f"({cell(row, 'classifier ended')})"
        every = cell(row, "segdec all") if "segdec all" in row else f"{cell(row, 'segdec all (projected)')} projected"
        lines.append(f"| {row['images']:,} | {first} | {cell(row, 'classifier all')} | "
                     f"{cell(row, 'detector trained')} | {cell(row, 'segdec first')} "
                     f"[{row.get('segdec first n', 0):,}] | {row.get('segdec rate', 0):.0f} | {every} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, nargs="+", default=[2000])
    parser.add_argument("--labels", type=int, default=400)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/labelapp-first-feedback"))
    parser.add_argument("--minutes", type=float, default=0.25, help="the detector's training budget")
    parser.add_argument("--epochs", type=int, default=2, help="the detector's maximum epochs")
    parser.add_argument("--priority", type=int, default=300, help="ids the GUI passes as the grid's view")
    parser.add_argument("--stream-seconds", type=float, default=60.0,
                        help="cancel the measured retrain once the detector has streamed this long; project the rest")
    parser.add_argument("--out", type=Path, help="append one JSON line per project size")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args.cache.mkdir(parents=True, exist_ok=True)
    small = build_small(args.cache, args)
    rows = []
    for n in args.images:
        template = small if n == DISTINCT else build_large(args.cache, small, n, args)
        row = measure(template, args.cache / "work", args)
        logger.info("%s", row)
        if args.out:
            with open(args.out, "a") as handle:
                handle.write(json.dumps(row) + "\n")
        rows.append(row)
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
