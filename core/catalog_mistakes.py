"""The catalog's view of likely label mistakes: the latest classifier run's out-of-fold
prediction of each labeled image and its place in the likely-mistakes list
(:mod:`core.active.mistakes`), per catalog index, so the grid filters and sorts on them
without a query. The list is ranked once per run; an image relabeled since the run leaves
it at once (its label no longer matches the one the run was trained on)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from core.active.mistakes import load_out_of_fold, rank
from core.active.mistakes import reason as mistake_reason
from core.store import Project


@dataclass
class MistakeIndex:
    """Per catalog index (N images).

    Attributes:
        oof_class: (N,) int32 class id predicted out of fold (by heads trained without
            the image), 0 for images without one (unlabeled, or a class with one label).
        rank: (N,) int64 place in the likely-mistakes list (1 = most likely), 0 when not in it.
        trained_label: (N,) int32 the label the run was trained on, 0 when none.
        flagged: (N,) bool, confidently another class than that label (confident learning).
    """

    oof_class: np.ndarray
    rank: np.ndarray
    trained_label: np.ndarray
    flagged: np.ndarray
    _row: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # catalog index -> oof row, -1
    _source: tuple | None = None  # (OutOfFold, Ranking, class names) the reasons are worded from

    @classmethod
    def empty(cls, n: int) -> MistakeIndex:
        return cls(oof_class=np.zeros(n, np.int32), rank=np.zeros(n, np.int64), trained_label=np.zeros(n, np.int32),
                   flagged=np.zeros(n, bool), _row=np.full(n, -1, np.int64))

    @classmethod
    def load(cls, project: Project, run_id: int | None, n: int,
             index_of: Callable[[np.ndarray], np.ndarray]) -> MistakeIndex:
        """The index of run ``run_id`` (empty for None or a run without out-of-fold data)
        over ``n`` images; ``index_of`` maps image ids to catalog indices (-1: not held)."""
        out = cls.empty(n)
        oof = load_out_of_fold(project, run_id) if run_id is not None else None
        if oof is None or len(oof.image_ids) == 0:
            return out
        index = index_of(oof.image_ids)
        found = index >= 0
        out.oof_class[index[found]] = oof.predicted()[found]
        ranking = rank(oof)
        listed = ranking.order[index[ranking.order] >= 0]
        where = index[listed]
        out.rank[where] = np.arange(1, len(listed) + 1)
        out.trained_label[where] = oof.labels[listed]
        out.flagged[where] = ranking.flagged[listed]
        out._row[where] = listed
        out._source = (oof, ranking, {c.id: c.name for c in project.classes.list()})
        return out

    def listed(self, label: np.ndarray) -> np.ndarray:
        """(N,) bool: in the list and still labeled as the run was trained."""
        return (self.rank > 0) & (label == self.trained_label)

    def mislabeled(self, label: np.ndarray) -> np.ndarray:
        """(N,) bool: flagged as possibly mislabeled, label unchanged since the run."""
        return self.flagged & self.listed(label)

    def disagrees(self, label: np.ndarray) -> np.ndarray:
        """(N,) bool: labeled, and predicted as another class out of fold."""
        return (label != 0) & (self.oof_class != 0) & (self.oof_class != label)

    def reason(self, index: int, label: np.ndarray) -> str | None:
        """Why the image at ``index`` may be mislabeled, or None unless it is flagged."""
        if self._source is None or not (self.flagged[index] and label[index] == self.trained_label[index]):
            return None
        oof, ranking, names = self._source
        return mistake_reason(oof, ranking, int(self._row[index]), names)
