"""Classifier accuracy against minutes of background pretraining.

    python benchmarks/background_pretrain_bench.py --data /work/shared/data/x-sdd \\
        --minutes 0 5 10 20 40 --budgets 1 3 5 10 20 --seeds 0 1 2
    python benchmarks/background_pretrain_bench.py --demo 120 --size 48 --epochs 1 \\
        --minutes 0 0.5 1 --budgets 2 5 --seeds 0 1          (a quick run, a minute or two)

Imports a folder of class sub-folders (``--data``; or ``--demo N`` generated 64 px images)
into a fresh project and pretrains the encoder as the first retrain does (the app's
defaults: SimCLR, ShuffleNet, 96 px, 20 epochs capped by ``max_samples``): minute 0. Then
the background pretraining job (:mod:`core.training.background_pretrain`, one torch
thread as in the window unless ``--threads``) continues it up to each mark of
``--minutes`` in turn, each leg ending with a checkpoint run; the legs resume from one
another as a paused background pretraining does. The minutes are training time; each
checkpoint's embedding of every image comes on top (its seconds are in the table).

For every checkpoint the classifier is fitted exactly as a retrain fits it (ArcFace head
on ``[w * embedding, texture]``) on ``budget`` labeled images per class drawn from the
training part, and scored on a fixed held-out 30 % of each class that is never labeled:
mean ± std of the accuracy over seeds, for the app's features and for the embedding
alone (which shows the encoder's own progress; the texture statistics do not change).
It also times how long a pause takes (a retrain waits that long for the training process).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import models  # noqa: E402,F401  (torchvision hook)
from core.importing import ImportOptions, import_folder  # noqa: E402
from core.jobs import drain  # noqa: E402
from core.store import Project, Run  # noqa: E402
from core.training import PretrainRequest, pretrain_job  # noqa: E402
from core.training.background_pretrain import BackgroundPretrainRequest, background_pretrain_job  # noqa: E402
from core.training.pretrain import load_embeddings, load_features  # noqa: E402


def create_project(root: Path, args: argparse.Namespace) -> dict[int, int]:
    """The project at ``root`` with the images of ``--data`` or ``--demo``; the truth (image id -> class id)."""
    folder = args.data
    if folder is None:
        from core.demo import write_dataset

        folder = Path(write_dataset(root.parent / "demo", n_images=args.demo, seed=7, size=64, layout="folders",
                                    workers=1).root) / "images"
    with Project.create(root) as project:
        import_folder(project, folder, ImportOptions(labels_from_folders=True, workers=args.workers))
        return project.labels.class_by_image()


def split(labels: np.ndarray, seed: int = 12345) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) indices: 30 % of every class held out."""
    rng = np.random.default_rng(seed)
    test = np.zeros(len(labels), dtype=bool)
    for k in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == k))
        test[members[: int(round(0.3 * len(members)))]] = True
    return np.flatnonzero(~test), np.flatnonzero(test)


def accuracy(x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray, budget: int, seed: int) -> float:
    from models.fewshot.head import fit_head

    rng = np.random.default_rng(seed)
    chosen = np.concatenate([rng.choice(train[y[train] == k], size=min(budget, int((y[train] == k).sum())),
                                        replace=False) for k in np.unique(y)])
    predicted = fit_head(x[chosen], y[chosen], n_classes=int(y.max()) + 1, seed=seed).predict(x[test]).class_index
    return float(np.mean(predicted == y[test]))


def scores(root: Path, run: Run, truth: dict[int, int], args: argparse.Namespace) -> dict[str, list[float]]:
    """``"app@B"`` / ``"embedding@B"``: the accuracies over seeds at B labels per class."""
    import torch

    torch.set_num_threads(1)  # what the classify job uses
    with Project.open(root) as project:
        ids, features = load_features(project, run)
        _, embeddings = load_embeddings(project, run)
    _, y = np.unique(np.array([truth[int(i)] for i in ids]), return_inverse=True)
    train, test = split(y)
    out: dict[str, list[float]] = {}
    for budget in args.budgets:
        for seed in args.seeds:
            out.setdefault(f"app@{budget}", []).append(accuracy(features, y, train, test, budget, seed))
            out.setdefault(f"embedding@{budget}", []).append(accuracy(embeddings, y, train, test, budget, seed))
    return out


