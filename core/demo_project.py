"""The demo project: generated images without labels, the ground truth beside them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.demo import OK_CLASS, demo_kind, write_dataset
from core.importing import ImportOptions, ImportProgress, ImportReport, iter_import
from core.store import ClassKind, Project, ProjectExistsError
from core.store.project import DB_NAME

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class DemoProjectResult:
    root: Path
    images: int
    report: ImportReport


def create_demo_project(root: Path | str, *, n_images: int = 600, seed: int = 0,
                        size: int | tuple[int, int] | None = None, kind: str = "steel",
                        ok_fraction: float | None = None, workers: int | None = None,
                        progress: Progress | None = None) -> DemoProjectResult:
    """Generates ``n_images`` images into ``root/images`` (names that do not give the
    class away), the truth into ``root/truth`` (``labels.csv`` and masks), and a project
    in ``root`` that references the images, with the kind's classes (``ok`` of kind OK,
    the defect classes of kind defect) and no labels.

    Args:
        size: Square side or ``(height, width)``; None takes the kind's default (200 px
            steel, 1250x500 cracks, 512 px textured).
        kind: One of ``core.demo.KINDS``: ``steel``, ``cracks`` or ``textured``.
        ok_fraction: Share of defect-free images; None takes the kind's default.

    Raises:
        ProjectExistsError: ``root`` already holds a project.
        ValueError: The kind is unknown.
    """
    root = Path(root).absolute()
    spec = demo_kind(kind)
    if (root / DB_NAME).exists():
        raise ProjectExistsError(f"{root} already holds a project")
    write_dataset(root, n_images=n_images, seed=seed, size=size, layout="flat", kind=kind, ok_fraction=ok_fraction,
                  workers=workers,
                  progress=(lambda done, total: progress("generate", done, total)) if progress else None)
    with Project.create(root) as project:
        actor, source = "demo", "demo"
        project.classes.add(OK_CLASS, kind=ClassKind.OK, actor=actor, source=source)
        for name in spec.defect_classes:
            project.classes.add(name, kind=ClassKind.DEFECT, actor=actor, source=source)
        gen = iter_import(project, root / "images", ImportOptions(actor=actor, source=source, workers=workers))
        while True:
            try:
                step: ImportProgress = next(gen)
            except StopIteration as stop:
                report: ImportReport = stop.value
                break
            if progress is not None and step.total:
                progress("import", step.done, step.total)
        return DemoProjectResult(root=root, images=project.images.count(), report=report)
