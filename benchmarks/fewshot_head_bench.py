"""Paper-001 head path (``models.fewshot.fit_head``) vs logistic regression on X-SDD.

Features need no pretrained network: the handcrafted texture statistics of
``benchmarks/demo_difficulty.py`` (intensity / residual / gradient histograms and a
16x16 thumbnail of the gray image) plus per-channel colour statistics (mean, std and an
8-bin histogram of R, G, B). Images are de-duplicated by content, a fixed stratified 30 %
per class is the test split, and for each seed 5/10/20 labels per class are drawn from
the rest; the other training-pool images are the head's unlabeled set. Both classifiers
see the same features; we report accuracy and expected calibration error (10 bins).

Usage::

    .venv/bin/python benchmarks/fewshot_head_bench.py --data /work/shared/data/x-sdd --seeds 3
    .venv/bin/python benchmarks/fewshot_head_bench.py --self-training --seeds 10 [--budgets 1 2 3 5 10 20]

``--self-training`` compares the head alone with the head refitted on its labels plus
confident pseudo-labels of the unlabeled images (issue 17: not in the product, it lost
points from 5 labels per class on).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import models  # noqa: E402,F401  (before torchvision)
from models.fewshot import ece, fit_head  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from demo_difficulty import features as texture_features  # noqa: E402
from PIL import Image  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

BUDGETS = (5, 10, 20)


def colour_features(rgb: np.ndarray) -> np.ndarray:
    pixels = rgb.reshape(-1, 3).astype(np.float32) / 255.0
    hists = [np.histogram(pixels[:, c], bins=8, range=(0.0, 1.0))[0] / len(pixels) for c in range(3)]
    return np.concatenate([pixels.mean(0), pixels.std(0), np.log(np.concatenate(hists) + 1e-4)]).astype(np.float32)


def load(root: Path) -> tuple[np.ndarray, np.ndarray, list[str], int]:
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    seen: set[str] = set()
    feats, labels, duplicates = [], [], 0
    for index, name in enumerate(classes):
        for path in sorted((root / name).iterdir()):
            if path.suffix.lower() not in {".jpg", ".jpeg", ".png", ".bmp"}:
                continue
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest in seen:
                duplicates += 1
                continue
            seen.add(digest)
            with Image.open(path) as image:
                rgb = np.asarray(image.convert("RGB"))
            gray = np.asarray(Image.fromarray(rgb).convert("L"))
            feats.append(np.concatenate([texture_features(gray), colour_features(rgb)]))
            labels.append(index)
    return np.stack(feats), np.asarray(labels), classes, duplicates


def split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    test = np.concatenate(
        [rng.permutation(np.flatnonzero(y == c))[: round(fraction * (y == c).sum())] for c in np.unique(y)]
    )
    return np.setdiff1d(np.arange(len(y)), test), np.sort(test)


def self_trained(x: np.ndarray, y: np.ndarray, train: np.ndarray, probabilities: np.ndarray, cap: int, seed: int,
                 n_classes: int):
    """The head refitted on its labels plus pseudo-labels: per predicted class, the
    unlabeled images at or above that class's median confidence, the most confident
    first, at most ``cap`` times the labels per class."""
    confidence, predicted = probabilities.max(1), probabilities.argmax(1)
    unlabeled = np.setdiff1d(np.arange(len(y)), train)
    budget = len(train) // n_classes
    keep = []
    for c in range(n_classes):
        candidates = unlabeled[predicted[unlabeled] == c]
        if len(candidates):
            candidates = candidates[confidence[candidates] >= np.quantile(confidence[candidates], 0.5)]
            keep.append(candidates[np.argsort(-confidence[candidates])][:budget * cap])
    keep = np.concatenate(keep) if keep else np.zeros(0, np.int64)
    return fit_head(np.concatenate([x[train], x[keep]]), np.concatenate([y[train], predicted[keep]]),
                    n_classes=n_classes, seed=seed, calibrate=False)


def run_self_training(x: np.ndarray, y: np.ndarray, seeds: int, budgets: tuple[int, ...]) -> list[tuple]:
    """The head alone against the head refitted with pseudo-labels (10x and 5x the labels)."""
    pool, test = split(y, 0.3, seed=0)
    n_classes = int(y.max()) + 1
    rows = []
    for budget in budgets:
        results: dict[str, tuple[list[float], list[float], list[float]]] = {}
        for seed in range(seeds):
            rng = np.random.default_rng(100 + seed)
            train = np.concatenate([rng.permutation(pool[y[pool] == c])[:budget] for c in range(n_classes)])
            t0 = time.perf_counter()
            head = fit_head(x[train], y[train], n_classes=n_classes, seed=seed, calibrate=False)
            probabilities = head.predict(x).probabilities
            entries = {"fit_head labelled only": (probabilities, time.perf_counter() - t0)}
            for cap in (10, 5):
                t0 = time.perf_counter()
                refitted = self_trained(x, y, train, probabilities, cap, seed, n_classes)
                entries[f"+ self-training (<= {cap}x labels)"] = (refitted.predict(x).probabilities,
                                                                   time.perf_counter() - t0)
            for name, (prob, seconds) in entries.items():
                acc, cal, sec = results.setdefault(name, ([], [], []))
                acc.append(100 * float((prob[test].argmax(1) == y[test]).mean()))
                cal.append(float("nan"))
                sec.append(seconds)
        rows.extend((name, budget, *vals) for name, vals in results.items())
    return rows


def run(x: np.ndarray, y: np.ndarray, seeds: int) -> list[tuple[str, int, list[float], list[float], list[float]]]:
    pool, test = split(y, 0.3, seed=0)
    n_classes = int(y.max()) + 1
    rows = []
    for budget in BUDGETS:
        results: dict[str, tuple[list[float], list[float], list[float]]] = {}
        for seed in range(seeds):
            rng = np.random.default_rng(100 + seed)
            train = np.concatenate([rng.permutation(pool[y[pool] == c])[:budget] for c in range(n_classes)])
            unlabeled = np.setdiff1d(pool, train)
            t0 = time.perf_counter()
            lr = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=3000)).fit(x[train], y[train])
            p_lr = lr.predict_proba(x[test])
            t_lr = time.perf_counter() - t0
            t0 = time.perf_counter()
            head = fit_head(x[train], y[train], n_classes=n_classes, unlabeled=x[unlabeled], seed=seed)
            pred = head.predict(x[test])
            t_head = time.perf_counter() - t0
            t0 = time.perf_counter()
            head_l = fit_head(x[train], y[train], n_classes=n_classes, seed=seed)
            pred_l = head_l.predict(x[test])
            t_head_l = time.perf_counter() - t0
            entries = {
                "logistic regression (C=1)": (p_lr.argmax(1), p_lr, t_lr),
                "fit_head + unlabeled, ArcFace logits": (pred.class_index, pred.probabilities, t_head),
                "fit_head + unlabeled, mean-similarity rule": (pred.similarity.argmax(1), None, t_head),
                "fit_head labelled only, ArcFace logits": (pred_l.class_index, pred_l.probabilities, t_head_l),
            }
            for name, (guess, prob, seconds) in entries.items():
                acc, cal, sec = results.setdefault(name, ([], [], []))
                acc.append(100 * float((guess == y[test]).mean()))
                cal.append(float("nan") if prob is None else ece(prob, y[test]))
                sec.append(seconds)
        rows.extend((name, budget, *vals) for name, vals in results.items())
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data/x-sdd"))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--self-training", action="store_true",
                        help="the head alone against the head refitted with confident pseudo-labels")
    parser.add_argument("--budgets", type=int, nargs="+", default=[1, 2, 3, 5, 10, 20],
                        help="labels per class (with --self-training)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    x, y, classes, duplicates = load(args.data)
    counts = np.bincount(y)
    print(f"{len(y)} images after removing {duplicates} duplicates, {len(classes)} classes {counts.tolist()}, "
          f"{x.shape[1]} features, {time.perf_counter() - t0:.1f} s")  # fmt: skip
    print("| classifier | labels/class | accuracy % (mean ± sd) | ECE | fit+predict s |")
    print("|---|---|---|---|---|")
    rows = run_self_training(x, y, args.seeds, tuple(args.budgets)) if args.self_training else run(x, y, args.seeds)
    for name, budget, acc, cal, sec in rows:
        ece_text = "-" if np.isnan(cal).all() else f"{np.mean(cal):.3f}"
        print(f"| {name} | {budget} | {np.mean(acc):.1f} ± {np.std(acc):.1f} | {ece_text} | {np.mean(sec):.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
