"""Cold start: how many true classes the first picks of each strategy find, and how typical they are.

    OMP_NUM_THREADS=1 python benchmarks/cold_start_bench.py --work /tmp/active-bench \
        [--sets xsdd generated mtile] [--strategies random typicality kcenter ...] [--seeds 5] \
        [--mode rounds|batch] [--accuracy]

Each set is prepared as the simulator prepares it (``benchmarks/bench_sets.py``: imported,
truth aside, the encoder pretrained once with the simulator's defaults, 30 % held out and
never suggested), so the pool's features are the app's own. Then, per strategy and seed,
without retraining:

- ``rounds`` (the simulator's first three rounds): ask for K suggestions (K = number of
  classes), reveal their true labels, ask for K more, and again;
- ``batch`` (the window after the first Retrain): one request of 200 suggestions, of
  which the labeler takes the first K, 2K, 3K in rank order.

Each seed also offers a random ``--subsample`` of the candidates (default 80 %, the same
for every strategy), so deterministic strategies show their spread too.

Columns: the true classes among the first K / 2K / 3K labeled images (mean over seeds,
the lowest seed in brackets); ``rare@2K``: in how many seeds the set's rarest class was
among the first 2K; ``typical``: the median typicality percentile of the picks (100 = the
densest image of the pool, 50 = a random one; mean distance to the 20 nearest images);
with ``--accuracy``, held-out accuracy of the app's classifier head fitted on the first
K / 3K labels (features, epochs and seed as a retrain uses them). Strategies are names or
schedules (``typicality+coverage``); ``default`` is the default schedule (its cold part:
nothing here trains a classifier).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402

STRATEGIES = ("random", "typicality", "kcenter", "default")
BATCH = 200  # suggestions per request in the window (core.active.DEFAULT_COUNT)


@dataclass
class SetData:
    name: str
    pool: object  # core.active.Pool with nothing labeled, the held-out images not candidates
    truth: np.ndarray  # (N,) true class index of every pool row
    classes: list[str]
    held: np.ndarray  # pool rows held out (scored, never suggested)
    features: np.ndarray  # (N, D) the classifier's features of every pool row


def load_set(work: Path, bench) -> SetData:
    from bench_sets import prepared

    from core.active.suggest import build_pool
    from core.store import Project
    from core.training.classify import latest_pretrain_run
    from core.training.pretrain import load_features

    base, truth = prepared(work, bench)
    with Project.open(base) as project:
        pool = build_pool(project, exclude=truth.held_out)
        ids, features = load_features(project, latest_pretrain_run(project))
    assert np.array_equal(ids, pool.ids)
    classes = truth.classes
    index = {c: k for k, c in enumerate(classes)}
    y = np.array([index[truth.labels[int(i)]] for i in pool.ids])
    held = np.flatnonzero(np.isin(pool.ids, list(truth.held_out)))
    pool.class_names = classes  # the project's classes are the folders: same names, this order
    return SetData(bench.name, pool, y, classes, held, features)


def fresh_pool(data: SetData):
    from core.active.pool import Pool

    p = data.pool
    return Pool(ids=p.ids, x=p.x, labeled=np.zeros(len(p.ids), bool), candidate=p.candidate.copy(),
                label=np.full(len(p.ids), -1), class_names=data.classes, _nn_distance=p._nn_distance,
                _reference=p._reference)


def play(data: SetData, strategy: str, seed: int, mode: str, subsample: float) -> list[int]:
    """Pool rows in the order the labeler labels them: 3K in all."""
    from core.active.suggest import select

    k = len(data.classes)
    pool = fresh_pool(data)
    if subsample < 1:  # the same images left out for every strategy of this seed
        pool.candidate &= np.random.default_rng([seed, 99]).random(len(pool.ids)) < subsample
    if mode == "batch":
        return [p.index for p in select(pool, strategy, BATCH, seed=seed)][:3 * k]
    order: list[int] = []
    for round_index in range(3):
        picks = select(pool, strategy, k, seed=seed if round_index == 0 else seed * 1000 + round_index)
        rows = [p.index for p in picks]
        order += rows
        pool.labeled[rows] = True
        pool.candidate[rows] = False
        pool.label[rows] = data.truth[rows]
    return order


def accuracy(data: SetData, rows: list[int], seed: int) -> float:
    """Held-out accuracy of the head fitted as a retrain fits it on ``rows``' true labels."""
    import torch

    from models.fewshot.head import fit_head

    y = data.truth[rows]
    present = np.unique(y)
    if len(present) < 2:
        return float(np.mean(data.truth[data.held] == present[0]))
    column = {c: k for k, c in enumerate(present)}
    torch.set_num_threads(1)
    head = fit_head(data.features[rows], np.array([column[c] for c in y]), n_classes=len(present), epochs=100,
                    seed=seed)
    predicted = present[head.predict(data.features[data.held]).class_index]
    return float(np.mean(predicted == data.truth[data.held]))


