"""Writes a proposer run's masks as PNGs the size of each image, with a CSV of image scores.

``<out>/<stem>.png`` is gray, 0 = background and 255 = proposed defect, the size of the
image (stems shared by images of several folders get ``-2``, ``-3``, ...).
``proposals.csv`` has one row per written image, plain ``\\n`` newlines, columns
:data:`CSV_COLUMNS`: the image's stored path, the PNG, the image id, the score, whether
the score reaches the run's threshold (1 / 0), the proposed pixels, its components, the
cut, and the image's label at export time (empty when unlabeled).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.files import atomic_writer, unique_stem
from core.proposals.store import load_proposal, load_proposals
from core.store import Project

CSV_NAME = "proposals.csv"
CSV_COLUMNS = ("image", "mask", "image_id", "score", "defective", "mask_pixels", "components", "cut", "label")


@dataclass(frozen=True)
class ProposalExport:
    run_id: int
    method: str
    out: Path
    images: int
    with_mask: int
    score_threshold: float
    csv: Path


def export_proposals(project: Project, out: Path, *, run_id: int | None = None) -> ProposalExport:
    """Writes every proposal of ``run_id`` (None: the newest proposer run) into ``out``.

    Raises:
        StoreError: no such proposer run.
    """
    from PIL import Image as PILImage
    from scipy import ndimage

    proposals = load_proposals(project, run_id)
    labels = {image_id: label.class_name for image_id, label in project.labels.all().items()}
    out.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    rows, with_mask = [], 0
    for image_id in proposals.ids.tolist():
        proposal = load_proposal(project, proposals, int(image_id))
        if proposal is None:
            continue
        image = project.images.get(int(image_id))
        mask = proposal.mask()
        name = f"{unique_stem(Path(image.path).stem, used)}.png"
        with atomic_writer(out / name, "wb", durable=False) as handle:  # thousands of files: no fsync each
            PILImage.fromarray(mask.astype(np.uint8) * 255).save(handle, format="PNG")
        pixels = int(mask.sum())
        with_mask += pixels > 0
        components = int(ndimage.label(mask, structure=np.ones((3, 3), bool))[1]) if pixels else 0
        rows.append((image.path, name, int(image_id), f"{proposal.score:.6f}", int(proposal.defective), pixels,
                     components, f"{proposal.cut:.6f}", labels.get(int(image_id), "")))
    table = out / CSV_NAME
    with atomic_writer(table, "w") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        writer.writerows(rows)
    return ProposalExport(run_id=proposals.run.id, method=proposals.method, out=out, images=len(rows),
                          with_mask=with_mask, score_threshold=proposals.rule.score_threshold, csv=table)
