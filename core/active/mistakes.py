"""Likely mistakes: labeled images whose label the classifier doubts, found by confident
learning (Northcutt, Jiang & Chuang, JAIR 2021) on out-of-fold probabilities.

Every classifier run writes the out-of-fold probabilities of its labeled images (each
predicted by a head fitted without it: ``out_of_fold.json`` in the run folder, see
:mod:`core.training.classify`). Confident learning reads them in three steps:

1. per class j, a threshold t_j: the mean probability of j over the images labeled j
   (how sure the classifier usually is of its own class);
2. an image labeled i is confidently class j when p_j >= t_j (the most probable such j);
3. an image confidently of another class than its label is **flagged** (an off-diagonal
   entry of the confident joint, cleanlab's ``filter_by="confident_learning"``).

The list ranks every image with out-of-fold probabilities, flagged first, each group by
the normalised margin p_label - max_other p (most negative first). The few lines are
written here rather than adding cleanlab: it brings pandas and more, for ~30 lines.
An image whose label changed since the run is left out (it was trained on its old one).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from core.store import Project, RunKind

OUT_OF_FOLD = "out_of_fold.json"  # in a classifier run's folder, written by core.training.classify
UNKNOWN_THRESHOLD = 0.5  # t_j of a class without out-of-fold images of its own


@dataclass(frozen=True)
class OutOfFold:
    """One classifier run's out-of-fold probabilities of its labeled images."""

    run_id: int
    image_ids: np.ndarray  # (N,) int64
    labels: np.ndarray  # (N,) class id each image had when the run trained
    classes: np.ndarray  # (C,) class id of each probability column
    probabilities: np.ndarray  # (N, C)

    def predicted(self) -> np.ndarray:
        """(N,) class id each image is predicted as, out of fold."""
        return self.classes[self.probabilities.argmax(axis=1)]


@dataclass(frozen=True)
class Mistake:
    image_id: int
    rank: int  # 1 = the most likely mistake
    flagged: bool  # confidently another class (confident learning)
    label: int  # the class id it is labeled as
    suspected: int  # the class id it most likely is instead
    quality: float  # p(label) - max other p: below 0, another class is more likely
    reason: str


def load_out_of_fold(project: Project, run_id: int | None = None) -> OutOfFold | None:
    """The out-of-fold probabilities of run ``run_id`` (None: the latest classifier run with
    predictions), or None when it wrote none (no class had two labels, or an older run)."""
    run_id = project.predictions.latest_run(RunKind.CLASSIFIER) if run_id is None else run_id
    if run_id is None:
        return None
    path = project.runs_dir / str(run_id) / OUT_OF_FOLD
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    probabilities = np.asarray(data["probabilities"], dtype=np.float64).reshape(len(data["image_ids"]), -1)
    return OutOfFold(run_id=run_id, image_ids=np.asarray(data["image_ids"], dtype=np.int64),
                     labels=np.asarray(data["labels"], dtype=np.int64),
                     classes=np.asarray(data["classes"], dtype=np.int64), probabilities=probabilities)


def confident_learning(labels: np.ndarray, probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(flagged, confident class or -1, quality) of every row: ``labels`` are column
    indices of ``probabilities`` (N, C); see the module docstring."""
    n, c = probabilities.shape
    rows = np.arange(n)
    threshold = np.full(c, UNKNOWN_THRESHOLD)
    for j in range(c):
        mine = labels == j
        if mine.any():
            threshold[j] = probabilities[mine, j].mean()
    above = probabilities >= threshold[None, :]
    confident = np.where(above.any(axis=1), np.where(above, probabilities, -1.0).argmax(axis=1), -1)
    flagged = (confident >= 0) & (confident != labels)
    others = probabilities.copy()
    others[rows, labels] = -np.inf
    quality = probabilities[rows, labels] - (others.max(axis=1) if c > 1 else 0.0)
    return flagged, confident, quality


@dataclass(frozen=True)
class Ranking:
    """Confident learning over one :class:`OutOfFold`, row for row of it."""

    order: np.ndarray  # rows whose label is a class of the run, the most likely mistake first
    flagged: np.ndarray  # (N,) bool
    label_column: np.ndarray  # (N,) probability column of the label
    suspected_column: np.ndarray  # (N,) column of the class it most likely is instead
    quality: np.ndarray  # (N,) p(label) - max other p


def rank(oof: OutOfFold) -> Ranking:
    """Every image of ``oof`` ranked by how likely its label (at training time) is wrong:
    flagged first, each group by quality (see the module docstring)."""
    column = {int(cid): k for k, cid in enumerate(oof.classes.tolist())}
    known = np.array([int(c) in column for c in oof.labels.tolist()], dtype=bool)
    labels = np.array([column.get(int(c), 0) for c in oof.labels.tolist()], dtype=np.int64)
    flagged, confident, quality = confident_learning(labels, oof.probabilities)
    others = oof.probabilities.copy()
    others[np.arange(len(labels)), labels] = -np.inf
    suspected = np.where(flagged, confident, others.argmax(axis=1))
    order = np.lexsort((oof.image_ids, quality, ~flagged))
    return Ranking(order=order[known[order]], flagged=flagged, label_column=labels, suspected_column=suspected,
                   quality=quality)


def reason(oof: OutOfFold, ranking: Ranking, row: int, class_names: dict[int, str]) -> str:
    """Why row ``row`` of ``oof`` may be mislabeled, in words."""
    p = oof.probabilities[row]
    mine, other = int(ranking.label_column[row]), int(ranking.suspected_column[row])
    given, instead = class_names.get(int(oof.classes[mine]), "?"), class_names.get(int(oof.classes[other]), "?")
    return (f"labeled {given}, but {p[other]:.2f} {instead} across folds ({p[mine]:.2f} {given}, from heads trained"
            f" without it)")


def rank_mistakes(oof: OutOfFold, class_names: dict[int, str]) -> list[Mistake]:
    """Every image of ``oof`` ranked by how likely its label is wrong, with the reason."""
    ranking = rank(oof)
    return [Mistake(image_id=int(oof.image_ids[i]), rank=k, flagged=bool(ranking.flagged[i]), label=int(oof.labels[i]),
                    suspected=int(oof.classes[ranking.suspected_column[i]]), quality=float(ranking.quality[i]),
                    reason=reason(oof, ranking, i, class_names))
            for k, i in enumerate(ranking.order.tolist(), start=1)]


def likely_mistakes(project: Project, oof: OutOfFold | None = None) -> list[Mistake]:
    """The labeled images of the latest classifier run ranked by how likely their label is
    wrong, without images relabeled since (they were trained on their old label)."""
    oof = load_out_of_fold(project) if oof is None else oof
    if oof is None or len(oof.image_ids) == 0:
        return []
    ranked = rank_mistakes(oof, {c.id: c.name for c in project.classes.list()})
    current = project.labels.class_by_image(oof.image_ids.tolist())
    kept = [m for m in ranked if current.get(m.image_id) == m.label]
    return [Mistake(**{**m.__dict__, "rank": k}) for k, m in enumerate(kept, start=1)]