def typical_percentiles(data: SetData) -> np.ndarray:
    """(N,) typicality percentile of every pool row (100 = the densest)."""
    pool = data.pool
    spread = pool.spread(np.arange(len(pool.ids)))
    order = np.argsort(-spread, kind="stable")  # least typical first
    percentile = np.empty(len(spread))
    percentile[order] = 100.0 * np.arange(len(spread)) / max(1, len(spread) - 1)
    return percentile


def measure(data: SetData, strategies: list[str], seeds: list[int], mode: str, with_accuracy: bool,
            subsample: float) -> list[dict]:
    k = len(data.classes)
    counts = np.bincount(data.truth[data.pool.candidate], minlength=k)
    rarest = int(np.argmin(np.where(counts > 0, counts, np.iinfo(np.int64).max)))
    percentile = typical_percentiles(data)
    rows = []
    for strategy in strategies:
        found = {1: [], 2: [], 3: []}
        rare, typical, acc, seconds = [], [], {1: [], 3: []}, []
        for seed in seeds:
            started = time.perf_counter()
            order = play(data, strategy, seed, mode, subsample)
            seconds.append(time.perf_counter() - started)
            for m in found:
                found[m].append(len(set(data.truth[order[:m * k]].tolist())))
            rare.append(rarest in set(data.truth[order[:2 * k]].tolist()))
            typical.append(float(np.median(percentile[order])))
            if with_accuracy:
                for m in acc:
                    acc[m].append(accuracy(data, order[:m * k], seed))
        row = {"set": data.name, "strategy": strategy, "classes": k, "rarest": data.classes[rarest],
               "rare@2K": f"{sum(rare)}/{len(seeds)}", "typical": float(np.mean(typical)),
               "seconds": float(np.mean(seconds))}
        for m in found:
            row[f"@{m}K"] = (float(np.mean(found[m])), int(min(found[m])))
        if with_accuracy:
            for m in acc:
                row[f"acc@{m}K"] = float(np.mean(acc[m]))
        rows.append(row)
        print(_line(row), flush=True)
    return rows


def _line(row: dict) -> str:
    cells = [f"{row['set']:<10}", f"{row['strategy']:<34}"]
    for m in (1, 2, 3):
        mean, low = row[f"@{m}K"]
        cells.append(f"{mean:4.1f} ({low})/{row['classes']}")
    cells += [f"{row['rare@2K']:>6}", f"{row['typical']:6.1f}"]
    cells += [f"{100 * row[c]:6.1f}" for c in ("acc@1K", "acc@3K") if c in row]
    cells.append(f"{row['seconds']:6.2f}")
    return " | ".join(cells)


def header(with_accuracy: bool) -> str:
    cells = [f"{'set':<10}", f"{'strategy':<34}", "classes@K ", "classes@2K", "classes@3K", "rare@2K", "typical"]
    cells += ["acc@K ", "acc@3K"] if with_accuracy else []
    cells.append("s/run ")
    return " | ".join(cells)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True, help="prepared sets are kept here (reused)")
    parser.add_argument("--sets", nargs="+", default=["xsdd", "generated", "mtile"])
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--mode", choices=("rounds", "batch"), default="rounds")
    parser.add_argument("--accuracy", action="store_true", help="also fit the classifier head on the picks")
    parser.add_argument("--subsample", type=float, default=0.8,
                        help="each seed offers only this share of the candidates (default 0.8; 1: all)")
    args = parser.parse_args()

    from bench_sets import bench_sets
    from cold_start_candidates import register

    import models  # noqa: F401  (torchvision hook)

    register()

    print(f"mode {args.mode}, seeds 0..{args.seeds - 1}, {args.subsample:.0%} of the candidates per seed; classes"
          f" found: mean (lowest seed) / classes")
    print(header(args.accuracy))
    for bench in bench_sets(args.work, args.sets):
        data = load_set(args.work, bench)
        measure(data, args.strategies, list(range(args.seeds)), args.mode, args.accuracy, args.subsample)
    return 0


if __name__ == "__main__":
    sys.exit(main())
