"""``labelapp open``, ``demo``, ``import``, ``status`` and ``label``: making, filling,
reading and labeling a project. Each function returns the exit status."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from labelapp.cli.output import print_json as _print_json
from labelapp.cli.progress import Bars

MAX_LISTED = 20


def cmd_open(args: argparse.Namespace) -> int:
    from labelapp.shell.app import run_gui

    return run_gui(getattr(args, "project", None))


def cmd_demo(args: argparse.Namespace) -> int:
    from core.demo_project import create_demo_project

    bars = Bars(quiet=args.json)
    try:
        result = create_demo_project(args.project, n_images=args.images, seed=args.seed, size=args.size,
                                     kind=args.kind,
                                     progress=lambda phase, done, total: bars.update(phase, done, total, "image"))
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
    if not Path(args.folder).is_dir():  # before the project is created: a failed command leaves none behind
        raise NotADirectoryError(f"not a folder: {args.folder}")
    bars = Bars(quiet=args.json)
    with Project.open(args.project, create=True) as project:
        gen = iter_import(project, args.folder, options)
        try:
            while True:
                step = next(gen)
                if step.total:
                    bars.update("import", step.done, step.total, "image")
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
    if report.hidden_files:
        print(f"note: {report.hidden_files} hidden files or folders (names starting with a dot) not imported")
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
