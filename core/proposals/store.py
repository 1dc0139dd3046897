"""Mask proposals of a run: written by the proposer job, read by the CLI, the benchmark
and the editor's review.

A proposer run (``RunKind.PROPOSER``; method ``proposer-isugan``, ``proposer-cyclegan``
or ``proposer-patchcore``) keeps in its folder:

* ``proposals.json``: the method, the working scale, the :class:`ProposalRule` (floor,
  smallest component, score threshold), how the rule was calibrated, and the columns of
* ``proposal_table.npy``: (n, 6) float64, one row per proposed image, by image id:
  image id, score, cut, Otsu level, proposed share of the image, components;
* ``differences.u8`` + ``difference_index.npy``: each image's difference map (uint8,
  0..255 for 0..1) at the working scale, in the heat maps' format
  (:mod:`core.training.heatmaps`);
* ``repairs.u8`` + ``repair_index.npy``: each image's repair (ISU-GAN only).

Everything a reader computes (the mask at any cut, its area) comes from the stored uint8
map, so the job's table and a later read agree to the pixel.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.files import write_text_atomic
from core.proposals.masks import ProposalRule, cut_level, image_score, otsu_level, propose_mask, resize_map
from core.store import Project, Run, RunKind, RunStatus, StoreError
from core.training.heatmaps import HeatmapWriter, open_maps, read_map

META = "proposals.json"
TABLE = "proposal_table.npy"
DIFFERENCES, DIFFERENCE_INDEX = "differences.u8", "difference_index.npy"
REPAIRS, REPAIR_INDEX = "repairs.u8", "repair_index.npy"
COLUMNS = ("image_id", "score", "cut", "otsu", "area_share", "components")


@dataclass(frozen=True)
class ProposalRow:
    """What a run proposes for one image, in numbers (a row of ``proposal_table.npy``).

    Attributes:
        score: the image score (:func:`core.proposals.masks.image_score`).
        cut: the difference level the proposal cuts at (max of ``otsu`` and the floor).
        area_share: share of the image's pixels the proposal covers (0: proposes nothing).
        components: connected parts of the proposal.
    """

    image_id: int
    score: float
    cut: float
    otsu: float
    area_share: float
    components: int


def quantize(difference: np.ndarray) -> np.ndarray:
    """A difference map (float, 0..1) as stored: uint8 0..255."""
    return (np.clip(np.asarray(difference, dtype=np.float32), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def dequantize(stored: np.ndarray) -> np.ndarray:
    return np.asarray(stored, dtype=np.float32) / 255.0


def mask_at_image_size(difference: np.ndarray, height: int, width: int, cut: float, share: float) -> np.ndarray:
    """The proposal (bool, ``height`` x ``width``) from a working-scale difference map:
    the map stretched over the image, cut at ``cut``, small components dropped."""
    return propose_mask(resize_map(difference, height, width), cut, share)


class ProposalWriter:
    """Writes one run's proposals into its folder; :meth:`close` writes the table and meta."""

    def __init__(self, folder: Path, rule: ProposalRule, *, repairs: bool) -> None:
        self._folder = folder
        self.rule = rule
        self._differences = HeatmapWriter(folder, data=DIFFERENCES, index=DIFFERENCE_INDEX)
        self._repairs = HeatmapWriter(folder, data=REPAIRS, index=REPAIR_INDEX) if repairs else None
        self.rows: list[ProposalRow] = []

    def add(self, image_id: int, difference: np.ndarray, image_size: tuple[int, int],
            repair: np.ndarray | None = None) -> ProposalRow:
        """Stores one image's map (and repair) and returns its row; ``image_size`` is the
        image's (height, width), the map may be at the working scale."""
        stored = quantize(difference)
        self._differences.add(image_id, stored)
        if self._repairs is not None and repair is not None:
            self._repairs.add(image_id, np.asarray(repair, dtype=np.uint8))
        row = describe(image_id, dequantize(stored), image_size, self.rule)
        self.rows.append(row)
        return row

    def close(self, meta: dict) -> None:
        self._differences.close()
        if self._repairs is not None:
            self._repairs.close()
        table = np.array([[getattr(r, c) for c in COLUMNS] for r in sorted(self.rows, key=lambda r: r.image_id)],
                         dtype=np.float64).reshape(-1, len(COLUMNS))
        np.save(self._folder / TABLE, table)
        write_text_atomic(self._folder / META, json.dumps(
            {**meta, "rule": self.rule.to_dict(), "columns": list(COLUMNS), "repairs": self._repairs is not None},
            indent=1, default=float))


def describe(image_id: int, difference: np.ndarray, image_size: tuple[int, int], rule: ProposalRule) -> ProposalRow:
    """The row of one image's (dequantized) difference map under ``rule``."""
    from scipy import ndimage

    otsu = otsu_level(difference)
    cut = max(otsu, rule.floor)
    mask = mask_at_image_size(difference, image_size[0], image_size[1], cut, rule.min_area_share)
    components = int(ndimage.label(mask, structure=np.ones((3, 3), bool))[1]) if mask.any() else 0
    return ProposalRow(image_id=int(image_id), score=image_score(difference, rule.min_area_share), cut=cut,
                       otsu=otsu, area_share=float(mask.mean()), components=components)


