"""Mixed supervision on magnetic-tile: the app's defect detector with image labels for
every training image and masks for N of its defective images.

    python benchmarks/segdec_bench.py --data ../shared/data/magnetic-tile \
        [--masks 0 5 10 20 all] [--seeds 0 1 2] [--widths narrow full] [--size 128] [--epochs 15]
        [--device cpu|cuda] [--out results.jsonl] [--train KEY=VALUE ...] [--tag NAME]
    python benchmarks/segdec_bench.py --table results.jsonl [more.jsonl ...]

Builds one project from the ``MT_*/Imgs/*.jpg`` images (MT_Free -> the OK class, every
other category a defect class), holds out a fixed stratified 30 % that is never labeled,
labels every other image with its category and, per run, gives masks (from the data
set's PNGs, > 127) to N defective training images drawn by the seed. Each run is the
app's own job (``core.training.segdec.segdec_job``: its validation split, best epoch,
threshold) and is scored on the held-out images from the stored predictions:
AP, AUROC, F1 at the run's own threshold (chosen on its validation images), and F1 at
the best threshold on the held-out set (how paper 002 / Božič report it, optimistic).
Prints mean ± std over seeds and the training seconds per run; ``--out`` appends one
JSON line per run so a long benchmark can be resumed or merged.
"""

from __future__ import annotations

import argparse
import json
import os
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
from core.store import ClassKind, Project  # noqa: E402
from core.training.detection import choose_threshold, detection_metrics  # noqa: E402
from core.training.segdec import SegDecRequest, segdec_job  # noqa: E402

OK_FOLDER = "MT_Free"


def build_project(data: Path, root: Path, holdout: float, split_seed: int) -> dict:
    """A project of every image (masks kept aside), its truth and the fixed split."""
    staging = root / "images"
    truth = {}
    for folder in sorted(p for p in data.iterdir() if p.is_dir() and p.name.startswith("MT_")):
        (staging / folder.name).mkdir(parents=True, exist_ok=True)
        for jpg in sorted((folder / "Imgs").glob("*.jpg")):
            link = staging / folder.name / jpg.name
            if not link.exists():
                link.symlink_to(jpg.resolve())
            truth[f"{folder.name}/{jpg.name}"] = (folder.name, jpg.with_suffix(".png"))
    project_root = root / "project"
    fresh = not (project_root / "project.sqlite").exists()  # else reuse it (and its pixel cache)
    with (Project.create(project_root) if fresh else Project.open(project_root)) as project:
        if fresh:
            project.classes.add("ok", kind=ClassKind.OK, actor="bench", source="bench")
            for name in sorted({c for c, _ in truth.values()} - {OK_FOLDER}):
                project.classes.add(name.removeprefix("MT_").lower(), kind=ClassKind.DEFECT, actor="bench",
                                    source="bench")
            import_folder(project, staging, ImportOptions(actor="bench"))
        rows = {}
        for image in project.images.list():
            key = "/".join(Path(image.path).parts[-2:])
            if key in truth:
                rows[image.id] = truth[key]
    rng = np.random.default_rng(split_seed)
    ids = np.array(sorted(rows))
    test = np.zeros(len(ids), bool)
    for category in sorted({c for c, _ in rows.values()}):
        members = np.flatnonzero([rows[i][0] == category for i in ids])
        test[rng.choice(members, int(round(holdout * len(members))), replace=False)] = True
    with Project.open(project_root) as project:
        project.labels.apply([(int(i), "ok" if rows[i][0] == OK_FOLDER else rows[i][0].removeprefix("MT_").lower())
                              for i in ids[~test]], actor="bench", source="bench")
    return {"root": project_root, "rows": rows, "train": ids[~test], "test": ids[test]}


def set_masks(project_root: Path, setup: dict, n_masks: int | None, seed: int) -> int:
    """Removes every mask, then masks ``n_masks`` (None: all) defective training images."""
    from PIL import Image

    rows = setup["rows"]
    defective = [int(i) for i in setup["train"] if rows[int(i)][0] != OK_FOLDER]
    rng = np.random.default_rng(1000 + seed)
    chosen = defective if n_masks is None else rng.choice(defective, min(n_masks, len(defective)),
                                                           replace=False).tolist()
    with Project.open(project_root) as project:
        names = {c.name: c.id for c in project.classes.list()}
        for image_id in list(project.masks.all()):
            project.masks.save(image_id, None, actor="bench", source="bench")
        for image_id in chosen:
            category, png = rows[image_id]
            mask = (np.asarray(Image.open(png).convert("L")) > 127).astype(np.uint8)
            image = project.images.get(image_id)
            if mask.shape != (image.height, image.width):
                continue
            project.masks.save(image_id, mask * names[category.removeprefix("MT_").lower()], actor="bench",
                               source="bench")
    return len(chosen)


