"""How hard is the demo data set? A handcrafted-feature baseline with few labels.

Renders a demo data set in memory, computes simple features (intensity histogram,
gradient-magnitude and gradient-orientation histograms, a 16x16 thumbnail) and fits a
logistic regression on 5, 10 and 20 random labels per class, testing on the rest. A
"many labels" line trains on half of the data. The generator is tuned so the few-label
accuracy is clearly below 100 % while the task stays learnable.

Usage::

    .venv/bin/python benchmarks/demo_difficulty.py --images 1400 --size 128 --seeds 3
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.demo import ALL_CLASSES, plan_classes, render_sample  # noqa: E402

logger = logging.getLogger(__name__)

BUDGETS = (5, 10, 20)
N_HISTOGRAM = 32 + 32 + 3 * (16 + 12)
THUMB_WEIGHT = 0.1


def _gradient_histograms(pixels: np.ndarray) -> list[np.ndarray]:
    """Return the relative gradient-magnitude and the orientation histogram of one scale."""
    gy, gx = np.gradient(pixels)
    magnitude = np.hypot(gx, gy)
    relative = magnitude / max(float(np.median(magnitude)), 1e-6)
    mag_hist = np.histogram(np.log1p(relative), bins=16, range=(0.0, 3.5))[0] / pixels.size
    angle = np.mod(np.arctan2(gy, gx), np.pi)
    orient = np.histogram(angle, bins=12, range=(0.0, np.pi), weights=magnitude)[0]
    return [mag_hist, orient / max(float(orient.sum()), 1e-6)]


def features(image: np.ndarray) -> np.ndarray:
    """Return handcrafted features of one uint8 image.

    The image is standardised (zero mean, unit std) so global brightness and contrast do
    not matter. Features: intensity histogram, histogram of the residual after removing
    the 16x16 thumbnail (local contrast), gradient-magnitude (relative to the median) and
    magnitude-weighted orientation histograms at scales 1, 1/2 and 1/4, all as
    log-frequencies, then the 16x16 thumbnail itself.
    """
    pixels = image.astype(np.float32)
    pixels = (pixels - pixels.mean()) / max(float(pixels.std()), 1e-3)
    height, width = pixels.shape
    thumb_image = Image.fromarray(pixels).resize((16, 16), Image.Resampling.BOX)
    low = np.asarray(thumb_image.resize((width, height), Image.Resampling.BILINEAR))
    residual = (pixels - low) / max(float((pixels - low).std()), 1e-3)
    parts = [
        np.histogram(pixels, bins=32, range=(-4.0, 4.0))[0] / pixels.size,
        np.histogram(residual, bins=32, range=(-5.0, 5.0))[0] / pixels.size,
    ]
    for factor in (1, 2, 4):
        scaled = pixels if factor == 1 else np.asarray(Image.fromarray(pixels).reduce(factor))
        parts.extend(_gradient_histograms(scaled))
    histograms = np.log(np.concatenate(parts) + 1e-4)
    thumb = np.asarray(thumb_image, dtype=np.float32).ravel() * THUMB_WEIGHT
    return np.concatenate([histograms, thumb]).astype(np.float32)


def _render_features(args: tuple[int, int, int, str]) -> np.ndarray:
    """Render one sample and return its features (process-pool helper)."""
    index, seed, size, class_name = args
    return features(render_sample(index, seed=seed, size=size, class_name=class_name).image)


def build_dataset(n_images: int, size: int, seed: int, workers: int) -> tuple[np.ndarray, np.ndarray]:
    """Render ``n_images`` samples and return ``(features, class indices)``."""
    classes = plan_classes(n_images, seed=seed, ok_fraction=1.0 / len(ALL_CLASSES))
    jobs = [(i, seed, size, name) for i, name in enumerate(classes)]
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            rows = list(pool.map(_render_features, jobs, chunksize=32))
    else:
        rows = [_render_features(job) for job in jobs]
    labels = np.array([ALL_CLASSES.index(name) for name in classes])
    return np.stack(rows), labels


def _fit_score(x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray) -> tuple[float, np.ndarray]:
    """Fit the baseline on ``train`` indices; return test accuracy and the confusion matrix."""
    scaler = ColumnTransformer(
        [
            ("histograms", StandardScaler(), slice(0, N_HISTOGRAM)),
            ("thumbnail", "passthrough", slice(N_HISTOGRAM, None)),
        ]
    )
    model = make_pipeline(scaler, LogisticRegression(C=0.1, max_iter=3000))
    model.fit(x[train], y[train])
    predicted = model.predict(x[test])
    matrix = confusion_matrix(y[test], predicted, labels=range(len(ALL_CLASSES)))
    return float(np.mean(predicted == y[test])), matrix


def _split(y: np.ndarray, per_class: int | None, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Pick ``per_class`` training indices per class (``None``: half of each class)."""
    train: list[int] = []
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        take = len(members) // 2 if per_class is None else per_class
        train.extend(members[:take].tolist())
    train_idx = np.array(sorted(train))
    return train_idx, np.setdiff1d(np.arange(len(y)), train_idx)


