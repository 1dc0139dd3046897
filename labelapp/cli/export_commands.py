"""``labelapp export-labels``, ``import-labels`` and ``export-heatmaps``: labels and heat maps
out of the project, labels in. Each says how many images it wrote, and what it left out and why."""

from __future__ import annotations

import argparse

from labelapp.cli.output import print_json, train_command

COPIES_ONLY = ("coco", "yolo", "voc", "labelme")  # a missing image file loses its copy, not its labels
LEFT_OUT = {"folders": "{n} unlabeled image{s} left out", "masks": "{n} image{s} without a mask left out"}


def cmd_export_labels(args: argparse.Namespace) -> int:
    from core.export.labels import export_labels
    from core.store import Project

    with Project.open(args.project) as project:
        result = export_labels(project, args.out, format=args.format, polygons=args.polygons)
    if args.json:
        print_json({"format": result.format, "out": str(result.out), "images": result.images,
                    "left_out": result.left_out, "skipped_missing": result.skipped_missing})
        return 0
    notes = []
    if result.left_out:
        notes.append(LEFT_OUT[result.format].format(n=f"{result.left_out:,}", s="" if result.left_out == 1 else "s"))
    if result.skipped_missing and result.format in COPIES_ONLY:
        notes.append(f"{_images(result.skipped_missing)} not copied: the file is missing (the labels are written)")
    elif result.skipped_missing:
        notes.append(f"{_images(result.skipped_missing)} skipped: the file is missing")
    print(f"exported {_images(result.images)} as {result.format} to {result.out}"
          + "".join(f"; {note}" for note in notes))
    return 0


def cmd_import_labels(args: argparse.Namespace) -> int:
    from core.interchange import import_labels
    from core.store import Project

    with Project.open(args.project) as project:
        result = import_labels(project, args.path, format=args.format)
    if args.json:
        print_json({"format": result.format, "path": str(result.source), "images": result.images,
                    "labels": result.labels, "masks": result.masks, "classes_added": list(result.classes_added),
                    "unmatched": [{"image": ref, "reason": why} for ref, why in result.unmatched]})
        return 0
    added = f"; classes added: {', '.join(result.classes_added)}" if result.classes_added else ""
    print(f"imported {result.labels:,} image labels and {result.masks:,} masks from {result.source} ({result.format})"
          + added)
    if result.unmatched:
        print(f"  {_images(len(result.unmatched))} not in the project, left out:")
        for ref, why in result.unmatched[:10]:
            print(f"    {ref}: {why}")
        if len(result.unmatched) > 10:
            print(f"    ... and {len(result.unmatched) - 10:,} more")
    return 0


def cmd_export_heatmaps(args: argparse.Namespace) -> int:
    from core.export.heatmaps import export_heatmaps
    from core.store import Project

    with Project.open(args.project) as project:
        result = export_heatmaps(project, args.out, run_id=args.run, only=args.only, overlay=args.overlay)
    if args.json:
        print_json({"run": result.run_id, "out": str(result.out), "images": result.images, "csv": str(result.csv),
                    "threshold": result.threshold,
                    "without_heatmap": {"imported_after_the_run": result.imported_after,
                                        "not_predicted": result.not_predicted},
                    "below_threshold": result.below_threshold, "skipped": list(result.skipped)})
        return 0
    print(f"wrote {result.images} heat maps of run {result.run_id} and {result.csv.name} to {result.out}")
    for line in heatmap_notes(result, args):
        print(f"  {line}")
    return 0


def heatmap_notes(result, args: argparse.Namespace) -> list[str]:
    """What an export of heat maps left out, and why, one line each."""
    notes = []
    if result.below_threshold:
        notes.append(f"{_images(result.below_threshold)} below the threshold {result.threshold:.3f} left out"
                     " (--only defective)")
    if result.imported_after:
        notes.append(f"{_images(result.imported_after)} {_have(result.imported_after)} no heat map: imported after"
                     f" run {result.run_id}"
                     f" started (`{train_command(args.project)}` trains a detector that covers them)")
    if result.not_predicted:
        notes.append(f"{_images(result.not_predicted)} {_have(result.not_predicted)} no heat map:"
                     f" {result.not_predicted_why}")
    if result.skipped:
        notes.append(f"{_images(len(result.skipped))} got no overlay: the file could not be read")
    return notes


def _images(n: int) -> str:
    return "1 image" if n == 1 else f"{n:,} images"


def _have(n: int) -> str:
    return "has" if n == 1 else "have"
