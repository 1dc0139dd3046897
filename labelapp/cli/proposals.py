"""The mask-proposer commands: ``labelapp train PROJECT --method isugan|cyclegan|patchcore``
and ``labelapp propose-masks PROJECT --out DIR``."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROPOSER_METHODS = ("isugan", "cyclegan", "patchcore")


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    """The ``train`` options of the mask proposers (``--method isugan|cyclegan|patchcore``)."""
    p.add_argument("--preset", choices=("quick", "standard", "paper"), default="quick",
                   help="mask proposer (isugan, cyclegan): quick (default; a 2-core CPU, well under an hour),"
                        " standard (wider, 3x the steps), paper (paper 003's sizes: a GPU)")
    p.add_argument("--scope", choices=("defective", "predicted", "all"), default="defective",
                   help="mask proposer: propose for the labeled defective images (default), also the unlabeled"
                        " ones a validated defect detector calls defective (predicted), or every image (all)")
    p.add_argument("--steps", type=int, default=None, metavar="N",
                   help="mask proposer: training steps (default: the preset's)")
    p.add_argument("--no-resume", action="store_true",
                   help="mask proposer: train afresh even when an interrupted training of the same settings"
                        " left a checkpoint")


def add_parsers(sub: Any) -> None:
    """The ``propose-masks`` command."""
    from labelapp.cli.arguments import add_command, add_json, add_project

    p = add_command(sub, "propose-masks", summary="write a mask proposer's masks as PNGs with a CSV of image scores",
                    description="""\
Writes the masks a mask-proposer run (`labelapp train PROJECT --method isugan|cyclegan|patchcore`) \
proposed: one PNG per image, the size of the image, 0 where the proposer sees no defect and \
255 where it proposes one, and proposals.csv with one row per image: image, mask, image_id, \
score, defective, mask_pixels, components, cut, label (plain newlines). An image whose \
proposal is empty gets an all-zero PNG. Nothing in the project changes; accept proposals in \
the window's Proposals dock.""", epilog="""\
examples:
  labelapp train ./tiles --method patchcore
  labelapp propose-masks ./tiles --out ./proposals""")
    add_project(p)
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="the folder to write the PNGs and proposals.csv into (created when missing)")
    p.add_argument("--run", type=int, metavar="ID", help="the proposer run to write (default: the newest)")
    add_json(p, "the files written and the counts")


def handler_for(args: argparse.Namespace) -> Callable[[argparse.Namespace], int] | None:
    """This module's handler of the parsed command, or None when it is another module's."""
    if args.command == "propose-masks":
        return cmd_propose_masks
    if args.command == "train" and getattr(args, "method", None) in PROPOSER_METHODS:
        return cmd_train_proposer
    return None


def cmd_train_proposer(args: argparse.Namespace) -> int:
    from core.jobs import drain
    from core.jobs.device import describe_device, resolve_device
    from core.proposals import ProposerRequest, proposer_job

    device = resolve_device(args.device)
    request = ProposerRequest(project_root=args.project, method=args.method, preset=args.preset, scope=args.scope,
                              seed=args.seed, steps=args.steps, resume=not args.no_resume, device=device)
    bars = _bars(args.json)
    notes: list[str] = []

    def on_progress(progress: Any) -> None:
        bars.progress(progress)
        if progress.phase == "mask proposer" and progress.message:
            notes.append(progress.message)

    try:
        result = drain(proposer_job(request), on_progress)
    finally:
        bars.close()
    run = result.run
    if args.json:
        print(json.dumps({"run": run.id if run else None, "method": run.method if run else None,
                          "status": run.status.value if run else "cancelled", "metrics": result.metrics,
                          "seconds": result.seconds, "device": device}, indent=2, default=str))
        return 0
    if run is None:
        print("nothing trained (cancelled); a later run of the same settings continues from its checkpoint")
        return 0
    for note in notes:
        print(note)
    print(f"run {run.id} ({run.method}): {run.status.value} in {result.seconds / 60:.1f} min on"
          f" {describe_device(device)}")
    print(proposer_summary(result.metrics))
    return 0


def proposer_summary(m: dict) -> str:
    """Lines on a proposer run: what it proposed and how its rule was calibrated."""
    c, rule = m.get("calibration", {}), m.get("rule", {})
    on = "held-out" if c.get("held_out") else "training (too few labels to hold any out)"
    lines = [f"proposals for {m.get('proposed_images', 0)} images ({m.get('scope_note', '')}),"
             f" {m.get('with_mask', 0)} with a mask",
             f"calibrated on {c.get('n', 0)} {on} images: AP {c.get('ap', float('nan')):.3f},"
             f" AUROC {c.get('auroc', float('nan')):.3f}, F1 {c.get('f1', 0):.3f} at score threshold"
             f" {rule.get('score_threshold', 0):.3f}; floor {rule.get('floor', 0):.3f} (from the OK images)"]
    if m.get("advice"):
        lines.append(f"note: {m['advice']}")
    return "\n".join(lines)


def cmd_propose_masks(args: argparse.Namespace) -> int:
    from core.proposals.export import export_proposals
    from core.store import Project

    with Project.open(args.project) as project:
        result = export_proposals(project, args.out, run_id=args.run)
    if args.json:
        print(json.dumps({"run": result.run_id, "method": result.method, "out": str(result.out),
                          "images": result.images, "with_mask": result.with_mask,
                          "score_threshold": result.score_threshold, "csv": str(result.csv)}, indent=2))
    else:
        print(f"wrote {result.images} proposed masks of run {result.run_id} ({result.method}) to {result.out},"
              f" {result.with_mask} of them not empty; scores in {result.csv}")
    return 0


def _bars(quiet: bool) -> Any:
    from labelapp.cli.progress import Bars

    return Bars(quiet=quiet)