def evaluate(x: np.ndarray, y: np.ndarray, seeds: int) -> tuple[list[tuple[str, float, float]], np.ndarray]:
    """Return ``(rows of (budget, mean, std), summed confusion at the smallest budget)``."""
    rows: list[tuple[str, float, float]] = []
    confusion = np.zeros((len(ALL_CLASSES), len(ALL_CLASSES)), dtype=np.int64)
    for budget in (*BUDGETS, None):
        scores = []
        for repeat in range(seeds):
            train, test = _split(y, budget, np.random.default_rng([repeat, budget or 0]))
            score, matrix = _fit_score(x, y, train, test)
            scores.append(score)
            if budget == BUDGETS[0]:
                confusion += matrix
        name = f"{budget}/class" if budget is not None else "many (50%)"
        rows.append((name, float(np.mean(scores)), float(np.std(scores))))
    return rows, confusion


def print_report(rows: list[tuple[str, float, float]], confusion: np.ndarray) -> None:
    """Print the accuracy table and the row-normalised confusion matrix."""
    print(f"chance: {1.0 / len(ALL_CLASSES):.3f}")
    print(f"{'labels':>12}  accuracy")
    for name, mean, std in rows:
        print(f"{name:>12}  {mean:.3f} ± {std:.3f}")
    print(f"\nconfusion at {BUDGETS[0]}/class (rows: truth, % of row)")
    short = [name[:7] for name in ALL_CLASSES]
    print(" " * 16 + " ".join(f"{s:>7}" for s in short))
    for name, row in zip(ALL_CLASSES, confusion, strict=True):
        percent = 100.0 * row / max(int(row.sum()), 1)
        print(f"{name:>16}" + " ".join(f"{p:7.1f}" for p in percent))


def write_contact_sheet(path: Path, size: int, seed: int, per_class: int = 8) -> None:
    """Write a grid with one row per class (``ALL_CLASSES`` order) of rendered samples."""
    rows = []
    for row, class_name in enumerate(ALL_CLASSES):
        tiles = [
            np.pad(
                render_sample(10_000 * row + i, seed=seed, size=size, class_name=class_name).image,
                2,
                constant_values=255,
            )
            for i in range(per_class)
        ]
        rows.append(np.concatenate(tiles, axis=1))
    Image.fromarray(np.concatenate(rows, axis=0)).save(path)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1400, help="images to render (default 1400)")
    parser.add_argument("--size", type=int, default=128, help="image side in pixels (default 128)")
    parser.add_argument("--seeds", type=int, default=3, help="random label draws per budget (default 3)")
    parser.add_argument("--data-seed", type=int, default=0, help="generator seed (default 0)")
    parser.add_argument("--workers", type=int, default=1, help="render processes (default 1)")
    parser.add_argument("--sheet", type=Path, default=None, help="also write a contact sheet PNG here")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    x, y = build_dataset(args.images, args.size, args.data_seed, args.workers)
    rendered = time.perf_counter() - start
    print(f"{args.images} images at {args.size} px rendered + featurised in {rendered:.1f} s")
    rows, confusion = evaluate(x, y, args.seeds)
    print_report(rows, confusion)
    if args.sheet is not None:
        write_contact_sheet(args.sheet, args.size, args.data_seed)
        print(f"\ncontact sheet: {args.sheet}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
