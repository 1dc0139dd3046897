"""One run on a GPU machine: does the GPU agree with the CPU, and how fast are the
paper-scale settings there? About 8 minutes on one H100 with the defaults.

    python benchmarks/gpu_check.py                      # on the GPU machine (--device auto picks CUDA)
    python benchmarks/gpu_check.py --quick              # tiny sizes, any machine (a smoke test, ~1 minute on 2 cores)
    python benchmarks/gpu_check.py [--device auto|cpu|cuda] [--images 400] [--segdec-minutes 3]
        [--ssl-epochs 100] [--work DIR] [--json OUT]

1. The device (:func:`core.jobs.device.resolve_device`) and the GPU-vs-CPU agreement of
   the seg-dec net (narrow and full width) and the encoder
   (:mod:`core.jobs.device_check`): largest differences against the tolerances.
2. The seg-dec detector at paper scale: full width, native resolution (scale 1), on a
   generated cracks project (``core.demo.write_dataset(kind="cracks")``, ~1250 x 500 px),
   every label and mask of a 70 % training part, scored on the held-out 30 % as
   ``benchmarks/segdec_bench.py`` does (AP, F1 at the run's threshold), with its training
   seconds, epochs and the seconds it took to predict every image.
3. SimCLR pretraining on the same images, longer than the app's default (epochs/s,
   images/s) on the device, and two epochs on the CPU for the speed-up.

Prints a markdown table (``--json`` also writes the rows). Each job is the app's own, with
its defaults apart from what is named above; the batch sizes are the device's
(:func:`core.jobs.device.scaled_batch`).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import models  # noqa: E402,F401  (torchvision hook)
from core.jobs import drain  # noqa: E402
from core.jobs.device import describe_device, resolve_device  # noqa: E402
from core.jobs.device_check import (  # noqa: E402
    COSINE_TOLERANCE,
    PROBABILITY_TOLERANCE,
    detector_agreement,
    encoder_agreement,
)

QUICK = {"images": 40, "size": (320, 128), "segdec_minutes": 0.3, "segdec_epochs": 2, "ssl_epochs": 2,
         "ssl_size": 48, "sides": ((128, 96),)}
FULL = {"size": None, "segdec_epochs": 40, "ssl_size": 96, "sides": ((256, 256), (1248, 496))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test that runs on a CPU")
    parser.add_argument("--images", type=int, default=400, help="generated cracks images (default 400)")
    parser.add_argument("--segdec-minutes", type=float, default=3.0, help="the detector's time budget (default 3)")
    parser.add_argument("--ssl-epochs", type=int, default=100, help="SimCLR epochs on the device (default 100)")
    parser.add_argument("--work", type=Path, default=None, help="work folder (default: a temporary one)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    args = parser.parse_args()
    settings = {**FULL, "images": args.images, "segdec_minutes": args.segdec_minutes, "ssl_epochs": args.ssl_epochs}
    if args.quick:
        settings.update(QUICK)
    device = resolve_device(args.device)
    print(f"device: {device} ({describe_device(device)})", flush=True)
    started = time.perf_counter()
    rows = agreement_rows(device, settings)
    with tempfile.TemporaryDirectory() as temporary:
        work = args.work or Path(temporary)
        setup = cracks_project(work, settings)
        rows.append(segdec_row(setup, device, settings))
        rows += pretrain_rows(setup["root"], device, settings)
    rows.append({"check": "whole script", "device": device, "setting": "quick" if args.quick else "paper scale",
                 "result": f"{time.perf_counter() - started:.0f} s"})
    print_table(rows, device)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


def agreement_rows(device: str, settings: dict) -> list[dict]:
    note = "" if device != "cpu" else " (the CPU against itself: no GPU here)"
    rows = []
    for width in ("narrow", "full"):
        a = detector_agreement(device, width=width, sides=settings["sides"])
        sides = ", ".join(f"{h}x{w}" for h, w in settings["sides"])
        rows.append({"check": f"agreement: {a.network}", "device": device, "setting": f"images {sides} px{note}",
                     "result": f"max abs Δp {a.max_abs_diff:.2g} (tolerance {PROBABILITY_TOLERANCE:g}):"
                               f" {'agrees' if a.agrees else 'DISAGREES'}"})
    a = encoder_agreement(device)
    rows.append({"check": f"agreement: {a.network}", "device": device, "setting": f"8 images 128 px{note}",
                 "result": f"max 1-cos {a.max_cosine_gap:.2g} (tolerance {COSINE_TOLERANCE:g}), texture max abs Δ"
                           f" {a.max_abs_diff:.2g}: {'agrees' if a.agrees else 'DISAGREES'}"})
    return rows


def cracks_project(work: Path, settings: dict) -> dict:
    """A generated cracks project with a 70 / 30 split, every training image labeled and masked."""
    from segdec_bench import build_project, set_labels, set_masks

    from core.demo import write_dataset

    began = time.perf_counter()
    data = work / "data-cracks"
    if not data.exists():
        write_dataset(data, n_images=settings["images"], seed=0, kind="cracks", layout="beside", size=settings["size"])
    setup = build_project(data, work, "ok", holdout=0.3)
    set_labels(setup, setup["train"])
    setup["masks"] = set_masks(setup, None, seed=0)
    print(f"cracks project: {len(setup['train'])} labeled ({setup['masks']} masks), {len(setup['test'])} held out;"
          f" built in {time.perf_counter() - began:.0f} s", flush=True)
    return setup


def segdec_row(setup: dict, device: str, settings: dict) -> dict:
    import torch
    from segdec_bench import score

    from core.training.segdec import SegDecRequest, segdec_job

    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    request = SegDecRequest(project_root=setup["root"], width="full", scale=1.0, warm_start=False, device=device,
                            minutes=settings["segdec_minutes"], max_epochs=settings["segdec_epochs"])
    result = drain(segdec_job(request))
    scores = score(setup["root"], result.run.id, setup)
    m = result.metrics
    memory = f", peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB" if device == "cuda" else ""
    predict_s = m["seconds"] - m["train_seconds"]
    print(json.dumps({"segdec": scores, "device": result.run.config["device"]}), flush=True)
    return {"check": "seg-dec detector, full width, native scale", "device": result.run.config["device"],
            "setting": f"{len(setup['train'])} labeled cracks images ({setup['masks']} masks), budget"
                       f" {settings['segdec_minutes']:g} min",
            "result": f"held-out AP {scores['ap']:.3f}, F1 {scores['f1']:.3f}; {m['epochs_run']} epochs"
                      f" ({m['steps']} steps) in {m['train_seconds']:.0f} s, {m['stopped']}; training + predicting"
                      f" every image {m['seconds']:.0f} s (all but training {predict_s:.0f} s){memory}"}


def pretrain_rows(root: Path, device: str, settings: dict) -> list[dict]:
    from core.store import Project
    from core.training.pretrain import PretrainRequest, pretrain_job

    with Project.open(root) as project:
        n_images = project.images.count()
    rows = []
    runs = [(device, settings["ssl_epochs"])] + ([("cpu", 2)] if device != "cpu" else [])
    for where, epochs in runs:
        request = PretrainRequest(project_root=root, size=settings["ssl_size"], epochs=epochs, device=where)
        clock = {"before": time.perf_counter(), "end": None}

        def timed(progress, clock=clock) -> None:
            if progress.phase == "pretraining":
                clock["end"] = time.perf_counter()
            elif clock["end"] is None:
                clock["before"] = time.perf_counter()  # the pixel cache: not training

        result = drain(pretrain_job(request), timed)
        config, metrics = result.run.config, result.run.metrics
        seconds = clock["end"] - clock["before"]
        rows.append({"check": "SimCLR pretraining (shufflenet)", "device": where,
                     "setting": f"{n_images} images, {config['size']} px, batch {config['batch_size']},"
                                f" {metrics['epochs']} epochs",
                     "result": f"{metrics['epochs'] / seconds:.3g} epochs/s,"
                               f" {metrics['epochs'] * n_images / seconds:.0f} images/s ({seconds:.0f} s training,"
                               f" {metrics['seconds']:.0f} s with the cache and embedding); loss {metrics['loss']:.3f},"
                               f" contrastive accuracy {metrics['contrastive_accuracy']:.2f}"})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def print_table(rows: list[dict], device: str) -> None:
    print(f"\n## GPU check on {describe_device(device)}\n")
    print("| check | device | setting | result |")
    print("|---|---|---|---|")
    for row in rows:
        print(f"| {row['check']} | {row['device']} | {row['setting']} | {row['result']} |")


if __name__ == "__main__":
    main()
