"""One function per ``labelapp`` command; each returns the exit status."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from labelapp.cli.model_commands import cmd_export_model, cmd_predict

MAX_LISTED = 20


def cmd_open(args: argparse.Namespace) -> int:
    from labelapp.shell.app import run_gui

    return run_gui(getattr(args, "project", None))


def cmd_demo(args: argparse.Namespace) -> int:
    from core.demo_project import create_demo_project

    bars = _Bars(quiet=args.json)
    try:
        result = create_demo_project(args.project, n_images=args.images, seed=args.seed, size=args.size,
                                     kind=args.kind, progress=bars.update)
    finally:
        bars.close()
    if args.json:
        _print_json({"project": str(result.root), "kind": args.kind, "images": result.images,
                     "truth": str(result.root / "truth" / "labels.csv")})
    else:
        print(f"demo project {result.root}: {result.images} {args.kind} images, no labels;"
              f" ground truth in {result.root / 'truth'}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from core.importing import ImportOptions, iter_import
    from core.store import Project

    options = ImportOptions(labels_from_folders=args.labels_from_folders, ok_class=args.ok_class,
                            masks=args.masks, workers=args.workers)
    if args.masks not in (None, "auto") and not Path(args.masks).is_dir():
        raise NotADirectoryError(f"--masks must be 'auto' or a folder: {args.masks}")
    bars = _Bars(quiet=args.json)
    with Project.open(args.project, create=True) as project:
        gen = iter_import(project, args.folder, options)
        try:
            while True:
                step = next(gen)
                if step.total:
                    bars.update("import", step.done, step.total)
        except StopIteration as stop:
            report = stop.value
        finally:
            bars.close()
        summary = project.summary()
    if args.json:
        _print_json({**report.to_json(), "project": summary.to_json()})
    else:
        _print_import_report(report, summary)
    return 0


def _print_import_report(report: Any, summary: Any) -> None:
    where = f" in {len(report.folder_classes)} class folders" if report.folder_classes else ""
    print(f"found {report.scanned} images{where} under {report.folder} ({report.seconds:.1f} s)")
    print(f"  {report.added} added, {report.already_present} already in the project,"
          f" {len(report.duplicates)} duplicates skipped, {len(report.failed)} unreadable")
    if report.labels_set or report.classes_created:
        print(f"labels from folders: {report.labels_set} set; classes created: "
              f"{', '.join(report.classes_created) or 'none'}")
    if report.masks_set or report.missing_masks:
        print(f"masks: {report.masks_set} read ({report.masks_nonempty} with defect pixels),"
              f" {report.missing_masks} images without a mask file")
    print(f"project: {summary.images} images, {len(summary.classes)} classes, {summary.labeled} labeled"
          f" ({summary.ok} OK), {summary.masks} masks ({summary.nonempty_masks} non-empty)")
    for title, issues in (("unreadable", report.failed), ("duplicates", report.duplicates),
                          ("label conflicts", report.label_conflicts), ("mask problems", report.mask_issues)):
        if issues:
            print(f"{title}:")
            for issue in issues[:MAX_LISTED]:
                print(f"  {issue.path}: {issue.reason}")
            if len(issues) > MAX_LISTED:
                print(f"  ... and {len(issues) - MAX_LISTED} more (--json lists all)")
    if report.unlabeled_in_root:
        print(f"note: {report.unlabeled_in_root} images lie directly in the folder, not in a class"
              " sub-folder: left unlabeled")
    if report.mask_like_files:
        print(f"note: {report.mask_like_files} files look like masks (*_mask.png, or a .png beside a .jpg"
              " of the same name) and were imported as images; use --masks auto to read them as masks")


def cmd_status(args: argparse.Namespace) -> int:
    from core.store import Project, RunKind
    from core.training.segdec_results import training_notes
    from core.training.trust import detector_trust

    with Project.open(args.project) as project:
        summary = project.summary()
        classes = project.classes.list()
        latest = project.runs.latest(RunKind.SEGDEC)
        trust = detector_trust(latest)  # only a validated detector calls images defective
    notes = training_notes(latest) if latest is not None else []
    if args.json:
        detector = {"run": trust.run_id, "status": trust.status, "validated": trust.validated, "why": trust.why,
                    "threshold": trust.threshold, "scale": (latest.metrics or {}).get("geometry", {}).get("scale")
                    if latest is not None else None, "notes": notes}
        _print_json({"project": str(Path(args.project).absolute()), **summary.to_json(), "detector": detector})
        return 0
    print(f"{Path(args.project).absolute()}")
    print(f"  images    {summary.images:>8}")
    print(f"  labeled   {summary.labeled:>8}   ({summary.ok} OK, {summary.labeled - summary.ok} defect)")
    print(f"  unlabeled {summary.unlabeled:>8}")
    print(f"  masks     {summary.masks:>8}   ({summary.nonempty_masks} with defect pixels)")
    print(f"  runs      {summary.runs:>8}")
    if trust.run_id is not None:
        print(f"  detector  run {trust.run_id}: {trust.why}")
        for note in notes:
            print(f"            {note}")
    if classes:
        width = max(len(c.name) for c in classes)
        print("  classes:")
        for c in classes:
            key = f"[{c.shortcut}]" if c.shortcut else ""
            print(f"    {key:>4} {c.name:<{width}}  {c.kind.value:<6} {summary.classes.get(c.name, 0):>7}")
    return 0


def cmd_label(args: argparse.Namespace) -> int:
    from core.media.imaging import read_binary_mask
    from core.store import ClassKind, InvalidValueError, Project, default_actor

    actor, source = default_actor(), "cli"
    with Project.open(args.project) as project:
        image = project.images.find(args.image)
        if args.clear:
            changed = project.labels.set(image.id, None, actor=actor, source=source)
            changed |= project.masks.save(image.id, None, actor=actor, source=source)
        else:
            cls = _target_class(project, args, actor, source)
            with project.transaction():
                changed = project.labels.set(image.id, cls, actor=actor, source=source)
                if args.mask is not None:
                    binary = read_binary_mask(args.mask, width=image.width, height=image.height)
                    if cls.kind is ClassKind.OK and binary.any():
                        raise InvalidValueError("an OK image cannot have defect pixels in its mask")
                    changed |= project.masks.save(image.id, binary.astype("uint8") * cls.id,
                                                  actor=actor, source=source)
        label = project.labels.get(image.id)
        mask = project.masks.info(image.id)
    result = {"image": image.path, "changed": bool(changed), "class": label.class_name if label else None,
              "mask_pixels": mask.pixels if mask else None}
    if args.json:
        _print_json(result)
    else:
        state = "labeled" if label else "unlabeled"
        print(f"{image.path}: {state} {result['class'] or ''}".rstrip()
              + (f", mask {mask.pixels} px" if mask else "") + ("" if changed else " (unchanged)"))
    return 0


def _target_class(project: Any, args: argparse.Namespace, actor: str, source: str) -> Any:
    from core.store import ClassKind, ClassNotFoundError

    if args.ok:
        ok = project.classes.ok_class()
        if ok is not None:
            return ok
        if not args.create:
            raise ClassNotFoundError("the project has no OK class; add --create to create one named 'ok'")
        return project.classes.add("ok", kind=ClassKind.OK, actor=actor, source=source)
    found = project.classes.find(args.class_name)
    if found is None and args.create:
        return project.classes.add(args.class_name, kind=ClassKind.DEFECT, actor=actor, source=source)
    if found is None:
        names = ", ".join(c.name for c in project.classes.list()) or "none yet"
        raise ClassNotFoundError(f"no class {args.class_name!r} (classes: {names}); add --create to create it")
    return found


def cmd_export_labels(args: argparse.Namespace) -> int:
    from core.export.labels import export_labels
    from core.store import Project

    with Project.open(args.project) as project:
        result = export_labels(project, args.out, format=args.format)
    if args.json:
        _print_json({"format": result.format, "out": str(result.out), "images": result.images,
                     "skipped_missing": result.skipped_missing})
    else:
        print(f"exported {result.images} images as {result.format} to {result.out}"
              + (f"; {result.skipped_missing} image files missing" if result.skipped_missing else ""))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from core.jobs import drain
    from core.jobs.device import describe_device, resolve_device
    from core.store import RunKind
    from core.training import (
        ClassifyRequest,
        PretrainRequest,
        SegDecRequest,
        classify_job,
        pretrain_job,
        retrain_job,
        segdec_job,
    )

    device = resolve_device(args.device)  # a clear error now rather than after the first job
    pretrain = PretrainRequest(project_root=args.project, method=args.ssl, encoder=args.encoder, size=args.size,
                               epochs=args.epochs, batch_size=args.batch_size, seed=args.seed, device=device)
    classify = ClassifyRequest(project_root=args.project, seed=args.seed, finetune_steps=args.thorough, device=device)
    budget = {} if args.segdec_minutes is None else {
        "minutes": args.segdec_minutes, "warm_minutes": min(args.segdec_minutes, SegDecRequest.warm_minutes)}
    segdec = SegDecRequest(project_root=args.project, scale=args.segdec_scale, width=args.segdec_width,
                           mode=args.segdec_mode, max_epochs=args.segdec_epochs, warm_start=not args.from_scratch,
                           target_recall=args.target_recall, seed=args.seed, device=device, **budget)
    job = {"ssl": lambda: pretrain_job(pretrain), "classifier": lambda: classify_job(classify),
           "segdec": lambda: segdec_job(segdec),
           "auto": lambda: retrain_job(pretrain, classify, pretrain_again=args.pretrain_again,
                                       segdec=None if args.no_segdec else segdec)}[args.method]()
    bars = _Bars(quiet=args.json)
    try:
        result = drain(job, lambda p: bars.update(p.phase, p.step, p.total))
    finally:
        bars.close()
    run = result.run
    data = {"run": run.id if run else None, "method": run.method if run else None,
            "status": run.status.value if run else "cancelled", "metrics": run.metrics if run else {},
            "seconds": result.seconds, "device": device}
    detector = getattr(result, "segdec", None)
    if detector is not None and detector.run is not None and detector.run is not run:
        data["segdec"] = {"run": detector.run.id, "metrics": detector.run.metrics}
    if args.json:
        _print_json(data)
    elif run is None:
        print("nothing trained (cancelled)")
    else:
        metrics = ", ".join(f"{k} {v:.3g}" for k, v in run.metrics.items() if isinstance(v, float | int))
        print(f"run {run.id} ({run.method}): {run.status.value} in {result.seconds:.0f} s on"
              f" {describe_device(device)}; {metrics}")
        validation = run.metrics.get("validation")
        if validation and run.kind is RunKind.CLASSIFIER:
            print(f"cross-validated on {validation['n']} labels: accuracy {validation['accuracy']:.1%},"
                  f" macro-F1 {validation['macro_f1']:.1%}")
        for detector_run in (r for r in (run, detector.run if detector else None) if r and r.kind is RunKind.SEGDEC):
            print(detection_summary(detector_run))
    return 0


def detection_summary(run: Any) -> str:
    """One line on a defect-detector run: its validation figures and threshold."""
    m = run.metrics
    v = m.get("validation")
    head = f"defect detector (run {run.id}, {m.get('labeled', 0)} labels, {m.get('masks', 0)} masks)"
    from core.training.segdec_results import training_notes

    notes = "".join(f"\n  {note}" for note in training_notes(run))
    if not v:
        return f"{head}: too few labels to hold out validation images, so it is not validated{notes}"
    return (f"{head}: validation AP {v['ap']:.3f}, AUROC {v['auroc']:.3f}, F1 {v['f1']:.3f} at threshold"
            f" {v['threshold']:.2f} ({v['fp']} false positives, {v['fn']} missed of {v['n']}){notes}")


def cmd_suggest(args: argparse.Namespace) -> int:
    from core.active import DEFAULT_COUNT, compute_suggestions, refresh_suggestions
    from core.active.suggest import check_strategy
    from core.store import Project

    check_strategy(args.strategy)
    if args.no_store:
        with Project.open(args.project) as project:
            suggestions = compute_suggestions(project, args.strategy, args.n)
    else:
        # the stored set also feeds the GUI's queue: at least a session's worth
        suggestions = refresh_suggestions(args.project, strategy=args.strategy, n=max(args.n, DEFAULT_COUNT))[: args.n]
    with Project.open(args.project) as project:
        paths = {s.image_id: str(project.images.resolve(project.images.get(s.image_id))) for s in suggestions}
    items = [{"rank": s.rank, "path": paths[s.image_id], "image_id": s.image_id, "score": round(s.score, 4),
              "strategy": s.strategy, "reason": s.reason} for s in suggestions]
    if args.json:
        print(json.dumps(items, indent=2))
    elif not items:
        print("nothing to suggest: every image is labeled" if args.strategy != "mask"
              else "nothing to suggest: no defect-detector run, or every defective image has a mask")
    else:
        for item in items:
            print(f"{item['rank']:>4}  {item['path']}\n      {item['strategy']}: {item['reason']}")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from core.active.simulator.config import COMPARED, SimulationConfig
    from core.active.simulator.results import summary_table
    from core.active.simulator.simulation import simulate
    from core.active.suggest import STRATEGIES
    from core.jobs import drain

    if args.rounds and not args.per_round:
        raise ValueError("--rounds needs --per-round K")
    strategies = tuple(args.strategy or COMPARED)
    if strategies == ("all",):
        strategies = tuple(s for s in STRATEGIES if s != "mask")
    config = SimulationConfig(
        images=args.images, out=args.out, strategies=strategies, seeds=tuple(range(args.seeds)),
        per_class=tuple(args.per_class) if args.per_class else SimulationConfig.per_class,
        rounds=args.rounds, per_round=args.per_round, budget=args.budget, held_out=args.held_out,
        ok_class=args.ok_class, masks=args.masks, detector=args.detector, workers=args.workers,
        pretrain={"epochs": args.ssl_epochs, "size": args.size, "threads": args.threads},
        keep_projects=args.keep_projects, again=args.again, flip=args.flip, hide_class=args.hide_class,
        hide_rounds=args.hide_rounds)
    started = time.perf_counter()
    bars = _Bars(quiet=args.json)
    try:
        csv_path = drain(simulate(config), lambda p: bars.update(p.phase, p.step, p.total))
    finally:
        bars.close()
    seconds = time.perf_counter() - started
    png = csv_path.with_name("learning_curves.png")
    if args.json:
        _print_json({"csv": str(csv_path), "png": str(png), "seconds": round(seconds, 1)})
        return 0
    for metric in ("accuracy", "macro_f1", "ap_defect", "classes_found", "hidden_found", "flips_caught"):
        names, table = summary_table(csv_path, metric)
        if not table:
            continue
        print(f"\n{metric} (mean ± std over seeds)\n| labels/class | " + " | ".join(names) + " |")
        print("|---" * (len(names) + 1) + "|")
        for budget, cells in table:
            print(f"| {budget:g} | " + " | ".join(
                f"{cells[n][0]:.3f} ± {cells[n][1]:.3f}" if n in cells else "" for n in names) + " |")
    print(f"\nwrote {csv_path} and {png} in {seconds:.0f} s")
    return 0


def cmd_export_heatmaps(args: argparse.Namespace) -> int:
    from core.export.heatmaps import export_heatmaps
    from core.store import Project

    with Project.open(args.project) as project:
        result = export_heatmaps(project, args.out, run_id=args.run, only=args.only, overlay=args.overlay)
    if args.json:
        _print_json({"run": result.run_id, "out": str(result.out), "images": result.images,
                     "skipped": result.skipped, "csv": str(result.csv)})
    else:
        print(f"wrote {result.images} heat maps of run {result.run_id} to {result.out}"
              + (f"; {len(result.skipped)} images unreadable, skipped" if result.skipped else ""))
    return 0


class _Bars:
    """tqdm progress bars on stderr, one per phase; silent in --json mode or off a terminal."""

    def __init__(self, quiet: bool) -> None:
        self._quiet = quiet
        self._bars: dict[str, Any] = {}

    def update(self, phase: str, done: int, total: int) -> None:
        if self._quiet:
            return
        from tqdm import tqdm

        bar = self._bars.get(phase)
        if bar is None:
            bar = self._bars[phase] = tqdm(total=total, desc=phase, unit="img", file=sys.stderr,
                                           dynamic_ncols=True, mininterval=0.2)
        bar.total = total
        bar.update(done - bar.n)

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()


def _print_json(data: dict[str, Any]) -> None:
    print(json.dumps(data, indent=2, default=str))


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "open": cmd_open,
    "demo": cmd_demo,
    "import": cmd_import,
    "status": cmd_status,
    "label": cmd_label,
    "export-labels": cmd_export_labels,
    "train": cmd_train,
    "export-model": cmd_export_model,
    "predict": cmd_predict,
    "export-heatmaps": cmd_export_heatmaps,
    "suggest": cmd_suggest,
    "simulate": cmd_simulate,
}
