"""Defect-detection metrics on validation data: AP, AUROC, the precision-recall curve and
the decision threshold (best F1, or the highest threshold that reaches a target recall).

Kept apart from the training job so the GUI can move the threshold (a recall the user
asks for) on the stored validation scores without retraining.
"""

from __future__ import annotations

import numpy as np


def pr_curve(truth: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, threshold) at every distinct score, highest threshold first."""
    order = np.argsort(-score, kind="stable")
    s, t = score[order], truth[order].astype(np.int64)
    distinct = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tp = np.cumsum(t)[distinct]
    fp = (distinct + 1) - tp
    positives = max(int(t.sum()), 1)
    return tp / np.maximum(tp + fp, 1), tp / positives, s[distinct]


def choose_threshold(truth: np.ndarray, score: np.ndarray, target_recall: float | None = None) -> float:
    """Best-F1 threshold, or with ``target_recall`` the highest threshold whose recall
    reaches it (0.5 without both classes)."""
    if len(np.unique(truth)) < 2:
        return 0.5
    precision, recall, thresholds = pr_curve(truth, score)
    if target_recall is not None:
        reached = np.flatnonzero(recall >= target_recall - 1e-9)
        return float(thresholds[reached[0]]) if len(reached) else float(thresholds[-1])
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    best = int(np.argmax(f1))
    # midway to the next lower score, so a slightly lower score on new images still counts
    below = thresholds[best + 1] if best + 1 < len(thresholds) else thresholds[best]
    return float((thresholds[best] + below) / 2) if below < thresholds[best] else float(thresholds[best])


def detection_metrics(truth: np.ndarray, score: np.ndarray, ids: np.ndarray, threshold: float,
                      curve_points: int = 200) -> dict:
    """AP, AUROC, precision / recall / F1, FP and FN at ``threshold`` (with their image
    ids, most confident mistakes first) and the PR curve thinned to ``curve_points``."""
    truth = truth.astype(np.int64)
    both = len(np.unique(truth)) == 2
    predicted = score >= threshold
    tp = int(np.sum(predicted & (truth == 1)))
    fp_mask, fn_mask = predicted & (truth == 0), ~predicted & (truth == 1)
    precision = tp / max(tp + int(fp_mask.sum()), 1)
    recall = tp / max(int(truth.sum()), 1)
    result = {
        "n": int(len(truth)), "defective": int(truth.sum()), "threshold": float(threshold),
        "precision": precision, "recall": recall,
        "f1": 2 * precision * recall / max(precision + recall, 1e-12),
        "fp": int(fp_mask.sum()), "fn": int(fn_mask.sum()),
        "fp_ids": ids[fp_mask][np.argsort(-score[fp_mask], kind="stable")].tolist(),
        "fn_ids": ids[fn_mask][np.argsort(score[fn_mask], kind="stable")].tolist(),
        "ap": float("nan"), "auroc": float("nan"), "curve": {"precision": [], "recall": []},
    }
    if both:
        from sklearn.metrics import average_precision_score, roc_auc_score

        result["ap"] = float(average_precision_score(truth, score))
        result["auroc"] = float(roc_auc_score(truth, score))
        precision_c, recall_c, _ = pr_curve(truth, score)
        keep = np.unique(np.linspace(0, len(recall_c) - 1, min(curve_points, len(recall_c))).astype(int))
        result["curve"] = {"precision": precision_c[keep].round(4).tolist(), "recall": recall_c[keep].round(4).tolist()}
    return result
