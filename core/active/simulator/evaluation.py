"""Scoring the latest models of a simulated project on the held-out images."""

from __future__ import annotations

import numpy as np

from core.active.simulator.truth import Truth
from core.store import Project, RunKind


def evaluate(project: Project, truth: Truth) -> dict:
    """Accuracy and macro-F1 of the latest classifier on the held-out images (every truth
    class counts, a class never predicted scores F1 0), and the AP of "defective" when an
    OK class exists: from the defect detector when one was trained, else 1 - p(OK)."""
    from sklearn.metrics import average_precision_score, f1_score

    held = sorted(truth.held_out)
    names = {c.id: c.name for c in project.classes.list()}
    by_name = {v: k for k, v in names.items()}
    y = np.array([truth.labels[i] for i in held])
    labeled = {names[label.class_id] for label in project.labels.all().values()}
    run_id = project.predictions.latest_run(RunKind.CLASSIFIER)
    p_ok = None
    if run_id is not None and len(labeled) >= 2:
        run_classes = project.runs.get(run_id).config["classes"]
        stored_ids, stored = project.predictions.probability_matrix(run_id)
        p = stored[np.searchsorted(stored_ids, held)]
        predicted = np.array([names[run_classes[k]] for k in p.argmax(axis=1)])
        if truth.ok_class in by_name and by_name[truth.ok_class] in run_classes:
            p_ok = p[:, run_classes.index(by_name[truth.ok_class])]
    else:  # one class labeled: everything is that class
        predicted = np.full(len(held), next(iter(labeled)) if labeled else "")
    out = {"classes_seen": len(labeled), "accuracy": round(float((predicted == y).mean()), 4),
           "macro_f1": round(float(f1_score(y, predicted, labels=truth.classes, average="macro", zero_division=0)), 4),
           "ap_defect": "", "ap_source": ""}
    if truth.ok_class:
        defective = (y != truth.ok_class).astype(int)
        detector_run = project.predictions.latest_run(RunKind.SEGDEC)
        if detector_run is not None:
            probability = project.predictions.defect_probabilities(detector_run)
            score, source = np.array([probability[i] for i in held]), "detector"
        elif p_ok is not None:
            score, source = 1.0 - p_ok, "classifier"
        else:
            score, source = np.ones(len(held)), "none"
        out["ap_defect"] = round(float(average_precision_score(defective, score)), 4)
        out["ap_source"] = source
    return out


def labeling_scores(project: Project, truth: Truth, config) -> dict:
    """What the labels so far found: ``classes_found``, the true classes among the labeled
    images; with ``config.hide_class``, ``hidden_found`` (1 once an image of it is
    labeled); with ``config.flip``, ``flipped`` (wrong labels) and ``flips_caught``: how
    many of them the first ``flipped`` entries of the likely-mistakes list name."""
    from core.active.mistakes import likely_mistakes

    names = {c.id: c.name for c in project.classes.list()}
    labels = project.labels.class_by_image()
    found = {truth.labels[i] for i in labels if i in truth.labels}
    out = {"classes_found": len(found), "hidden_found": "", "flipped": "", "flips_caught": ""}
    if config.hide_class:
        out["hidden_found"] = int(config.hide_class in found)
    if config.flip > 0:
        wrong = {i for i, c in labels.items() if names[c] != truth.labels.get(i)}
        listed = [m.image_id for m in likely_mistakes(project)[:len(wrong)]]
        out["flipped"], out["flips_caught"] = len(wrong), len(wrong.intersection(listed))
    return out