def pause_seconds(root: Path, args: argparse.Namespace, repeats: int = 5) -> list[float]:
    """Seconds from a pause request (the cancel flag, set from another thread as the window's
    retrain sets it, at a random moment of a step) to the job's end, ``repeats`` times: how
    long a retrain waits for the training process."""
    import threading

    from core.training.background_pretrain import PHASE

    rng = np.random.default_rng(0)
    out = []
    for _ in range(repeats):
        cancel, asked = threading.Event(), []
        job = background_pretrain_job(BackgroundPretrainRequest(project_root=root, checkpoint_minutes=1e9,
                                                                threads=args.threads, check_battery=False), cancel)
        for record in job:
            if record.phase == PHASE:  # training: ask for the pause within the next two seconds
                break

        def ask(asked: list[float] = asked, cancel: threading.Event = cancel) -> None:
            asked.append(time.perf_counter())
            cancel.set()

        timer = threading.Timer(float(rng.uniform(0.0, 2.0)), ask)
        timer.start()
        result = drain(job)
        ended = time.perf_counter()
        timer.join()
        out.append(ended - asked[0])
        assert result.stopped == "paused", result.stopped
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path, help="a folder of class sub-folders")
    source.add_argument("--demo", type=int, metavar="N", help="N generated 64 px images instead")
    parser.add_argument("--minutes", type=float, nargs="+", default=[0, 5, 10, 20, 40],
                        help="marks of background training, in minutes (0: the first retrain's encoder)")
    parser.add_argument("--budgets", type=int, nargs="+", default=[1, 3, 5, 10, 20], help="labels per class")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=20, help="the first pretraining's epochs (app default 20)")
    parser.add_argument("--size", type=int, default=96, help="the encoder's input side (app default 96)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the background job (window: 1)")
    parser.add_argument("--first-threads", type=int, default=None,
                        help="torch threads of the first pretraining (default: every core)")
    parser.add_argument("--workers", type=int, default=1, help="decoding processes")
    parser.add_argument("--work", type=Path, default=None, help="keep the project here (default: a temp folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = (args.work or Path(scratch)) / "project"
        started = time.perf_counter()
        truth = create_project(root, args)
        print(f"imported {len(truth)} images in {time.perf_counter() - started:.0f} s", flush=True)
        first = drain(pretrain_job(PretrainRequest(project_root=root, size=args.size, epochs=args.epochs,
                                                   threads=args.first_threads, workers=args.workers)))
        print(f"first pretraining: {first.seconds:.0f} s, {first.run.metrics['epochs']} epochs", flush=True)
        rows = [(0.0, first.run, first.seconds)]
        done = 0.0
        for mark in sorted(m for m in args.minutes if m > 0):
            request = BackgroundPretrainRequest(project_root=root, minutes=mark - done, checkpoint_minutes=1e9,
                                                threads=args.threads, workers=args.workers, check_battery=False)
            result = drain(background_pretrain_job(request))
            if result.stopped != "time up" or result.run is None:
                raise SystemExit(f"the background pretraining stopped early: {result.stopped}")
            done = mark
            rows.append((mark, result.run, float(result.run.metrics.get("seconds", 0.0))))
            print(f"{mark:g} min: {result.line} (checkpoint run {result.run.id})", flush=True)
        paused = pause_seconds(root, args)  # after the timed legs: the checkpoints do not see these steps
        print(f"pause: {', '.join(f'{s:.2f}' for s in paused)} s from the request to the job's end", flush=True)
        table = [(mark, run, seconds, scores(root, run, truth, args)) for mark, run, seconds in rows]
    source = args.data.name if args.data else f"{args.demo} generated images"
    print(f"\n{source}: {len(truth)} images; first pretraining {args.epochs} epochs at {args.size} px; background "
          f"{args.threads} thread(s); held-out 30 %; seeds {args.seeds}; accuracy % mean ± std")
    print(f"a pause took {np.mean(paused):.2f} s on average (max {np.max(paused):.2f} s; {len(paused)} pauses)")
    heads = [f"{kind} {b}/class" for b in args.budgets for kind in ("app", "emb.")]
    print("| minutes | epochs | loss | pretraining or checkpoint s | " + " | ".join(heads) + " |")
    print("|---" * (4 + len(heads)) + "|")
    for mark, run, seconds, found in table:
        cells = []
        for budget in args.budgets:
            for kind in ("app", "embedding"):
                values = np.array(found[f"{kind}@{budget}"]) * 100
                cells.append(f"{values.mean():.1f} ± {values.std():.1f}")
        loss = run.metrics.get("loss")
        print(f"| {mark:g} | {float(run.metrics.get('epochs', 0)):.1f} | "
              f"{'' if loss is None else f'{float(loss):.3f}'} | {seconds:.0f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
