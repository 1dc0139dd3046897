"""Taking a proposal as an image's mask, with its origin recorded.

A mask taken from a proposal is an ordinary mask (the event log, undo, the detector's
mixed supervision): what marks it is the ``source`` it is saved with,
``proposal:run-<id>`` when taken as proposed and ``proposal:run-<id>:edited`` when the
user changed it first. :attr:`core.store.MaskInfo.source` and the mask's events carry it;
:func:`proposal_origin` reads it back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from core.proposals.store import ProposalSet, load_proposal
from core.store import ClassKind, InvalidValueError, Project

PREFIX = "proposal"
_PATTERN = re.compile(r"^proposal:run-(\d+)(:edited)?$")


@dataclass(frozen=True)
class ProposalOrigin:
    run_id: int
    edited: bool


def proposal_source(run_id: int, *, edited: bool = False) -> str:
    """The ``source`` of a mask taken from run ``run_id``'s proposal."""
    return f"{PREFIX}:run-{int(run_id)}" + (":edited" if edited else "")


def proposal_origin(source: str | None) -> ProposalOrigin | None:
    """Which run proposed a mask saved with ``source``, and whether it was edited; None
    for a mask drawn or imported."""
    match = _PATTERN.match(source or "")
    return None if match is None else ProposalOrigin(run_id=int(match.group(1)), edited=bool(match.group(2)))


def accept_proposal(project: Project, proposals: ProposalSet, image_id: int, *, actor: str,
                    cut: float | None = None, mask: np.ndarray | None = None) -> bool:
    """Saves ``image_id``'s proposal (at ``cut``, None: the run's) as its mask, in the
    image's defect class; ``mask`` (bool, the image's size) is the user's edit of it.
    Returns whether the mask changed.

    Raises:
        InvalidValueError: the image is not labeled with a defect class, or has no proposal.
    """
    label = project.labels.get(image_id)
    if label is None or label.kind is not ClassKind.DEFECT:
        raise InvalidValueError("only an image labeled with a defect class takes a proposed mask: label it first")
    edited = mask is not None
    if mask is None:
        proposal = load_proposal(project, proposals, image_id)
        if proposal is None:
            raise InvalidValueError(f"run {proposals.run.id} proposed nothing for image {image_id}")
        mask = proposal.mask(cut)
    values = np.asarray(mask, dtype=bool).astype(np.uint8) * label.class_id
    return project.masks.save(image_id, values, actor=actor,
                              source=proposal_source(proposals.run.id, edited=edited))


def accept_above(project: Project, proposals: ProposalSet, min_score: float, *, actor: str,
                 image_ids: set[int] | None = None) -> list[int]:
    """Accepts, in one transaction, every proposal scoring at least ``min_score`` of an
    image labeled defective that has no mask yet (of ``image_ids`` only, when given);
    returns the images that got one. ``proposals.ranked(min_score=...)`` previews them."""
    masked = set(project.masks.all())
    labels = project.labels.all()
    chosen = [r.image_id for r in proposals.ranked(min_score=min_score)
              if r.image_id not in masked and (image_ids is None or r.image_id in image_ids)
              and r.image_id in labels and labels[r.image_id].kind is ClassKind.DEFECT]
    with project.transaction():
        return [i for i in chosen if accept_proposal(project, proposals, i, actor=actor)]
