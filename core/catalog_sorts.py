"""The grid's sort orders over a :class:`core.catalog.Catalog`: one int64 key per image,
all distinct, so that every sort is a permutation (ties by file name, then import order)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core.catalog_mistakes import MistakeIndex
from core.store import ImageClass

SORTS = ("name", "date", "label", "added", "least_sure", "most_sure", "defect_first", "defect_last", "suggested",
         "mislabeled")
PREDICTION_SORTS = ("least_sure", "most_sure")  # by confidence; images without a prediction last
DEFECT_SORTS = ("defect_first", "defect_last")  # by defect probability; images without one last


class SortKeys:
    """The sort keys of a catalog (its columns are declared here, filled by the catalog)."""

    ids: np.ndarray
    label: np.ndarray
    pred_class: np.ndarray
    pred_conf: np.ndarray
    pred_defect: np.ndarray
    suggestion_rank: np.ndarray
    mistakes: MistakeIndex
    classes: list[ImageClass]
    _name_rank: np.ndarray
    _date_rank: np.ndarray
    _confidence_rank: dict
    suggested: Callable[[], np.ndarray]  # the catalog's: open suggestions, per image

    def sort_keys(self, sort: str, descending: bool = False) -> np.ndarray:
        """(N,) int64 sort key of every image, all distinct: ascending keys give the view order."""
        n = len(self.ids)
        if sort in PREDICTION_SORTS:
            return self._confidence_keys(most_sure=(sort == "most_sure") != descending)
        if sort in DEFECT_SORTS:
            return self._defect_keys(highest=(sort == "defect_first") != descending)
        if sort == "suggested":
            return self._suggestion_keys(reverse=descending)
        if sort == "mislabeled":
            return self._mistake_keys(reverse=descending)
        if sort == "name":
            keys = self._name_rank
        elif sort == "date":
            keys = self._date_rank
        elif sort == "added":
            keys = np.arange(n, dtype=np.int64)
        elif sort == "label":
            keys = self._label_positions()[self.label] * max(n, 1) + self._name_rank
        else:
            raise ValueError(f"unknown sort {sort!r}; expected one of {', '.join(SORTS)}")
        return -keys if descending else keys

    def _confidence_keys(self, *, most_sure: bool) -> np.ndarray:
        """Ranks by confidence (then name); images without a prediction last, by name.
        Cached until the predictions are read again."""
        if most_sure not in self._confidence_rank:
            confidence = self.pred_conf.astype(np.float64)
            order = np.lexsort((self._name_rank, -confidence if most_sure else confidence, self.pred_class == 0))
            ranks = inverse_permutation(order)
            ranks.flags.writeable = False  # shared by every view until the predictions change
            self._confidence_rank[most_sure] = ranks
        return self._confidence_rank[most_sure]

    def _defect_keys(self, *, highest: bool) -> np.ndarray:
        """Ranks by defect probability (then name); images without one last."""
        key = ("defect", highest)
        if key not in self._confidence_rank:
            p = np.nan_to_num(self.pred_defect.astype(np.float64), nan=0.0)
            order = np.lexsort((self._name_rank, -p if highest else p, np.isnan(self.pred_defect)))
            ranks = inverse_permutation(order)
            ranks.flags.writeable = False
            self._confidence_rank[key] = ranks
        return self._confidence_rank[key]

    def _suggestion_keys(self, *, reverse: bool) -> np.ndarray:
        """Suggested images first by rank (``reverse``: last rank first), then the others;
        ties by name. Computed on each call (O(N), no sort): labels change it."""
        last = int(self.suggestion_rank.max(initial=0)) + 1
        rank = last - self.suggestion_rank if reverse else self.suggestion_rank
        group = np.where(self.suggested(), rank, last)
        return group * max(len(self.ids), 1) + self._name_rank

    def _mistake_keys(self, *, reverse: bool) -> np.ndarray:
        """The likely-mistakes list first in its order (``reverse``: its end first), then
        the other images; ties by name. O(N) per call: labels change it."""
        last = int(self.mistakes.rank.max(initial=0)) + 1
        rank = last - self.mistakes.rank if reverse else self.mistakes.rank
        group = np.where(self.mistakes.listed(self.label), rank, last)
        return group * max(len(self.ids), 1) + self._name_rank

    def _label_positions(self) -> np.ndarray:
        """Class id -> display position of its class; unlabeled (and unknown ids) last."""
        positions = np.full(256, len(self.classes), dtype=np.int64)
        for position, cls in enumerate(self.classes):
            positions[cls.id] = position
        return positions


def inverse_permutation(order: np.ndarray) -> np.ndarray:
    """The inverse of a permutation: ``ranks[order[k]] == k``."""
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = np.arange(len(order), dtype=np.int64)
    return ranks
