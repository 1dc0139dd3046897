"""Few-label accuracy of the app's pipeline on a folder of class sub-folders.

    python benchmarks/fewlabel_bench.py --data ../shared/data/x-sdd [--epochs 20] [--size 96]
        [--methods none simclr nnclr] [--budgets 5 10 20] [--seeds 0 1 2]

Imports the folder into a fresh project (duplicates removed by content), pretrains the
encoder on every image without labels (``none``: a random-init encoder, the control),
then for each budget and seed draws that many labeled images per class from the
training part, trains the classifier head on the embeddings and scores a fixed
held-out 30 % (never labeled): accuracy and macro-F1, mean ± std over seeds, with the
wall time of each phase. Also logistic regression on the same embeddings.
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
from core.store import Project  # noqa: E402
from core.training import PretrainRequest, load_embeddings, pretrain_job  # noqa: E402


def embeddings_for(project_root: Path, method: str, args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, float]:
    started = time.perf_counter()
    if method == "none":
        import torch

        from core.pixel_cache import build_pixel_cache
        from core.training.pretrain import _cache_size
        from models.encoders import create_encoder
        from models.ssl import embed_images, prepare_images

        torch.manual_seed(0)
        with Project.open(project_root) as project:
            cache = drain(build_pixel_cache(project, _cache_size(args.size)))
        encoder = create_encoder(args.encoder, in_channels=1)
        images = torch.from_numpy(np.array(cache.pixels))[:, None]
        vectors = embed_images(encoder, prepare_images(images, size=args.size)).numpy()
        return cache.ids, vectors, time.perf_counter() - started
    request = PretrainRequest(project_root=project_root, method=method, encoder=args.encoder, size=args.size,
                              epochs=args.epochs, batch_size=args.batch_size, seed=0)
    result = drain(pretrain_job(request))
    with Project.open(project_root) as project:
        ids, vectors = load_embeddings(project, result.run)
    return ids, vectors, time.perf_counter() - started


def split(labels: np.ndarray, seed: int = 12345) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    test = np.zeros(len(labels), dtype=bool)
    for k in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == k))
        test[members[: int(round(0.3 * len(members)))]] = True
    return np.flatnonzero(~test), np.flatnonzero(test)


def score(method: str, x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray, budget: int,
          seed: int) -> dict[str, tuple[float, float, float]]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score

    from models.fewshot.head import fit_head

    rng = np.random.default_rng(seed)
    chosen = np.concatenate([rng.choice(train[y[train] == k], size=min(budget, int((y[train] == k).sum())),
                                        replace=False) for k in np.unique(y)])
    out = {}
    started = time.perf_counter()
    head = fit_head(x[chosen], y[chosen], n_classes=int(y.max()) + 1, seed=seed)
    predicted = head.predict(x[test]).class_index
    out["ArcFace head"] = (accuracy_score(y[test], predicted), f1_score(y[test], predicted, average="macro"),
                           time.perf_counter() - started)
    started = time.perf_counter()
    lr = LogisticRegression(C=1.0, max_iter=2000).fit(x[chosen], y[chosen])
    predicted = lr.predict(x[test])
    out["logistic regression"] = (accuracy_score(y[test], predicted), f1_score(y[test], predicted, average="macro"),
                                  time.perf_counter() - started)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--methods", nargs="+", default=["none", "simclr", "nnclr"])
    parser.add_argument("--budgets", type=int, nargs="+", default=[5, 10, 20])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--encoder", default="shufflenet")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    rows = []
    for method in args.methods:
        with tempfile.TemporaryDirectory() as scratch:
            root = Path(scratch) / "project"
            with Project.create(root) as project:
                import_folder(project, args.data, ImportOptions(labels_from_folders=True))
                truth = {i: c for i, c in project.db.all("SELECT image_id, class_id FROM labels")}
            ids, x, seconds = embeddings_for(root, method, args)
        y_ids = np.array([truth[int(i)] for i in ids])
        _, y = np.unique(y_ids, return_inverse=True)
        train, test = split(y)
        torch.set_num_threads(1)
        for budget in args.budgets:
            results: dict[str, list] = {}
            for seed in args.seeds:
                for name, value in score(method, x, y, train, test, budget, seed).items():
                    results.setdefault(name, []).append(value)
            for name, values in results.items():
                acc = np.array([v[0] for v in values]) * 100
                f1 = np.array([v[1] for v in values]) * 100
                fit = np.mean([v[2] for v in values])
                rows.append((method, name, budget, acc.mean(), acc.std(), f1.mean(), f1.std(), seconds, fit))
        torch.set_num_threads(2)
    print(f"\n{args.data.name}: encoder {args.encoder} {args.size}px, {args.epochs} epochs, held-out 30 %,"
          f" seeds {args.seeds}")
    print("| pretraining | classifier | labels/class | accuracy % | macro-F1 % | pretrain+embed s | fit s |")
    print("|---|---|---|---|---|---|---|")
    for method, name, budget, acc, acc_sd, f1, f1_sd, seconds, fit in rows:
        print(f"| {method} | {name} | {budget} | {acc:.1f} ± {acc_sd:.1f} | {f1:.1f} ± {f1_sd:.1f} |"
              f" {seconds:.0f} | {fit:.2f} |")


if __name__ == "__main__":
    main()
