"""Which classes a trained model knows, and which of the project's classes it left out.

A classifier run learns only the classes that had labels when it trained (the ids in its
config, in output order); a class without labels then, or made since, is not in the
model, which can never predict it. The defect detector tells OK from defective and
learned from the classes that had labels, OK classes as OK and defect classes as
defective. Read from the run's config and label snapshot alone (no checkpoint, no torch),
so the export dialog can say it before anything is written, and the model card records it.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.store import ClassKind, Project, Run, RunKind


@dataclass(frozen=True)
class ModelClass:
    """A class as the model sees it: ``labels`` it had when the run trained (None: unknown,
    e.g. the class was renamed since)."""

    id: int
    name: str
    kind: str  # "ok" or "defect"
    labels: int | None


@dataclass(frozen=True)
class LeftOutClass:
    """A project class the model does not know, and why, in words."""

    id: int
    name: str
    labels_now: int
    why: str


@dataclass(frozen=True)
class ModelClasses:
    """``known`` in the model's output order (the detector's: OK first); ``left_out``: the rest."""

    run_id: int
    detector: bool
    known: tuple[ModelClass, ...]
    left_out: tuple[LeftOutClass, ...]

    def sentence(self) -> str:
        """What the model knows, in one or two sentences."""
        if self.detector:
            ok = [c for c in self.known if c.kind == ClassKind.OK.value]
            defective = [c for c in self.known if c.kind != ClassKind.OK.value]
            text = (f"The defect detector of run #{self.run_id} tells OK from defective; it learned OK from"
                    f" {_names(ok) or 'no class'} and defective from {_names(defective) or 'no class'}.")
        else:
            text = f"The classifier of run #{self.run_id} knows {len(self.known)} classes: {_names(self.known)}."
        return text

    def left_out_sentence(self) -> str:
        """The classes left out and why ("" when none)."""
        if not self.left_out:
            return ""
        what = "predict" if not self.detector else "learn from"
        return (f"Not in the model (it cannot {what} them): "
                + "; ".join(f"{c.name} ({c.why})" for c in self.left_out) + ".")


def _names(classes: list[ModelClass] | tuple[ModelClass, ...]) -> str:
    """``ok (26 labels), crazing (10), …``."""
    parts, counted = [], False
    for c in classes:
        if c.labels is None:
            parts.append(c.name)
        else:
            parts.append(f"{c.name} ({c.labels}{'' if counted else ' labels'})")
            counted = True
    return ", ".join(parts)


def left_out_card(project: Project, run: Run) -> list[dict[str, object]]:
    """The model card's ``classes_left_out``: each project class the model does not know, and why."""
    return [{"id": c.id, "name": c.name, "why": c.why} for c in model_classes(project, run).left_out]


def model_classes(project: Project, run: Run) -> ModelClasses:
    """The classes ``run``'s model knows and the project classes it left out."""
    classes = project.classes.list()
    by_id = {c.id: c for c in classes}
    then = {str(name): int(n) for name, n in (run.label_snapshot.get("classes") or {}).items()}
    now = project.labels.counts()  # labels per class name
    detector = run.kind is RunKind.SEGDEC
    if detector:
        known_ids = [c.id for c in sorted(classes, key=lambda c: not c.is_ok) if then.get(c.name, 0) > 0]
    else:
        known_ids = [int(i) for i in (run.config or {}).get("classes", [])]
    known = tuple(ModelClass(i, by_id[i].name if i in by_id else f"class {i}",
                             by_id[i].kind.value if i in by_id else ClassKind.DEFECT.value,
                             then.get(by_id[i].name) if i in by_id else None) for i in known_ids)
    left_out = []
    for cls in classes:
        if cls.id in known_ids:
            continue
        labels_now = int(now.get(cls.name, 0))
        why = f"no labels when run #{run.id} trained"
        if labels_now:
            why += f"; it has {labels_now} now: retrain to include it"
        left_out.append(LeftOutClass(cls.id, cls.name, labels_now, why))
    return ModelClasses(run_id=run.id, detector=detector, known=known, left_out=tuple(left_out))
