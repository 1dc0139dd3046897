"""A quick probe of the nearest-neighbour proposer's patch descriptors on magnetic-tile,
outside the project machinery: image AUROC (score: the level the strongest 0.1 % of the
smoothed distance map reaches) and pixel AUROC, for variants of the bank and the scoring.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/proposer_probe.py [--scale 0.6]
        [--variant base|ring|edge-norm|edge-features|shifted] [--train 400]

400 OK images build the bank (a greedy coreset of 5,000 of 60,000 random patches, as the
proposer does), 150 other OK and 150 defective images are scored (seed 0).

- ``ring``: the two outer cell rings of every image scored as the image's quietest cell
  (a diagnosis, not a method: it loses defects at the edges).
- ``edge-norm``: each cell's distance divided by the ``--quantile`` of OK cells at the same
  distance from the image's edges (0..3+ cells in each axis), learned on 150 held-back OK images.
- ``edge-features``: the cell's distance to the nearest edge (signed by side, capped at 4
  cells) appended to its descriptor, weighted by ``--weight``.
- ``shifted``: the bank also holds every OK image shifted by 4 px in each axis.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from PIL import Image  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from models.patchcore import PatchMemory, PixelPatches, distance_map, greedy_coreset  # noqa: E402

DEFECTS = ("Blowhole", "Break", "Crack", "Fray", "Uneven")
CAP = 3  # edge-distance buckets: 0, 1, 2, 3+ cells


def load(path: Path, scale: float) -> tuple[np.ndarray, np.ndarray]:
    with Image.open(path) as image:
        gray = image.convert("L")
        width, height = gray.size
        size = (max(8, round(width * scale)), max(8, round(height * scale)))
        pixels = np.asarray(gray.resize(size, Image.Resampling.BILINEAR))
    with Image.open(path.with_suffix(".png")) as mask:
        truth = np.asarray(mask.convert("L").resize(size, Image.Resampling.NEAREST)) > 127
    return pixels, truth


def edge_buckets(height: int, width: int) -> np.ndarray:
    rows = np.minimum(np.arange(height), height - 1 - np.arange(height)).clip(max=CAP)
    cols = np.minimum(np.arange(width), width - 1 - np.arange(width)).clip(max=CAP)
    return rows[:, None] * (CAP + 1) + cols[None, :]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data/magnetic-tile"))
    parser.add_argument("--scale", type=float, default=0.6)
    parser.add_argument("--variant", choices=("base", "ring", "edge-norm", "edge-features", "shifted"), default="base")
    parser.add_argument("--quantile", type=float, default=0.99)
    parser.add_argument("--weight", type=float, default=3.0)
    parser.add_argument("--train", type=int, default=400)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    free = sorted((args.data / "MT_Free" / "Imgs").glob("*.jpg"))
    rng.shuffle(free)
    defects = sorted(p for name in DEFECTS for p in (args.data / f"MT_{name}" / "Imgs").glob("*.jpg"))
    rng.shuffle(defects)
    train, held_back, test = free[:args.train], free[550:700], free[400:550] + defects[:150]
    describe = PixelPatches()

    def cells(pixels: np.ndarray) -> torch.Tensor:
        described = describe(torch.from_numpy(pixels.astype(np.float32) / 255)[None, None])[0]
        if args.variant == "edge-features":
            height, width = described.shape[1:]
            extra = []
            for n in (height, width):
                k = torch.arange(n).float()
                near = 1 - torch.minimum(k, n - 1 - k).clamp(max=4.0) / 4.0
                extra.append(near * torch.where(k < n / 2, 1.0, -1.0))
            described = torch.cat([described, args.weight * extra[0][None, :, None].expand(1, height, width),
                                   args.weight * extra[1][None, None, :].expand(1, height, width)])
        return described

    began = time.perf_counter()
    shifts = ((0, 0), (0, 4), (4, 0), (4, 4)) if args.variant == "shifted" else ((0, 0),)
    rows = [cells(load(p, args.scale)[0][dy:, dx:]).flatten(1).T for p in train for dy, dx in shifts]
    patches = torch.cat(rows)
    patches = patches[torch.randperm(len(patches), generator=torch.Generator().manual_seed(0))[:60_000]]
    memory = PatchMemory(patches[greedy_coreset(patches, 5_000)])

    def distances(pixels: np.ndarray) -> np.ndarray:
        described = cells(pixels)
        height, width = described.shape[1:]
        return memory.nearest(described.flatten(1).T).view(height, width).numpy()

    norm = None
    if args.variant == "edge-norm":
        by_bucket: list[list[np.ndarray]] = [[] for _ in range((CAP + 1) ** 2)]
        for path in held_back:
            d = distances(load(path, args.scale)[0])
            buckets = edge_buckets(*d.shape)
            for k in range(len(by_bucket)):
                by_bucket[k].append(d[buckets == k])
        norm = np.array([np.quantile(np.concatenate(b), args.quantile) for b in by_bucket])
    scores, truth, pixel_scores, pixel_truth = [], [], [], []
    for path in test:
        pixels, mask = load(path, args.scale)
        d = distances(pixels)
        if norm is not None:
            d = d / norm[edge_buckets(*d.shape)]
        if args.variant == "ring" and min(d.shape) > 4:
            d = d.copy()
            quiet = d[2:-2, 2:-2].min()
            d[:2], d[-2:], d[:, :2], d[:, -2:] = quiet, quiet, quiet, quiet
        smooth = distance_map(d, *pixels.shape)
        k = max(9, int(0.001 * smooth.size))
        scores.append(float(np.partition(smooth.ravel(), -k)[-k]))
        truth.append(bool(mask.any()))
        picked = rng.choice(smooth.size, min(smooth.size, 400), replace=False)
        pixel_scores.append(smooth.ravel()[picked])
        pixel_truth.append(mask.ravel()[picked])
        if mask.any():
            pixel_scores.append(smooth[mask][:200])
            pixel_truth.append(np.ones(min(200, int(mask.sum())), bool))
    scores_a, truth_a = np.array(scores), np.array(truth)
    kinds = np.array(["Free" if "MT_Free" in str(p) else p.parts[-3].removeprefix("MT_") for p in test])
    per_kind = " ".join(f"{name} {roc_auc_score(truth_a[(kinds == name) | (kinds == 'Free')], scores_a[(kinds == name) | (kinds == 'Free')]):.3f}"  # noqa: E501
                        for name in DEFECTS)
    print("| variant | scale | image AUROC | pixel AUROC | per defect kind | s |")
    print("|---|---|---|---|---|---|")
    print(f"| {args.variant} | {args.scale} | {roc_auc_score(truth_a, scores_a):.3f} | "
          f"{roc_auc_score(np.concatenate(pixel_truth), np.concatenate(pixel_scores)):.3f} | {per_kind} | "
          f"{time.perf_counter() - began:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
