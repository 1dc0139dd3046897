"""Few-label accuracy of the app's classifier on a folder of class sub-folders.

    python benchmarks/fewlabel_bench.py --data ../shared/data/x-sdd [--epochs 15] [--size 96]
        [--methods none simclr nnclr] [--budgets 5 10 20] [--seeds 0 1 2] [--finetune]

Imports the folder into a fresh project (duplicates removed by content) and runs the
app's own pretraining job on every image without labels (``none``: the same job with 0
epochs, i.e. a random-init encoder, the control). The job also computes the texture
statistics. Then, for each budget and seed, it draws that many labeled images per class
from the training part, fits the classifier exactly as a retrain does (ArcFace head on
``[w * embedding, texture]``) and scores a fixed held-out 30 % that is never labeled:
accuracy and macro-F1, mean ± std over seeds, with the wall time of each phase.
Reference rows: the head on the texture statistics alone and on the embedding alone,
and logistic regression on the app's features. ``--finetune`` adds the thorough path
(encoder fine-tuned with the paper-001 loss on the labeled images, then the head).
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
from core.training import PretrainRequest, pretrain_job  # noqa: E402
from core.training.pretrain import load_embeddings, load_features  # noqa: E402


def pretrain(project_root: Path, method: str, args: argparse.Namespace) -> dict:
    started = time.perf_counter()
    request = PretrainRequest(project_root=project_root, method="simclr" if method == "none" else method,
                              encoder=args.encoder, size=args.size, epochs=0 if method == "none" else args.epochs,
                              batch_size=args.batch_size, seed=0)
    phases: dict[str, float] = {}
    last = [started, None]

    def on_progress(record) -> None:
        now = time.perf_counter()
        if last[1] is not None:
            phases[last[1]] = phases.get(last[1], 0.0) + now - last[0]
        last[0], last[1] = now, record.phase

    result = drain(pretrain_job(request), on_progress)
    if last[1] is not None:
        phases[last[1]] = phases.get(last[1], 0.0) + time.perf_counter() - last[0]
    with Project.open(project_root) as project:
        ids, features = load_features(project, result.run)
        _, embeddings = load_embeddings(project, result.run)
        checkpoint_path = project.runs_dir / result.run.checkpoint
    texture = features[:, embeddings.shape[1]:]
    return {"ids": ids, "features": features, "embeddings": embeddings, "texture": texture, "phases": phases,
            "seconds": time.perf_counter() - started, "checkpoint": checkpoint_path,
            "root": project_root}


def split(labels: np.ndarray, seed: int = 12345) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    test = np.zeros(len(labels), dtype=bool)
    for k in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == k))
        test[members[: int(round(0.3 * len(members)))]] = True
    return np.flatnonzero(~test), np.flatnonzero(test)


def finetuned_features(data: dict, chosen: np.ndarray, y: np.ndarray, args: argparse.Namespace, seed: int):
    import torch

    from core.media.pixel_cache import open_pixel_cache
    from core.training.model_io import build_feature_extractor
    from models.features import block_weight
    from models.fewshot.finetune import finetune_encoder

    checkpoint = torch.load(data["checkpoint"], map_location="cpu", weights_only=True)
    extractor = build_feature_extractor(checkpoint)
    with Project.open(data["root"]) as project:
        cache = open_pixel_cache(project, int(checkpoint["config"]["cache_size"]))
        pixels = torch.from_numpy(np.array(cache.pixels)[cache.index_of(data["ids"])])[:, None]
    finetune_encoder(extractor.encoder, pixels[chosen], torch.from_numpy(y[chosen]), size=args.size,
                     n_classes=int(y.max()) + 1, seed=seed)
    with torch.no_grad():
        embeddings = torch.cat([extractor.embed(pixels[i:i + 256].float() / 255)
                                for i in range(0, len(pixels), 256)]).numpy()
    weight = block_weight(embeddings, data["texture"])
    return np.concatenate([embeddings * weight, data["texture"]], axis=1)


def score(data: dict, y: np.ndarray, train: np.ndarray, test: np.ndarray, budget: int, seed: int,
          args: argparse.Namespace) -> dict[str, tuple[float, float, float]]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score

    from models.fewshot.head import fit_head

    rng = np.random.default_rng(seed)
    chosen = np.concatenate([rng.choice(train[y[train] == k], size=min(budget, int((y[train] == k).sum())),
                                        replace=False) for k in np.unique(y)])
    n_classes = int(y.max()) + 1
    out = {}

    def record(name: str, predicted: np.ndarray, started: float) -> None:
        out[name] = (accuracy_score(y[test], predicted), f1_score(y[test], predicted, average="macro"),
                     time.perf_counter() - started)

    for name, x in (("app: ArcFace head on embedding + texture", data["features"]),
                    ("ArcFace head, texture only", data["texture"]),
                    ("ArcFace head, embedding only", data["embeddings"])):
        started = time.perf_counter()
        record(name, fit_head(x[chosen], y[chosen], n_classes=n_classes, seed=seed).predict(x[test]).class_index,
               started)
    started = time.perf_counter()
    lr = LogisticRegression(C=1.0, max_iter=3000).fit(data["features"][chosen], y[chosen])
    record("logistic regression on embedding + texture", lr.predict(data["features"][test]), started)
    if args.finetune:
        started = time.perf_counter()
        x = finetuned_features(data, chosen, y, args, seed)
        record("fine-tuned encoder (paper-001 loss), then the head",
               fit_head(x[chosen], y[chosen], n_classes=n_classes, seed=seed).predict(x[test]).class_index, started)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--methods", nargs="+", default=["none", "simclr", "nnclr"])
    parser.add_argument("--budgets", type=int, nargs="+", default=[5, 10, 20])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--encoder", default="shufflenet")
    parser.add_argument("--finetune", action="store_true")
    args = parser.parse_args()
    import torch

    rows, timings = [], []
    for method in args.methods:
        torch.set_num_threads(2)
        with tempfile.TemporaryDirectory() as scratch:
            root = Path(scratch) / "project"
            started = time.perf_counter()
            with Project.create(root) as project:
                import_folder(project, args.data, ImportOptions(labels_from_folders=True))
                truth = project.labels.class_by_image()
            imported = time.perf_counter() - started
            data = pretrain(root, method, args)
            timings.append((method, imported, data["phases"]))
            _, y = np.unique(np.array([truth[int(i)] for i in data["ids"]]), return_inverse=True)
            train, test = split(y)
            torch.set_num_threads(1)  # what the classify job uses
            for budget in args.budgets:
                results: dict[str, list] = {}
                for seed in args.seeds:
                    for name, value in score(data, y, train, test, budget, seed, args).items():
                        results.setdefault(name, []).append(value)
                for name, values in results.items():
                    acc = np.array([v[0] for v in values]) * 100
                    f1 = np.array([v[1] for v in values]) * 100
                    rows.append((method, name, budget, acc.mean(), acc.std(), f1.mean(), f1.std(),
                                 np.mean([v[2] for v in values])))
                    print(*rows[-1], flush=True)
    print(f"\n{args.data.name}: {len(y)} images, {len(np.unique(y))} classes, held-out 30 % ({len(test)} images);"
          f" encoder {args.encoder} {args.size}px, {args.epochs} epochs, seeds {args.seeds}")
    print("| pretraining | classifier | labels/class | accuracy % | macro-F1 % | fit + predict s |")
    print("|---|---|---|---|---|---|")
    for method, name, budget, acc, acc_sd, f1, f1_sd, fit in rows:
        print(f"| {method} | {name} | {budget} | {acc:.1f} ± {acc_sd:.1f} | {f1:.1f} ± {f1_sd:.1f} | {fit:.1f} |")
    print("\n| pretraining | import s | pixel cache s | pretraining s | embedding + texture s |")
    print("|---|---|---|---|---|")
    for method, imported, phases in timings:
        decoding, training, embedding = (phases.get(p, 0.0) for p in ("decoding images", "pretraining", "embedding"))
        print(f"| {method} | {imported:.0f} | {decoding:.0f} | {training:.0f} | {embedding:.0f} |")


if __name__ == "__main__":
    main()
