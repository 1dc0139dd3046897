"""What a defect-detector run leaves behind, read back: its validation scores and
threshold, and moving the threshold without retraining."""

from __future__ import annotations

import json

import numpy as np

from core.store import Project, Run, StoreError
from core.training.detection import choose_threshold, detection_metrics

VALIDATION = "validation.json"


def validation_figures(scores: dict, target_recall: float | None) -> dict:
    """AP, AUROC, the threshold (best F1, or reaching ``target_recall``) and the figures at
    it, from a run's validation scores (``ids``, ``truth``, ``probability``)."""
    truth, probability = np.array(scores["truth"]), np.array(scores["probability"], dtype=np.float64)
    threshold = choose_threshold(truth, probability, target_recall)
    figures = detection_metrics(truth, probability, np.array(scores["ids"]), threshold)
    figures["target_recall"] = target_recall
    return figures


def load_validation_scores(project: Project, run: Run) -> dict | None:
    path = project.runs_dir / str(run.id) / VALIDATION
    return json.loads(path.read_text()) if path.exists() else None


def set_threshold(project: Project, run: Run, target_recall: float | None) -> Run:
    """Moves a defect-detector run's threshold: the best-F1 one (``target_recall`` None)
    or the highest that reaches ``target_recall`` on its validation images. The
    validation figures (precision, recall, F1, FP / FN) are recomputed at it."""
    scores = load_validation_scores(project, run)
    if scores is None:
        raise StoreError("this run held out no validation images (too few labels): its threshold stays 0.5")
    if target_recall is not None and not 0.0 < target_recall <= 1.0:
        raise ValueError(f"the target recall must be in (0, 1], not {target_recall}")
    validation = validation_figures(scores, target_recall)
    metrics = {**run.metrics, "threshold": validation["threshold"], "validation": validation}
    path = project.runs_dir / str(run.id) / "metrics.json"
    if path.parent.exists():
        from core.files import write_text_atomic

        write_text_atomic(path, json.dumps(metrics, indent=1, default=float))
    return project.runs.update_metrics(run.id, metrics)


def training_notes(run: Run) -> list[str]:
    """What a user should know of how a defect-detector run trained, one sentence each:
    the geometry, whether it continued an earlier detector and why it stopped, and what
    to label for a better one."""
    m = run.metrics or {}
    notes = []
    geometry = m.get("geometry") or {}
    if geometry.get("description"):
        notes.append(geometry["description"][0].upper() + geometry["description"][1:] + ".")
    if "stopped" in m:
        start = f"Continued from detector #{m['warm_from']}" if m.get("warm_from") else "Trained from scratch"
        best = m.get("best_epoch", 0)
        epochs = f"{m.get('epochs_run', 0)} epoch{'' if m.get('epochs_run') == 1 else 's'}"
        ended = {"converged": f"stopped when the validation AP stopped improving, after {epochs}",
                 "time_budget": (f"stopped at its time budget of {_minutes(m.get('train_seconds', 0))}, after"
                                 f" {epochs} (more training might still help: retrain)"),
                 "max_epochs": f"ran its maximum of {epochs}"}.get(m["stopped"], m["stopped"])
        kept = ""
        if m.get("validation") and best is not None:
            kept = "; kept the earlier weights (training did not beat them)" if best == 0 else (
                f"; kept the state of epoch {best}")
        notes.append(f"{start}; {ended}{kept}.")
    if m.get("advice"):
        notes.append(m["advice"][0].upper() + m["advice"][1:] + ".")
    return notes


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s"
