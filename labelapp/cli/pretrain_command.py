"""``labelapp pretrain PROJECT --continue --minutes M``: the background pretraining for a
fixed time, without the window (benchmarks/background_pretrain_bench.py measures the
classifier against these minutes). Returns the exit status."""

from __future__ import annotations

import argparse

from labelapp.cli.output import print_json
from labelapp.cli.progress import Bars


def cmd_pretrain(args: argparse.Namespace) -> int:
    from core.jobs import drain
    from core.jobs.device import resolve_device
    from core.training.background_pretrain import BackgroundPretrainRequest, background_pretrain_job

    request = BackgroundPretrainRequest(project_root=args.project, minutes=args.minutes,
                                        checkpoint_minutes=args.checkpoint_minutes, threads=args.threads,
                                        device=resolve_device(args.device), check_battery=False)
    bars = Bars(quiet=args.json)
    try:
        result = drain(background_pretrain_job(request), bars.progress)
    finally:
        bars.close()
    if args.json:
        print_json({"runs": [run.id for run in result.runs], "stopped": result.stopped, "epochs": result.epochs,
                    "loss": result.loss, "seconds": result.seconds, "line": result.line})
        return 0 if result.stopped == "time up" else 2
    if result.stopped == "no encoder":
        print(f"labelapp: error: no pretrained encoder to continue; run `labelapp train {args.project}` first")
        return 2
    for run in result.runs:
        print(f"checkpoint: run {run.id} ({run.method}), {run.metrics['epochs']:.1f} epochs, loss"
              f" {run.metrics['loss']:.3f}")
    print(f"{result.line}; {result.seconds / 60:.1f} min ({result.stopped})")
    return 0 if result.stopped == "time up" else 2
