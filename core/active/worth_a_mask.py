"""Worth a mask: the defective images without a mask, ranked by how much a mask would
teach the defect detector. A detector run ranks them once (``worth_a_mask.json`` in its
folder); the list drops images as they get a mask."""

from __future__ import annotations

import json

import numpy as np

from core.store import Project, Run

WORTH_A_MASK = "worth_a_mask.json"


def worth_a_mask(heat_by_id: dict[int, np.ndarray], probability_by_id: dict[int, float], ids: np.ndarray,
                 labels: np.ndarray, has_mask: np.ndarray, limit: int | None = None) -> list[dict]:
    """Defective images without a mask, ranked by how much a mask would teach: the model
    missed them (low defect probability), decision and heat map disagree, or the heat map
    is unsure (many cells near 0.5). Each entry: image_id, score, reason; all of them
    unless ``limit`` (the list shrinks as masks are drawn, so it must not run dry early)."""
    entries = []
    for image_id in ids[(labels == 1) & ~has_mask].tolist():
        if image_id not in probability_by_id:
            continue
        p = float(probability_by_id[image_id])
        h = np.asarray(heat_by_id.get(image_id, np.zeros((0, 0))), dtype=np.float32) / 255.0
        peak = float(h.max()) if h.size else 0.0
        unsure = float(np.mean((h > 0.2) & (h < 0.8))) if h.size else 0.0
        missed, disagree = 1.0 - p, abs(p - peak)
        score = 0.5 * missed + 0.35 * disagree + 0.15 * min(1.0, 4 * unsure)
        if missed >= max(disagree, 0.5):
            reason = f"missed: defect probability {p:.2f} on an image labeled defective"
        elif disagree >= 0.3 and peak < p:
            reason = f"decision says defective ({p:.2f}) but the heat map shows little (peak {peak:.2f})"
        elif disagree >= 0.3:
            reason = f"heat map sees a defect (peak {peak:.2f}) the decision doubts ({p:.2f})"
        elif unsure > 0.02:
            reason = f"heat map unsure over {unsure:.0%} of the image"
        else:
            reason = f"found (defect probability {p:.2f}); a mask sharpens where"
        entries.append({"image_id": int(image_id), "score": round(score, 4), "reason": reason})
    entries.sort(key=lambda e: (-e["score"], e["image_id"]))
    return entries if limit is None else entries[:limit]


def load_worth_a_mask(project: Project, run: Run) -> list[dict]:
    """The run's "worth a mask" list, without images that got a mask since."""
    path = project.runs_dir / str(run.id) / WORTH_A_MASK
    if not path.exists():
        return []
    masked = {i for i, info in project.masks.all().items() if info.pixels > 0}
    return [e for e in json.loads(path.read_text()) if e["image_id"] not in masked]
