"""What a finished retrain says: one short line for the status bar, the results for the panel."""

from __future__ import annotations

from core.store import Run, RunKind
from labelapp.widgets.formatting import figure


def result_runs(result: object) -> list[Run]:
    """The runs a job's result holds: a retrain's parts, or its one run ([] when none)."""
    parts = [getattr(result, name, None) for name in ("pretrain", "embedded", "classify", "segdec")]
    runs = [p.run for p in parts if p is not None and getattr(p, "run", None) is not None]
    single = getattr(result, "run", None)
    return runs or ([single] if isinstance(single, Run) else [])


def finished_message(result: object, took: str = "") -> str:
    """The status line of a finished retrain (``took``: " in 2 min"): the classifier's
    validation accuracy, the defect detector's average precision and the suggestions, when there are."""
    runs = result_runs(result)
    proposer = len(runs) == 1 and runs[0].kind is RunKind.PROPOSER
    parts = [f"{'Mask proposer' if proposer else 'Retrain'} finished{took}"]
    if proposer:
        parts.append(proposer_line(runs[0]) + ": review them in the Proposals dock (R)")
    for run in runs:
        validation = (run.metrics or {}).get("validation")
        if run.kind is RunKind.SEGDEC:
            parts.append(f"defect detector average precision {figure(validation.get('ap'))}" if validation
                         else "defect detector not validated")
        elif run.kind is RunKind.CLASSIFIER and validation and "accuracy" in validation:
            parts.append(f"validation accuracy {validation['accuracy']:.0%}")
    suggested = getattr(result, "suggestions", 0)
    if suggested:
        parts.append(f"{suggested} suggested to label next")
    return " · ".join(parts) + ". Details in the Training panel."


def finished_details(result: object) -> str:
    """The results of a finished retrain, a short line per model, for the panel under the
    bar. The defect detector has no line here: whether it is validated, its figures and what
    to label are the trust line above the runs, and saying them twice was noise."""
    runs = result_runs(result)
    ids = ", ".join(f"#{r.id}" for r in runs[:-1]) + (" and " if len(runs) > 1 else "") + f"#{runs[-1].id}"
    lines = [f"Run{'s' if len(runs) > 1 else ''} {ids}."]
    for run in runs:
        validation = (run.metrics or {}).get("validation")
        if run.kind is RunKind.SEGDEC:
            continue  # its validation, or why it has none, is the trust line above the runs
        if run.kind is RunKind.CLASSIFIER:
            lines.append(f"Classifier: validation accuracy {validation['accuracy']:.0%} ("
                         f"{validation['macro_f1']:.0%} with every class counted alike) on {validation['n']} labels."
                         if validation and "accuracy" in validation
                         else "Classifier: no validation (label at least 2 images per class).")
        elif run.kind is RunKind.PROPOSER:
            advice = (run.metrics or {}).get("advice")
            lines.append(f"Mask proposer: {proposer_line(run)}." + (f" {advice[:1].upper()}{advice[1:]}." if advice
                                                                     else ""))
    suggested = getattr(result, "suggestions", 0)
    if suggested:
        lines.append(f"{suggested} images suggested to label next (N opens the next).")
    return "\n".join(lines)


def proposer_line(run: Run) -> str:
    """"masks proposed for 5 of 8 images": what a mask-proposer run proposed."""
    metrics = run.metrics or {}
    return f"masks proposed for {metrics.get('with_mask', 0)} of {metrics.get('proposed_images', 0)} images"
