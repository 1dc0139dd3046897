"""Mask proposals from image labels: ISU-GAN (paper 003), its plain-CycleGAN ablation, the
nearest-neighbour comparator and the defect detector, scored on held-out images with
true masks.

    python benchmarks/proposals_bench.py --data ../shared/data/magnetic-tile --ok-class MT_Free
    python benchmarks/proposals_bench.py --generate cracks|textured [--images 400]
        [--methods isugan cyclegan patchcore detector] [--preset quick] [--steps N] [--threads 1]
        [--loop PROPOSER] [--pretrain] [--scale S] [--residual] [--work DIR] [--out results.jsonl] [--tag NAME]
    python benchmarks/proposals_bench.py --table results.jsonl [more.jsonl ...]
    python benchmarks/proposals_bench.py --speed 10 [--threads 2]

The split is ``benchmarks/segdec_bench.py``'s: a fixed stratified 30 % of the images is
held out and never labeled, every other image gets its OK / defective label (no masks).
Each proposer is the app's own job (``core.proposals.proposer_job``, its defaults: the
detector's working scale, a fifth of the labels held out to learn the floor and the
score threshold) with ``scope="all"``, so that the held-out images get proposals too;
the detector is ``segdec_job`` with its defaults on image labels alone, its heat map
cut at 0.5 as its mask. On the held-out images:

* image level: accuracy and F1 (defective class) at the run's own threshold, AP, AUROC;
* pixels, on the held-out defective images: mean IoU and Dice of the proposal against
  the true mask (an empty proposal scores 0), and the share of them whose proposal is
  usable as it is (IoU >= 0.5);
* OK images: the mean share of their area proposed (false-positive area) and the share
  of them with any proposal;
* minutes: training (``train_seconds``) and the whole run (proposing every image included).

Paper 003 reports on DAGM class 1 (not these data): ISU-GAN accuracy 96.52 %, F1 0.9524;
CycleGAN 96.0 %, 0.9420; no pixel figures.
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
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402
from segdec_bench import build_project, generate, set_labels, set_masks  # noqa: E402

import models  # noqa: E402,F401  (torchvision hook)
from core.jobs import drain  # noqa: E402
from core.store import Project  # noqa: E402
from core.training.detection import detection_metrics  # noqa: E402

PROPOSERS = ("isugan", "cyclegan", "patchcore")
METHODS = (*PROPOSERS, "detector")


def truth_mask(setup: dict, image_id: int, shape: tuple[int, int]) -> np.ndarray | None:
    from PIL import Image

    path = setup["rows"][image_id][1]
    if path is None:
        return None
    mask = np.asarray(Image.open(path).convert("L")) > 127
    return mask if mask.shape == shape else None


def pixel_scores(setup: dict, masks: dict[int, np.ndarray]) -> dict:
    """IoU / Dice on the held-out defective images, false-positive area on the OK ones."""
    ious, dices, fp_area, fp_any = [], [], [], []
    for image_id, mask in masks.items():
        defective = setup["rows"][image_id][0] != setup["ok_class"]
        if not defective:
            fp_area.append(float(mask.mean()))
            fp_any.append(bool(mask.any()))
            continue
        truth = truth_mask(setup, image_id, mask.shape)
        if truth is None or not truth.any():
            continue
        inter, union = float((mask & truth).sum()), float((mask | truth).sum())
        ious.append(inter / union)
        dices.append(2 * inter / (mask.sum() + truth.sum()))
    return {"iou": float(np.mean(ious)) if ious else None, "dice": float(np.mean(dices)) if dices else None,
            "usable": float(np.mean(np.array(ious) >= 0.5)) if ious else None, "masked_test": len(ious),
            "fp_area": float(np.mean(fp_area)) if fp_area else None,
            "ok_with_proposal": float(np.mean(fp_any)) if fp_any else None}


def image_scores(setup: dict, scores: dict[int, float], threshold: float) -> dict:
    test = setup["test"]
    truth = np.array([int(setup["rows"][int(i)][0] != setup["ok_class"]) for i in test])
    score = np.array([scores.get(int(i), 0.0) for i in test], dtype=np.float64)
    figures = detection_metrics(truth, score, test, threshold)
    return {"accuracy": float(np.mean((score >= threshold) == truth)), "f1": figures["f1"], "ap": figures["ap"],
            "auroc": figures["auroc"], "fp": figures["fp"], "fn": figures["fn"], "threshold": threshold,
            "test_ok": int((truth == 0).sum()), "test_defective": int(truth.sum())}


def run_proposer(setup: dict, method: str, args: argparse.Namespace) -> dict:
    from core.proposals import ProposerRequest, load_proposal, load_proposals, proposer_job

    request = ProposerRequest(project_root=setup["root"], method=method, preset=args.preset, steps=args.steps,
                              scope="all", threads=args.threads, device=args.device, resume=False,
                              preview_every_s=600.0, scale=args.scale,
                              net={"residual": True} if args.residual else {})
    began = time.perf_counter()
    result = drain(proposer_job(request))
    seconds = time.perf_counter() - began
    with Project.open(setup["root"]) as project:
        proposals = load_proposals(project, result.run.id)
        scores = {int(i): float(s) for i, s in zip(proposals.ids, proposals.scores, strict=True)}
        masks = {int(i): load_proposal(project, proposals, int(i)).mask() for i in setup["test"]}
    m = result.metrics
    return {**image_scores(setup, scores, proposals.rule.score_threshold), **pixel_scores(setup, masks),
            "floor": proposals.rule.floor, "train_minutes": m["train_seconds"] / 60, "minutes": seconds / 60,
            "scale": m["geometry"]["scale"], "steps": m.get("steps"), "run": result.run.id,
            "calibration_ap": m["calibration"]["ap"], "encoder": m.get("encoder"), "residual": args.residual}


def run_detector(setup: dict, args: argparse.Namespace, *, keep_masks: bool = False) -> dict:
    """The detector on the training labels; image labels alone unless ``keep_masks``."""
    from core.training.heatmaps import load_heatmap, upsample_heatmap
    from core.training.segdec import SegDecRequest, segdec_job

    if not keep_masks:
        set_masks(setup, 0, 0)  # image labels alone
    began = time.perf_counter()
    result = drain(segdec_job(SegDecRequest(project_root=setup["root"], threads=args.threads, device=args.device,
                                            warm_start=False)))
    seconds = time.perf_counter() - began
    run = result.run
    with Project.open(setup["root"]) as project:
        probability = project.predictions.defect_probabilities(run.id)
        masks = {}
        for image_id in setup["test"].tolist():
            image = project.images.get(int(image_id))
            heat = load_heatmap(project, run, int(image_id))
            masks[int(image_id)] = (np.zeros((image.height, image.width), bool) if heat is None else
                                    upsample_heatmap(heat, image.width, image.height) >= 0.5)
    m = run.metrics
    return {**image_scores(setup, probability, float(m["threshold"])), **pixel_scores(setup, masks),
            "train_minutes": (m.get("train_seconds") or 0) / 60, "minutes": seconds / 60,
            "scale": m["geometry"]["scale"], "run": run.id}


def run_loop(setup: dict, method: str, args: argparse.Namespace) -> list[dict]:
    """What proposals are for: the detector on image labels alone, on image labels plus the
    accepted proposals of ``method`` (every labeled defective image whose proposal scores at
    least the run's threshold, taken as proposed), and on the true masks of every
    defective training image."""
    from core.proposals import load_proposals
    from core.proposals.accept import accept_above

    rows = [{"method": "detector", "supervision": "image labels", **run_detector(setup, args)}]
    proposer = run_proposer(setup, method, args)
    with Project.open(setup["root"]) as project:
        proposals = load_proposals(project, proposer["run"])
        accepted = accept_above(project, proposals, proposals.rule.score_threshold, actor="bench",
                                image_ids={int(i) for i in setup["train"]})
        masks = {i: project.masks.load(i) > 0 for i in accepted}
    quality = pixel_scores(setup, {i: m for i, m in masks.items() if m is not None})
    defective = sum(1 for i in setup["train"] if setup["rows"][int(i)][0] != setup["ok_class"])
    note = {"accepted": len(accepted), "defective_train": defective, "accepted_iou": quality["iou"]}
    rows.append({"method": "detector", "supervision": f"+ accepted {method} proposals", **note,
                 **run_detector(setup, args, keep_masks=True)})
    given = set_masks(setup, None, 0)
    rows.append({"method": "detector", "supervision": "true masks", "masks": given,
                 **run_detector(setup, args, keep_masks=True)})
    return [{"proposer": proposer, **row} if "accepted" in row else row for row in rows]


def speed(args: argparse.Namespace) -> None:
    """Seconds per GAN training step of each preset, and the minutes of its steps (paper: per 1,000)."""
    import torch

    from core.proposals.request import PRESET_NET, PRESET_TRAIN
    from models.isugan import GanConfig, GanTrainConfig, GanTrainer, sample_crops

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (300, 300), dtype=np.uint8)]
    print(f"\n| preset | architecture | s / step ({args.threads} threads) | steps | minutes |\n|---|---|---|---|---|")
    for preset in ("quick", "standard", "paper"):
        for architecture in ("isugan", "cyclegan"):
            train = PRESET_TRAIN[preset]
            trainer = GanTrainer(GanConfig.named(architecture, **PRESET_NET[preset]),
                                 GanTrainConfig(steps=10_000, batch_size=train["batch_size"], crop=train["crop"]),
                                 args.device)
            batch = train["batch_size"], train["crop"]
            for _ in range(2):
                trainer.step(sample_crops(images, *batch, rng), sample_crops(images, *batch, rng))
            began = time.perf_counter()
            for _ in range(args.speed):
                trainer.step(sample_crops(images, *batch, rng), sample_crops(images, *batch, rng))
            per_step = (time.perf_counter() - began) / args.speed
            steps = train["steps"] or 1000
            label = f"{steps}" if train["steps"] else f"{steps} (of 100 epochs)"
            print(f"| {preset} | {architecture} | {per_step:.2f} | {label} | {per_step * steps / 60:.0f} |", flush=True)


def pretrain(setup: dict, args: argparse.Namespace) -> None:
    from core.store import RunKind
    from core.training import PretrainRequest, pretrain_job

    with Project.open(setup["root"]) as project:
        if project.runs.latest(RunKind.PRETRAIN, with_checkpoint=True) is not None:
            return
    began = time.perf_counter()
    drain(pretrain_job(PretrainRequest(project_root=setup["root"], threads=args.threads, device=args.device)))
    print(f"pretrained the encoder in {(time.perf_counter() - began) / 60:.1f} min", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="a folder of class sub-folders with masks beside the images")
    parser.add_argument("--ok-class", default=None, help="the OK sub-folder (default ok; MT_Free for magnetic-tile)")
    parser.add_argument("--generate", choices=("cracks", "textured"), help="generate a demo kind as the data")
    parser.add_argument("--images", type=int, default=400, help="with --generate: how many images")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--preset", default="quick", choices=("quick", "standard", "paper"))
    parser.add_argument("--steps", type=int, default=None, help="GAN training steps (default: the preset's)")
    parser.add_argument("--scale", type=float, help="the proposers' working scale (default: the detector's)")
    parser.add_argument("--residual", action="store_true", help="GANs: a residual generator (GanConfig.residual)")
    parser.add_argument("--pretrain", action="store_true",
                        help="first pretrain the app's encoder on every image (as a Retrain does; reused when the"
                             " project has one): the nearest-neighbour proposer then uses its features")
    parser.add_argument("--loop", choices=PROPOSERS, metavar="PROPOSER",
                        help="the detector on image labels, on them plus PROPOSER's accepted proposals, on true masks")
    parser.add_argument("--holdout", type=float, default=0.3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: other jobs share the cores)")
    parser.add_argument("--work", type=Path, help="folder to keep the project in and reuse (default: a temp folder)")
    parser.add_argument("--out", type=Path, help="append one JSON line per run")
    parser.add_argument("--tag", default="", help="a name for this configuration in the table")
    parser.add_argument("--table", nargs="+", type=Path, metavar="JSONL", help="only print the table of saved results")
    parser.add_argument("--speed", type=int, metavar="STEPS",
                        help="only time STEPS training steps of each preset's GAN on random crops (--threads)")
    args = parser.parse_args()
    if args.speed:
        speed(args)
        return
    if args.table:
        print_table([json.loads(line) for path in args.table for line in path.read_text().splitlines() if line])
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="proposals-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    data, ok_class = args.data, args.ok_class or "ok"
    if args.generate:
        data = generate(work / f"data-{args.generate}", args.generate, args.images)
    if data is None:
        raise SystemExit("give --data FOLDER or --generate KIND")
    setup = build_project(data, work, ok_class, args.holdout)
    setup["name"] = args.generate or data.name
    set_labels(setup, setup["train"])
    set_masks(setup, 0, 0)
    print(f"{setup['name']}: {len(setup['train'])} training images (labeled), {len(setup['test'])} held out",
          flush=True)
    if args.pretrain:
        pretrain(setup, args)
    results = []
    if args.loop:
        for row in run_loop(setup, args.loop, args):
            row.pop("proposer", None)
            row = {"tag": args.tag, "data": setup["name"], "preset": "", "threads": args.threads, **row}
            print(json.dumps(row), flush=True)
            results.append(row)
            if args.out:
                with open(args.out, "a") as handle:
                    handle.write(json.dumps(row) + "\n")
        print_table(results)
        return
    for method in args.methods:
        row = run_detector(setup, args) if method == "detector" else run_proposer(setup, method, args)
        row = {"tag": args.tag, "data": setup["name"], "method": method,
               "preset": args.preset if method in ("isugan", "cyclegan") else "", "threads": args.threads, **row}
        print(json.dumps(row), flush=True)
        results.append(row)
        if args.out:
            with open(args.out, "a") as handle:
                handle.write(json.dumps(row) + "\n")
    print_table(results)


def print_table(results: list[dict]) -> None:
    def pct(value: float | None) -> str:
        return "-" if value is None or value != value else f"{100 * value:.1f}"

    def num(value: float | None, digits: int = 3) -> str:
        return "-" if value is None or value != value else f"{value:.{digits}f}"

    print("\n| data | method | accuracy % | F1 | AP | AUROC | IoU | Dice | usable (IoU ≥ 0.5) % | FP area on OK % |"
          " OK with a proposal % | train min | run min |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        name = r["method"] + (f" ({r['preset']})" if r.get("preset") else "") + (f" {r['tag']}" if r.get("tag") else "")
        name += ", residual" if r.get("residual") else ""
        if r.get("supervision"):
            name += f" on {r['supervision']}" + (f" ({r['accepted']} of {r['defective_train']} defective images,"
                                                  f" IoU {num(r['accepted_iou'], 2)})" if "accepted" in r else "")
        if r["method"] == "patchcore":
            encoder = r.get("encoder") or ""
            name += (" (pretrained encoder)" if encoder == "pretrained" else
                     " (pixel patches)" if encoder.startswith("pixels") else " (random features)")
        print(f"| {r['data']} | {name} | {pct(r['accuracy'])} | {num(r['f1'])} | {num(r['ap'])} | {num(r['auroc'])} |"
              f" {num(r['iou'])} | {num(r['dice'])} | {pct(r['usable'])} | {pct(r['fp_area'])} |"
              f" {pct(r['ok_with_proposal'])} | {num(r['train_minutes'], 1)} | {num(r['minutes'], 1)} |")
    print("| DAGM class 1 (paper 003, other data) | ISU-GAN / CycleGAN | 96.52 / 96.0 | 0.9524 / 0.9420 |"
          " - | - | - | - | - | - | - | - | - |")


if __name__ == "__main__":
    main()
