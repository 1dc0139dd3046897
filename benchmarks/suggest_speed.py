"""How long choosing suggestions takes for large projects, per strategy.

    python benchmarks/suggest_speed.py [--images 10000 100000] [--n 200] [--classes 7] [--threads 2]

Synthetic features shaped like the app's (N x 1,120: a 1,024-d embedding block and
texture statistics) in clusters, a fifth of them with a label, and Dirichlet class
probabilities. Prints a table: PCA to 32 dimensions (done once per pretraining run and
cached), reading the classifier's probabilities back from SQLite, then each strategy
choosing ``n`` suggestions. The default schedule runs its warm phase (margin +
typicality) here, since a fifth of the images are labeled.
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

from core.active.strategies import STRATEGY_FUNCTIONS, Pool  # noqa: E402
from core.active.suggest import pca, select  # noqa: E402


def features(n: int, dims: int = 1120, clusters: int = 40, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dims)).astype(np.float32)
    return (centres[rng.integers(clusters, size=n)] + rng.normal(size=(n, dims)).astype(np.float32)).astype(
        np.float32)


def read_probabilities(n: int, classes: int, rng: np.random.Generator) -> float:
    """Seconds to read ``n`` stored probability vectors back, as build_pool does."""
    from core.store import NewImage, Project, RunKind, RunStatus

    p = rng.dirichlet(np.ones(classes), size=n).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp, Project.create(tmp) as project:
        ids = project.images.add_many([NewImage(path=f"{i}.png", hash=f"h{i}", width=8, height=8, channels=1,
                                                bit_depth=8, mode="L", gray=True, file_size=64, mtime=0.0)
                                       for i in range(n)])
        run = project.runs.start(method=RunKind.CLASSIFIER.method(), config={}, label_snapshot={}, seed=None)
        project.runs.finish(run.id, status=RunStatus.DONE)
        project.predictions.save(run.id, np.array(ids), None, p.max(1), 1 - p.max(1), probabilities=p)
        started = time.perf_counter()
        project.predictions.probability_matrix(run.id)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--classes", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import threadpoolctl

    threadpoolctl.threadpool_limits(args.threads)
    names = ["pca (once per encoder)", "read probabilities", *STRATEGY_FUNCTIONS, "default"]
    results: dict[int, dict[str, float]] = {}
    for n_images in args.images:
        rng = np.random.default_rng(1)
        row: dict[str, float] = {}
        raw = features(n_images)
        started = time.perf_counter()
        x = pca(raw, 32)
        row["pca (once per encoder)"] = time.perf_counter() - started
        del raw
        row["read probabilities"] = read_probabilities(n_images, args.classes, rng)
        labeled = rng.random(n_images) < 0.2
        label = np.where(labeled, rng.integers(args.classes, size=n_images), -1)
        pool = Pool(ids=np.arange(n_images), x=x, labeled=labeled, candidate=~labeled, label=label,
                    class_names=[f"c{k}" for k in range(args.classes)],
                    probabilities=rng.dirichlet(np.ones(args.classes), size=n_images).astype(np.float32),
                    prob_classes=np.arange(args.classes))
        pool.nn_distance()  # computed once per pool, shared by the strategies
        for name in [*STRATEGY_FUNCTIONS, "default"]:
            started = time.perf_counter()
            select(pool, name, args.n, seed=0)
            row[name] = time.perf_counter() - started
        results[n_images] = row
    print(f"\nseconds to choose {args.n} suggestions ({args.threads} threads)\n")
    print("| step | " + " | ".join(f"{n:,} images" for n in args.images) + " |")
    print("|---" * (len(args.images) + 1) + "|")
    for name in names:
        print(f"| {name} | " + " | ".join(f"{results[n][name]:.2f}" for n in args.images) + " |")


if __name__ == "__main__":
    main()
