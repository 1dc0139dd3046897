"""A Qt-free, numpy-backed index of every image of a project, for the thumbnail grid.

:meth:`Catalog.load` reads the images, labels, masks and the latest predictions in a
few queries into parallel arrays (one entry per image, in id order, which is the
import order). :meth:`Catalog.view` filters, searches and sorts them with vectorised
numpy, fast enough to run on every keystroke for 100,000 images. Every sort key is a
permutation (ties are broken by file name, then import order), so sorting is stable
and a position in a view is well defined even for an image the view hides.

The prediction filters and sorts read the latest classifier run: "predicted" (as one
class), "disagree" (labeled, predicted as another class: where label mistakes hide), and
the confidence sorts, which put images without a prediction last. The defect filters and
sorts read the latest defect-detector run: "defective" (probability at or above the
run's threshold), "missed" (labeled OK / defective, detected as the other) and the
defect-probability sorts; the two filters keep no image unless the detector is
validated (:mod:`core.training.trust`), which also gives :attr:`Catalog.verdict`.

The suggestion filter and sort read the current suggestions (:mod:`core.store.suggestions`):
"suggested" keeps the images still to label that a suggestion names, and the
"suggested" sort puts them first by rank, the other images after them by name. An image
labeled since counts as no longer suggested as soon as :meth:`Catalog.refresh` reads
its label, without reading the suggestions again.

The "map" filter keeps the images selected on the embedding map (:attr:`Catalog.map_selection`,
set by whoever owns the selection; it survives label changes, not a new catalog).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from numpy.dtypes import StringDType

from core.catalog_sorts import SortKeys, inverse_permutation
from core.jobs.base import StoredPredictions
from core.store import ImageClass, PredictionState, Project, Run, RunKind
from core.training.trust import DetectorTrust, Verdict, detector_trust, which_to_believe

logger = logging.getLogger(__name__)

FILTERS = ("all", "unlabeled", "labeled", "class", "ok", "mask", "predicted", "disagree", "defective", "missed",
           "suggested", "map")
CLASS_FILTERS = ("class", "predicted")  # the filters that need a class_id
DEFECT_FILTERS = ("defective", "missed")  # need a defect-detector run
_FIXED_WIDTH_LIMIT = 96  # longest name kept in a fixed-width array (4 bytes a character, every row)


class MaskState(enum.IntEnum):
    """Whether an image has a mask, and whether that mask has defect pixels."""

    NONE = 0
    EMPTY = 1
    PIXELS = 2


@dataclass
class Catalog(SortKeys):
    """Parallel arrays over the images of a project, index ``i`` for image ``ids[i]``.

    Attributes:
        ids: (N,) int64 image ids, ascending (import order).
        names: file names (the last part of the stored path), for display.
        names_lower: (N,) lower-cased file names (numpy strings), for search.
        paths: stored paths, as in the images table.
        hashes: content hashes (the thumbnail cache's keys).
        widths, heights: (N,) int32 image size in pixels.
        mtimes: (N,) float64 file modification time (seconds since the epoch).
        label: (N,) int32 label class id, 0 when unlabeled.
        mask: (N,) int8 :class:`MaskState`.
        pred_class: (N,) int32 predicted class id of the latest finished run, 0 when none.
        pred_conf: (N,) float32 confidence of that prediction (0..1), 0 when none.
        prediction_run: id of the run the predictions come from, None when none.
        pred_defect: (N,) float32 defect probability of the latest defect-detector run,
            NaN when none.
        defect_run: id of that run, None when none; defect_threshold: its threshold.
        detector, verdict: that run's :class:`DetectorTrust`; the classifier-vs-detector :class:`Verdict`.
        suggestion_rank: (N,) int64 rank of the image's open label suggestion (1 = label
            first), 0 when none; an image labeled since keeps its rank here but
            :meth:`suggested` leaves it out.
        suggestions_at: when the current suggestions were computed, None when never.
        map_selection: (K,) int64 ids of the images selected on the embedding map, ascending.
        classes: the project's classes in display order.
    """

    ids: np.ndarray
    names: list[str]
    names_lower: np.ndarray
    paths: list[str]
    hashes: list[str]
    widths: np.ndarray
    heights: np.ndarray
    mtimes: np.ndarray
    label: np.ndarray
    mask: np.ndarray
    pred_class: np.ndarray
    pred_conf: np.ndarray
    prediction_run: int | None = None
    pred_defect: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    defect_run: int | None = None
    defect_threshold: float = 0.5
    detector: DetectorTrust = field(default_factory=lambda: detector_trust(None))
    verdict: Verdict | None = None
    suggestion_rank: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    suggestions_at: str | None = None
    map_selection: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    classes: tuple[ImageClass, ...] = ()
    _name_rank: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)
    _date_rank: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)
    _confidence_rank: dict = field(default_factory=dict, repr=False)  # most_sure / ("defect", highest) -> ranks
    _stored_told: dict = field(default_factory=dict, repr=False)  # run id -> predictions announced (add_stored)
    _complete: set = field(default_factory=set, repr=False)  # runs whose predictions the catalog holds all of

    # -- loading ---------------------------------------------------------------------------
    @classmethod
    def load(cls, project: Project) -> Catalog:
        """Reads every image of ``project`` (on the thread that owns ``project``)."""
        table = project.images.table()
        n = len(table.ids)
        names = [p.rpartition("/")[2] for p in table.paths]
        catalog = cls(
            ids=table.ids,
            names=names,
            names_lower=_lower_strings(names),
            paths=table.paths,
            hashes=table.hashes,
            widths=table.widths,
            heights=table.heights,
            mtimes=table.mtimes,
            label=np.zeros(n, np.int32),
            mask=np.zeros(n, np.int8),
            pred_class=np.zeros(n, np.int32),
            pred_conf=np.zeros(n, np.float32),
            pred_defect=np.full(n, np.nan, np.float32),
            suggestion_rank=np.zeros(n, np.int64),
        )
        catalog._name_rank = inverse_permutation(np.argsort(catalog.names_lower, kind="stable"))
        catalog._date_rank = inverse_permutation(np.lexsort((catalog._name_rank, catalog.mtimes)))
        catalog.reload_labels(project)
        return catalog

    def __len__(self) -> int:
        return len(self.ids)

    def reload_labels(self, project: Project) -> None:
        """Reads classes, labels, masks, predictions and suggestions of every image again."""
        self.classes = tuple(project.classes.list())
        self.label[:] = 0
        self.mask[:] = MaskState.NONE
        self._set_labels(project.labels.class_by_image())
        self._set_masks(project.masks.pixels_by_image())
        self._load_predictions(project)
        self.verdict = which_to_believe(project)
        self._load_suggestions(project)

    def refresh(self, project: Project, image_ids: Iterable[int]) -> None:
        """Reads the labels and masks of a few images again (after they changed)."""
        wanted = [int(i) for i in image_ids]
        index = self.index_of(wanted)
        self.label[index[index >= 0]] = 0
        self.mask[index[index >= 0]] = MaskState.NONE
        self._set_labels(project.labels.class_by_image(wanted))
        self._set_masks(project.masks.pixels_by_image(wanted))

    def _set_labels(self, class_by_image: dict[int, int]) -> None:
        if class_by_image:
            image_ids, class_ids = _columns(class_by_image)
            index = self.index_of(image_ids)
            self.label[index[index >= 0]] = class_ids[index >= 0]

    def _set_masks(self, pixels_by_image: dict[int, int]) -> None:
        if pixels_by_image:
            image_ids, pixels = _columns(pixels_by_image)
            index = self.index_of(image_ids)
            state = np.where(pixels > 0, MaskState.PIXELS, MaskState.EMPTY)
            self.mask[index[index >= 0]] = state[index >= 0]

    def _load_predictions(self, project: Project) -> None:
        self._load_classes(project, project.predictions.latest_run(RunKind.CLASSIFIER))
        self._load_defects(project, project.predictions.latest_run(RunKind.SEGDEC))

    def _load_classes(self, project: Project, run_id: int | None) -> None:
        """The classifier's predictions: those of run ``run_id`` (None: none)."""
        self.pred_class[:] = 0
        self.pred_conf[:] = 0.0
        self._confidence_rank = {}
        self.prediction_run = run_id
        if run_id is None:
            return
        self._read_whole(project.runs.get(run_id))
        stored = project.predictions.class_columns(run_id)
        if len(stored.ids):
            index = self.index_of(stored.ids)
            found = index >= 0
            self.pred_class[index[found]] = stored.class_ids[found].astype(np.int32)
            self.pred_conf[index[found]] = np.nan_to_num(stored.confidence[found], nan=0.0).astype(np.float32)

    def _load_defects(self, project: Project, run_id: int | None) -> None:
        """The defect detector's probabilities, threshold and trust: those of run ``run_id``."""
        self.pred_defect[:] = np.nan
        self._confidence_rank = {}
        self.defect_run = run_id
        run = project.runs.get(run_id) if run_id is not None else None
        self.detector = detector_trust(run)
        if run is None:
            return
        self.defect_threshold = float(run.metrics.get("threshold", 0.5))
        self._read_whole(run)
        probability = project.predictions.defect_probabilities(run_id)
        if probability:
            image_ids, p = _columns(probability, np.float64)
            index = self.index_of(image_ids)
            found = index >= 0
            self.pred_defect[index[found]] = p[found].astype(np.float32)

    def _read_whole(self, run: Run) -> None:
        """Notes that ``run``'s predictions are read whole; complete unless more are coming."""
        if run.prediction_state != PredictionState.STREAMING:
            self._complete.add(run.id)

    def add_stored(self, project: Project, stored: StoredPredictions) -> None:
        """Shows a batch of predictions a running job announced (``Progress.stored``):
        those of ``stored.image_ids`` from run ``stored.run_id``, read for those images
        only. A run the catalog does not show yet replaces the one it shows for its kind
        (reading what that run stored so far: its first batch; its images without a
        stored prediction then have none), and a batch that says more were stored than
        the catalog was told of (a record was lost) reads the run's predictions whole."""
        told = self._stored_told.get(stored.run_id, 0) + len(stored.image_ids)
        defects = stored.kind == RunKind.SEGDEC.value
        shown = self.defect_run if defects else self.prediction_run
        if stored.run_id != shown or told != stored.stored:
            (self._load_defects if defects else self._load_classes)(project, stored.run_id)
            self.verdict = which_to_believe(project)
            self._stored_told[stored.run_id] = stored.stored
        else:
            self._stored_told[stored.run_id] = told
            if defects:
                image_ids, p = _columns(project.predictions.defect_probabilities(stored.run_id, stored.image_ids),
                                        np.float64)
                index = self.index_of(image_ids)
                self.pred_defect[index[index >= 0]] = p[index >= 0].astype(np.float32)
            else:
                columns = project.predictions.class_columns(stored.run_id, stored.image_ids)
                index = self.index_of(columns.ids)
                found = index >= 0
                self.pred_class[index[found]] = columns.class_ids[found].astype(np.int32)
                self.pred_conf[index[found]] = np.nan_to_num(columns.confidence[found], nan=0.0).astype(np.float32)
            self._confidence_rank = {}
        if stored.complete:
            self._complete.add(stored.run_id)

    def after_run(self, project: Project) -> None:
        """A retrain ended: reads what it may have changed besides the predictions it
        streamed — which model to believe, the suggestions — and the predictions of a
        kind only where the catalog was not told of all of them (a run that did not
        stream, or a lost record). Cheap at any project size when streaming went well;
        labels and masks are kept current by their own changes."""
        for kind, shown, load in ((RunKind.CLASSIFIER, self.prediction_run, self._load_classes),
                                  (RunKind.SEGDEC, self.defect_run, self._load_defects)):
            latest = project.predictions.latest_run(kind)
            if latest != shown or (latest is not None and latest not in self._complete):
                load(project, latest)
        self.verdict = which_to_believe(project)
        self._load_suggestions(project)

    @property
    def has_defect_predictions(self) -> bool:
        return self.defect_run is not None

    def detected(self) -> np.ndarray:
        """(N,) bool: a validated detector calls the image defective (all False otherwise)."""
        with np.errstate(invalid="ignore"):
            return (self.pred_defect >= self.defect_threshold) & self.detector.validated

    def _load_suggestions(self, project: Project) -> None:
        self.suggestion_rank[:] = 0
        self.suggestions_at = project.suggestions.created_at()
        ranks = project.suggestions.ranks()
        if ranks:
            table = np.array(list(ranks.items()), dtype=np.int64)
            index = self.index_of(table[:, 0])
            self.suggestion_rank[index[index >= 0]] = table[index >= 0, 1]

    @property
    def has_suggestions(self) -> bool:
        """Whether suggestions were ever computed (open ones or not)."""
        return self.suggestions_at is not None

    def suggested(self) -> np.ndarray:
        """(N,) bool: the image is named by a suggestion and still unlabeled."""
        return (self.suggestion_rank > 0) & (self.label == 0)

    # -- lookups -------------------------------------------------------------------------------
    def index_of(self, image_ids: Iterable[int] | np.ndarray) -> np.ndarray:
        """The catalog index of each image id, -1 for ids the catalog does not hold."""
        wanted = np.asarray(list(image_ids) if not isinstance(image_ids, np.ndarray) else image_ids,
                            dtype=np.int64)
        if len(self.ids) == 0:
            return np.full(wanted.shape, -1, dtype=np.int64)
        index = np.searchsorted(self.ids, wanted)
        index = np.minimum(index, len(self.ids) - 1)
        return np.where(self.ids[index] == wanted, index, -1)

    def class_by_id(self) -> dict[int, ImageClass]:
        return {c.id: c for c in self.classes}

    @property
    def has_predictions(self) -> bool:
        return self.prediction_run is not None

    # -- queries -------------------------------------------------------------------------------
    def view(self, filter: str = "all", class_id: int | None = None, search: str = "", sort: str = "name",
             descending: bool = False) -> np.ndarray:
        """The ids of the images that pass ``filter`` and ``search``, in ``sort`` order.

        Args:
            filter: one of :data:`FILTERS`; "class" (labeled as) and "predicted"
                (predicted as) need ``class_id``; "ok" is any class of kind OK, "mask"
                any image with a mask (empty or not), "disagree" a labeled image
                predicted as another class, "suggested" an unlabeled image a suggestion
                names.
            search: case-insensitive substring of the file name ("" matches all).
            sort: one of :data:`SORTS`; "added" is import order; "least_sure" and
                "most_sure" order by confidence, images without a prediction last
                (``descending`` swaps the two); "suggested" puts the suggested
                images first by rank (``descending``: last rank first), the others after.
        """
        return self.ids[self.view_indices(filter, class_id, search, sort, descending)]

    def view_indices(self, filter: str = "all", class_id: int | None = None, search: str = "",
                     sort: str = "name", descending: bool = False) -> np.ndarray:
        """As :meth:`view`, catalog indices instead of image ids."""
        index = self.filter_indices(filter, class_id)
        needle = search.strip().lower()
        if needle:
            index = index[np.strings.find(self.names_lower[index], needle) >= 0]
        keys = self.sort_keys(sort, descending)[index]
        return index[np.argsort(keys)]

    def filter_indices(self, filter: str, class_id: int | None = None) -> np.ndarray:
        """The catalog indices, ascending, of the images that pass ``filter``."""
        if filter == "all":
            return np.arange(len(self.ids))
        if filter == "unlabeled":
            keep = self.label == 0
        elif filter == "labeled":
            keep = self.label != 0
        elif filter in CLASS_FILTERS:
            if class_id is None:
                raise ValueError(f'the "{filter}" filter needs a class_id')
            keep = (self.label if filter == "class" else self.pred_class) == class_id
        elif filter == "ok":
            keep = np.isin(self.label, [c.id for c in self.classes if c.is_ok])
        elif filter == "mask":
            keep = self.mask != MaskState.NONE
        elif filter == "disagree":
            keep = (self.label != 0) & (self.pred_class != 0) & (self.label != self.pred_class)
        elif filter == "defective":
            keep = self.detected()
        elif filter == "suggested":
            keep = self.suggested()
        elif filter == "map":
            keep = np.isin(self.ids, self.map_selection)
        elif filter == "missed":
            ok_ids = [c.id for c in self.classes if c.is_ok]
            labeled_ok = np.isin(self.label, ok_ids)
            known = ~np.isnan(self.pred_defect) & (self.label != 0) & self.detector.validated
            keep = known & (self.detected() == labeled_ok)
        else:
            raise ValueError(f"unknown filter {filter!r}; expected one of {', '.join(FILTERS)}")
        return np.flatnonzero(keep)


def _lower_strings(names: list[str]) -> np.ndarray:
    """Lower-cased names as a fixed-width numpy string array (fastest to search), or as
    variable-width strings when a very long name would make the fixed width wasteful."""
    lower = [name.lower() for name in names]
    longest = max(map(len, lower), default=1)
    return np.array(lower, dtype=f"<U{max(1, longest)}" if longest <= _FIXED_WIDTH_LIMIT else StringDType())


def _columns(table: dict[int, float], dtype: type = np.int64) -> tuple[np.ndarray, np.ndarray]:
    """(image ids, values) of an ``{image id: value}`` read."""
    return (np.fromiter(table.keys(), dtype=np.int64, count=len(table)),
            np.fromiter(table.values(), dtype=dtype, count=len(table)))

