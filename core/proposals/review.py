"""What the review of a proposer run offers: the labeled defective images whose proposal
is not empty, best score first, less those that already have a mask and those the
reviewer rejected; and what a bulk "accept all at or above score S" would do.

Qt-free, read on the GUI thread when the review (re)loads: a few whole-table reads
(labels, masks, rejections), then plain arrays; moving the bulk slider reads nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.proposals.store import Proposal, ProposalRow, ProposalSet
from core.store import ClassKind, Project


@dataclass(frozen=True)
class ReviewItem:
    """One image's proposal and the class its accepted mask paints (the image's label)."""

    row: ProposalRow
    class_id: int

    @property
    def image_id(self) -> int:
        return self.row.image_id


class ReviewQueue:
    """A proposer run's proposals for the labeled defective images, best score first, and
    what became of each: **open** (offered), **masked** (the image has a mask: accepted,
    drawn or imported; never offered) or **rejected** (for this run).

    Attributes:
        items: every labeled defective image with a proposal, best score first.
        not_defective: proposals of images labeled OK or unlabeled (never offered).
        unproposed: labeled defective images without a mask the run proposes nothing for
            (their strongest region is below the floor learned from OK images).
    """

    def __init__(self, proposals: ProposalSet, items: list[ReviewItem], masked: set[int], rejected: set[int],
                 not_defective: int = 0, unproposed: int = 0) -> None:
        self.proposals = proposals
        self.items = tuple(items)
        self._by_id = {i.image_id: i for i in items}
        self._masked = set(masked) & set(self._by_id)
        self._rejected = set(rejected) & set(self._by_id)
        self.not_defective = not_defective
        self.unproposed = unproposed

    @property
    def run_id(self) -> int:
        return self.proposals.run.id

    def item(self, image_id: int) -> ReviewItem | None:
        """The item of ``image_id`` whatever its state; None when it has none."""
        return self._by_id.get(int(image_id))

    def state(self, image_id: int) -> str | None:
        """``open``, ``masked``, ``rejected`` or None (no item)."""
        if int(image_id) not in self._by_id:
            return None
        return "masked" if image_id in self._masked else "rejected" if image_id in self._rejected else "open"

    def is_open(self, image_id: int) -> bool:
        return self.state(image_id) == "open"

    def open(self) -> list[ReviewItem]:
        return [i for i in self.items if i.image_id not in self._masked and i.image_id not in self._rejected]

    def masked(self) -> list[ReviewItem]:
        return [i for i in self.items if i.image_id in self._masked]

    def rejected(self) -> list[ReviewItem]:
        return [i for i in self.items if i.image_id in self._rejected and i.image_id not in self._masked]

    def set_masked(self, image_id: int, masked: bool) -> None:
        if int(image_id) in self._by_id:
            (self._masked.add if masked else self._masked.discard)(int(image_id))

    def set_rejected(self, image_id: int, rejected: bool) -> None:
        if int(image_id) in self._by_id:
            (self._rejected.add if rejected else self._rejected.discard)(int(image_id))

    def next_open(self, image_id: int | None) -> int | None:
        """The open proposal after ``image_id`` in rank order (wrapping round; the best when
        ``image_id`` has no item); never ``image_id`` itself; None when no other is open."""
        ranked = [i.image_id for i in self.items]
        start = ranked.index(image_id) + 1 if image_id in self._by_id else 0
        for candidate in ranked[start:] + ranked[:start]:
            if candidate != image_id and self.is_open(candidate):
                return candidate
        return None


@dataclass(frozen=True)
class BulkPlan:
    """What "accept all at or above ``min_score``" does: ``accept`` get a mask; ``masked``
    already have one and ``rejected`` were rejected: both are skipped."""

    min_score: float
    accept: tuple[ReviewItem, ...]
    masked: int
    rejected: int

    def sentence(self) -> str:
        """``12 images will get a mask; 2 already have one and are skipped.`` and the like."""
        n, masked, rejected = len(self.accept), self.masked, self.rejected
        text = f"{n} image{'' if n == 1 else 's'} will get a mask"
        has = f"{masked} already {'has' if masked == 1 else 'have'} one"
        if masked and not rejected:
            text += f"; {has} and {'is' if masked == 1 else 'are'} skipped"
        elif rejected:
            skipped = (f"{has} and " if masked else "") + f"{rejected} you rejected"
            text += f"; {skipped} {'is' if masked + rejected == 1 else 'are'} skipped"
        return text + "."


def review_queue(project: Project, proposals: ProposalSet) -> ReviewQueue:
    """The review of ``proposals`` as the store stands now (a handful of reads)."""
    defect_classes = {c.id for c in project.classes.list() if c.kind is ClassKind.DEFECT}
    labels = project.labels.class_by_image()
    masked_ids = set(project.masks.files())
    rejected_ids = project.rejected_proposals.image_ids(proposals.run.id)
    items: list[ReviewItem] = []
    others = 0
    for row in proposals.ranked():
        class_id = labels.get(row.image_id)
        if class_id in defect_classes:
            items.append(ReviewItem(row=row, class_id=int(class_id)))
        else:
            others += 1
    listed = {i.image_id for i in items}
    unproposed = sum(1 for image_id, class_id in labels.items()
                     if class_id in defect_classes and image_id not in listed and image_id not in masked_ids
                     and proposals.row(int(image_id)) is not None)
    return ReviewQueue(proposals, items, masked_ids, set(rejected_ids), not_defective=others, unproposed=unproposed)


def bulk_plan(queue: ReviewQueue, min_score: float) -> BulkPlan:
    """The images "accept all at or above ``min_score``" masks, and those it skips."""
    def above(items: list[ReviewItem]) -> list[ReviewItem]:
        return [i for i in items if i.row.score >= min_score]

    return BulkPlan(min_score=float(min_score), accept=tuple(above(queue.open())),
                    masked=len(above(queue.masked())), rejected=len(above(queue.rejected())))


def score_range(queue: ReviewQueue) -> tuple[float, float]:
    """(lowest, highest) score of the proposals of labeled defective images; (0, 1) when none."""
    scores = np.array([i.row.score for i in queue.items])
    return (float(scores.min()), float(scores.max())) if len(scores) else (0.0, 1.0)


def proposal_mask(proposal: Proposal, class_id: int, cut: float | None = None) -> np.ndarray:
    """The proposal as a mask to store: uint8 (H, W), ``class_id`` where proposed, else 0."""
    return np.where(proposal.mask(cut), np.uint8(class_id), np.uint8(0)).astype(np.uint8)