@dataclass(frozen=True)
class Proposal:
    """One image's proposal at the image's own size.

    Attributes:
        difference: float32 (H, W) in [0, 1]: where image and repair differ (stretched
            from the working scale).
        repair: uint8 (H, W), the repaired image; None for a proposer without repairs.
        cut: the level the run's proposal cuts at; :meth:`mask` takes another (a slider).
        defective: the score reaches the run's threshold.
    """

    run_id: int
    image_id: int
    score: float
    cut: float
    otsu: float
    defective: bool
    rule: ProposalRule
    difference: np.ndarray
    repair: np.ndarray | None

    def mask(self, cut: float | None = None) -> np.ndarray:
        """bool (H, W): the proposal at ``cut`` (None: the run's), small parts dropped."""
        return propose_mask(self.difference, self.cut if cut is None else float(cut), self.rule.min_area_share)


@dataclass(frozen=True)
class ProposalSet:
    """Everything one proposer run proposed, as columns by image id (one read)."""

    run: Run
    method: str
    scale: float
    rule: ProposalRule
    meta: dict
    table: np.ndarray  # (n, len(COLUMNS)) float64, by image id

    @property
    def ids(self) -> np.ndarray:
        return self.table[:, 0].astype(np.int64)

    @property
    def scores(self) -> np.ndarray:
        return self.table[:, 1]

    @property
    def defective(self) -> np.ndarray:
        """bool per row: the image score reaches the run's threshold."""
        return self.scores >= self.rule.score_threshold

    def row(self, image_id: int) -> ProposalRow | None:
        k = int(np.searchsorted(self.table[:, 0], image_id))
        if k >= len(self.table) or int(self.table[k, 0]) != image_id:
            return None
        values = self.table[k]
        return ProposalRow(int(values[0]), float(values[1]), float(values[2]), float(values[3]), float(values[4]),
                           int(values[5]))

    def ranked(self, *, min_score: float | None = None) -> list[ProposalRow]:
        """Rows that propose a mask (area above 0), highest score first; only those scoring
        at least ``min_score`` when given (a bulk "accept all above S" counts these)."""
        rows = [self.row(int(i)) for i in self.ids[self.table[:, 4] > 0]]
        rows = [r for r in rows if r is not None and (min_score is None or r.score >= min_score)]
        return sorted(rows, key=lambda r: (-r.score, r.image_id))


def proposer_runs(project: Project) -> list[Run]:
    """The finished proposer runs, newest first."""
    return project.runs.finished(RunKind.PROPOSER, with_checkpoint=False)


def load_proposals(project: Project, run: Run | int | None = None) -> ProposalSet:
    """The proposals of ``run`` (a run or its id; None: the newest finished proposer run).

    Raises:
        StoreError: no such proposer run, or its folder lacks the proposals.
    """
    run = _proposer_run(project, run)
    folder = project.runs_dir / str(run.id)
    try:
        meta = json.loads((folder / META).read_text())
        table = np.load(folder / TABLE)
    except (OSError, ValueError) as exc:
        raise StoreError(f"run {run.id} has no readable proposals ({exc})") from exc
    return ProposalSet(run=run, method=meta.get("method", run.method), scale=float(meta.get("scale", 1.0)),
                       rule=ProposalRule.from_dict(meta["rule"]), meta=meta, table=table.reshape(-1, len(COLUMNS)))


def load_proposal(project: Project, proposals: ProposalSet, image_id: int) -> Proposal | None:
    """One image's proposal at the image's size; None when the run proposed nothing for it
    (it was not among the images the run looked at)."""
    row = proposals.row(image_id)
    folder = project.runs_dir / str(proposals.run.id)
    opened = open_maps(folder, data=DIFFERENCES, index=DIFFERENCE_INDEX)
    stored = None if opened is None or row is None else read_map(opened, image_id)
    if stored is None or row is None:
        return None
    image = project.images.get(image_id)
    difference = resize_map(dequantize(stored), image.height, image.width)
    repair = None
    opened = open_maps(folder, data=REPAIRS, index=REPAIR_INDEX) if proposals.meta.get("repairs") else None
    if opened is not None:
        small = read_map(opened, image_id)
        if small is not None:
            repair = np.clip(resize_map(small.astype(np.float32), image.height, image.width) + 0.5, 0, 255
                             ).astype(np.uint8)
    return Proposal(run_id=proposals.run.id, image_id=image_id, score=row.score, cut=row.cut, otsu=row.otsu,
                    defective=row.score >= proposals.rule.score_threshold, rule=proposals.rule,
                    difference=difference, repair=repair)


def _proposer_run(project: Project, run: Run | int | None) -> Run:
    if run is None:
        runs = proposer_runs(project)
        if not runs:
            raise StoreError("no mask proposals yet: train a proposer first (labelapp train PROJECT --method isugan)")
        return runs[0]
    run = project.runs.get(run) if isinstance(run, int) else run
    if run.kind is not RunKind.PROPOSER or run.status is not RunStatus.DONE:
        raise StoreError(f"run {run.id} is not a finished mask-proposer run ({run.method}, {run.status.value})")
    return run


__all__ = ["COLUMNS", "Proposal", "ProposalRow", "ProposalSet", "ProposalWriter", "cut_level", "describe",
           "load_proposal", "load_proposals", "mask_at_image_size", "proposer_runs"]
