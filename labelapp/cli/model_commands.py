"""``labelapp export-model`` and ``labelapp predict``: a trained model out of the project,
and run without it. Each function returns the exit status; torch is imported by the
core functions they call, not here."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from labelapp.cli.output import print_json as _print_json


def cmd_export_model(args: argparse.Namespace) -> int:
    from core.export.model import ExportRequest, export_job
    from core.jobs import drain

    request = ExportRequest(project_root=args.project, out_dir=args.out, fmt=args.format, run_id=args.run,
                            sample=args.sample, tolerance=args.tolerance, model=args.model)
    phases: list[str] = []

    def show(progress: Any) -> None:
        if not args.json and progress.phase not in phases:
            phases.append(progress.phase)
            print(f"{progress.phase}…", file=sys.stderr)

    result = drain(export_job(request), show)
    parity = result.parity
    if args.json:
        _print_json({"model": result.model, "format": result.format, "run": result.run_id, "out": str(result.out_dir),
                     "files": [str(f) for f in result.files], "bytes": result.size_bytes, "sha256": result.sha256,
                     "parity": {"images": parity.images, "max_abs_diff": parity.max_abs_diff,
                                "tolerance": parity.tolerance, "outputs": parity.outputs,
                                "sizes": [list(s) for s in parity.sizes]},
                     "seconds": result.seconds})
        return 0
    what = "defect-detector run" if result.model == "detector" else "run"
    print(f"exported {what} {result.run_id} as {result.format} in {result.seconds:.1f} s:")
    print(f"  {result.model_path}  ({result.size_bytes / 1e6:.1f} MB, sha256 {result.sha256[:16]}…)")
    for path in result.files[1:]:
        print(f"  {path}")
    if result.model == "detector":
        shown = [f"{w}x{h}" for h, w in parity.sizes[:6]]
        sizes = ", ".join(shown) + (f" and {len(parity.sizes) - 6} more" if len(parity.sizes) > 6 else "")
        print(f"parity: the exported model differs from the app's by at most {parity.max_abs_diff:.2g} in the defect"
              f" probability and the heat map on {parity.images} project images, input sizes {sizes} px"
              f" (tolerance {parity.tolerance:g})")
    else:
        print(f"parity: the exported model differs from the app's by at most {parity.max_abs_diff:.2g} in a"
              f" probability on {parity.images} project images (tolerance {parity.tolerance:g})")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """Exit status 0 when at least one image was predicted, 1 when none could be."""
    from core.export.exported import expand_image_paths, load_exported_model, predict_files

    model = load_exported_model(args.model_dir)
    paths = expand_image_paths(args.images)
    if not paths:
        raise ValueError("no image files: the folders given hold no .png, .jpg, .bmp or .tif files")
    if model.is_detector:
        return _predict_defects(args, model, paths)
    if args.heatmaps is not None:
        raise ValueError(f"{args.model_dir} holds a classifier: heat maps come from an exported defect detector"
                         " (labelapp export-model PROJECT --model detector)")
    names = model.class_names
    predicted, skipped = [], []
    for answer in predict_files(model, paths, batch=args.batch):
        if answer.error is not None:
            skipped.append(_skip(args, answer))
            continue
        predicted.append({"path": str(answer.path), "class": answer.class_name, "confidence": answer.confidence,
                          "probabilities": dict(zip(names, answer.probabilities or (), strict=True))})
        if not args.json:
            print(f"{answer.path}\t{answer.class_name}\t{answer.confidence:.3f}", flush=True)
    if args.json:
        _print_json({"model": str(args.model_dir), "run": model.card.get("run"), "classes": names,
                     "predictions": predicted, "skipped": skipped})
    elif skipped:
        print(f"{len(predicted)} of {len(paths)} images classified, {len(skipped)} skipped", file=sys.stderr)
    return 0 if predicted else 1


def _predict_defects(args: argparse.Namespace, model: Any, paths: list[Path]) -> int:
    """The defect probability per file; "defective" / "OK" only from a validated detector."""
    from core.export.exported_detector import predict_detector_files

    card = model.card
    threshold, validated = float(card["threshold"]), bool(card["validated"])
    if not validated and not args.json:
        print(f"labelapp: this detector is {card.get('trust') or 'not validated'}; it calls nothing defective"
              f" (its threshold {threshold:.3f} is shown for information)", file=sys.stderr)
    predicted, skipped = [], []
    for answer in predict_detector_files(model, paths, heatmaps=args.heatmaps):
        if answer.error is not None:
            skipped.append(_skip(args, answer))
            continue
        predicted.append({"path": str(answer.path), "defect_probability": answer.defect_probability,
                          "at_or_above_threshold": answer.at_or_above, "defective": answer.defective,
                          "heatmap": None if answer.heatmap_path is None else str(answer.heatmap_path)})
        if not args.json:
            if validated:
                verdict = "defective" if answer.defective else "OK"
            else:
                verdict = f"{'at or above' if answer.at_or_above else 'below'} {threshold:.3f}, not validated"
            print(f"{answer.path}\t{answer.defect_probability:.3f}\t{verdict}", flush=True)
    if args.json:
        _print_json({"model": str(args.model_dir), "run": card.get("run"), "method": card.get("method"),
                     "threshold": threshold, "validated": validated, "trust": card.get("trust"),
                     "predictions": predicted, "skipped": skipped})
    elif skipped:
        print(f"{len(predicted)} of {len(paths)} images predicted, {len(skipped)} skipped", file=sys.stderr)
    if args.heatmaps is not None and predicted and not args.json:
        print(f"wrote {len(predicted)} heat maps to {args.heatmaps}", file=sys.stderr)
    return 0 if predicted else 1


def _skip(args: argparse.Namespace, answer: Any) -> dict[str, str]:
    if not args.json:
        print(f"labelapp: skipped {answer.path}: {answer.error}", file=sys.stderr)
    return {"path": str(answer.path), "error": answer.error}