def score(project_root: Path, run_id: int, setup: dict) -> dict:
    with Project.open(project_root) as project:
        run = project.runs.get(run_id)
        table = dict(project.db.all("SELECT image_id, defect_probability FROM predictions WHERE run_id = ?",
                                    (run_id,)))
    test = setup["test"]
    truth = np.array([int(setup["rows"][int(i)][0] != OK_FOLDER) for i in test])
    p = np.array([table[int(i)] for i in test], dtype=np.float64)
    own = detection_metrics(truth, p, test, float(run.metrics["threshold"]))
    best = detection_metrics(truth, p, test, choose_threshold(truth, p))
    return {"ap": own["ap"], "auroc": own["auroc"], "f1": own["f1"], "f1_best": best["f1"], "fp": own["fp"],
            "fn": own["fn"], "threshold": own["threshold"], "train_seconds": run.metrics["seconds"],
            "epochs": run.metrics["epochs"], "best_epoch": run.metrics.get("best_epoch"),
            "validation_ap": run.metrics.get("validation", {}).get("ap")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "magnetic-tile")
    parser.add_argument("--masks", nargs="+", default=["0", "5", "10", "20", "all"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--widths", nargs="+", default=["narrow", "full"])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--holdout", type=float, default=0.3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (2: the target laptop)")
    parser.add_argument("--train", nargs="*", default=[], metavar="KEY=VALUE",
                        help="TrainConfig overrides, e.g. delta=0.1 schedule=linear seg_loss=mse")
    parser.add_argument("--work", type=Path, help="project folder to reuse (default: a temp folder)")
    parser.add_argument("--out", type=Path, help="append one JSON line per run")
    parser.add_argument("--tag", default="", help="a name for this configuration in the table")
    parser.add_argument("--texture-baseline", action="store_true",
                        help="only score logistic regression on the texture statistics (image labels, same split)")
    parser.add_argument("--table", nargs="+", type=Path, metavar="JSONL",
                        help="only print the table of results saved with --out (several files merge)")
    args = parser.parse_args()
    if args.table:
        print_table([json.loads(line) for path in args.table for line in path.read_text().splitlines() if line])
        return
    overrides = {k: json.loads(v) if v[:1] in "0123456789-[{tn" else v
                 for k, v in (item.split("=", 1) for item in args.train)}
    work = args.work or Path(tempfile.mkdtemp(prefix="segdec-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    setup = build_project(args.data, work, args.holdout, split_seed=123)
    print(f"project: {len(setup['train'])} training images (labeled), {len(setup['test'])} held out;"
          f" built in {time.perf_counter() - started:.0f} s", flush=True)
    import torch

    torch.set_num_threads(args.threads)
    if args.texture_baseline:
        texture_baseline(setup, args.size)
        return
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    results = []
    for width in args.widths:
        for masks in args.masks:
            n = None if masks == "all" else int(masks)
            for seed in args.seeds:
                given = set_masks(setup["root"], setup, n, seed)
                request = SegDecRequest(project_root=setup["root"], size=args.size, width=width, epochs=args.epochs,
                                        seed=seed, device=args.device, threads=args.threads, train=overrides)
                drain(segdec_job(request))  # the pixel cache is built by the first run (not timed again)
                with Project.open(setup["root"]) as project:
                    run_id = project.predictions.latest_run("defect")
                row = {"tag": args.tag, "width": width, "masks": masks, "masks_given": given, "seed": seed,
                       "size": args.size, "device": args.device, **overrides, **score(setup["root"], run_id, setup)}
                results.append(row)
                print(json.dumps(row), flush=True)
                if args.out:
                    with open(args.out, "a") as handle:
                        handle.write(json.dumps(row) + "\n")
    print_table(results)


def texture_baseline(setup: dict, size: int) -> None:
    """Logistic regression on the texture statistics of the pixel cache, OK vs defective,
    trained on the image labels of the training part and scored on the held-out part.
    Every C is printed (picking it on the held-out images would be optimistic)."""
    import torch
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score, roc_auc_score

    from core.pixel_cache import build_pixel_cache
    from models.features.texture import TextureStats

    with Project.open(setup["root"]) as project:
        cache = drain(build_pixel_cache(project, size))
    stats = TextureStats()
    with torch.no_grad():
        features = np.concatenate([stats(torch.from_numpy(np.array(cache.pixels[s:s + 128]))[:, None].float()).numpy()
                                   for s in range(0, len(cache.ids), 128)])

    def part(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        truth = np.array([int(setup["rows"][int(i)][0] != OK_FOLDER) for i in ids])
        return features[cache.index_of(ids)], truth

    (x_train, y_train), (x_test, y_test) = part(setup["train"]), part(setup["test"])
    mean, scale = x_train.mean(axis=0), x_train.std() + 1e-6
    print("| texture statistics + logistic regression | C | AP | AUROC |\n|---|---|---|---|")
    for c in (0.1, 1.0, 10.0):
        model = LogisticRegression(C=c, max_iter=5000).fit((x_train - mean) / scale, y_train)
        p = model.predict_proba((x_test - mean) / scale)[:, 1]
        print(f"| image labels only | {c:g} | {100 * average_precision_score(y_test, p):.1f} |"
              f" {100 * roc_auc_score(y_test, p):.1f} |")


def print_table(results: list[dict]) -> None:
    def cell(values: list[float]) -> str:
        values = [v for v in values if v is not None and v == v]
        return f"{100 * np.mean(values):.1f} ± {100 * np.std(values):.1f}" if values else "-"

    print("\n| width | masks | runs | AP | AUROC | F1 (own threshold) | F1 (best on test) | s / run |")
    print("|---|---|---|---|---|---|---|---|")
    keys = []
    order = {"0": 0, "5": 1, "10": 2, "20": 3, "all": 9}
    for r in sorted(results, key=lambda r: (r["tag"], r["width"] != "narrow", order.get(r["masks"], 5))):
        if (r["tag"], r["width"], r["masks"]) not in keys:
            keys.append((r["tag"], r["width"], r["masks"]))
    for tag, width, masks in keys:
        rows = [r for r in results if (r["tag"], r["width"], r["masks"]) == (tag, width, masks)]
        seconds = [r["train_seconds"] for r in rows]
        print(f"| {(tag + ' ') if tag else ''}{width} | {masks} | {len(rows)} | {cell([r['ap'] for r in rows])} |"
              f" {cell([r['auroc'] for r in rows])} | {cell([r['f1'] for r in rows])} |"
              f" {cell([r['f1_best'] for r in rows])} | {np.mean(seconds):.0f} |")


if __name__ == "__main__":
    main()
