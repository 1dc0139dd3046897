"""Mask-proposer runs for the review tests: a real tiny run, and designed proposals
written through the proposals' own writer (:class:`core.proposals.store.ProposalWriter`).

A designed run proposes, for each labeled defective image, a rectangle in a known place
(a difference of ``peak`` inside, 0.05 outside) at half the image's size (working scale
0.5, so the reader stretches it back as it does for a real run), with a repair; OK images
get a flat map and propose nothing.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from core.jobs.runs import RunRecorder
from core.jobs.snapshot import take_snapshot
from core.proposals.masks import ProposalRule
from core.proposals.store import ProposalWriter
from core.store import ClassKind, Project, RunKind

RULE = ProposalRule(floor=0.3, min_area_share=0.001, score_threshold=0.6)
SCALE = 0.5


def label_from_truth(root: Path) -> None:
    with Project.open(root) as project, open(root / "truth" / "labels.csv") as handle:
        rows = list(csv.DictReader(handle))
        project.labels.apply([(project.images.find(r["file"]).id, r["class"]) for r in rows], actor="t",
                             source="test")


def rectangle(height: int, width: int) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of the designed proposal in an image of that size
    (off-centre, so that a swapped axis or a flipped image shows)."""
    return height // 5, width // 2, height // 2 + 2, (4 * width) // 5


def write_designed_run(root: Path, peaks: dict[int, float] | None = None) -> int:
    """Writes a finished proposer run; ``peaks``: image id -> the difference inside the
    rectangle (its score), default 0.9 - 0.03 k for the k-th defective image. Returns the run id."""
    with Project.open(root) as project:
        defect = {c.id for c in project.classes.list() if c.kind is ClassKind.DEFECT}
        labels = project.labels.class_by_image()
        sizes = dict(zip(project.images.ids().tolist(), map(tuple, project.images.sizes().tolist()), strict=True))
        defective = sorted(i for i, c in labels.items() if c in defect)
        peaks = peaks if peaks is not None else {i: 0.9 - 0.03 * k for k, i in enumerate(defective)}
        with RunRecorder(project, method=RunKind.PROPOSER.method("isugan"), config={"designed": True},
                         snapshot=take_snapshot(project), seed=0) as recorder:
            writer = ProposalWriter(recorder.partial_dir, RULE, repairs=True)
            for image_id in sorted(labels):
                height, width = sizes[image_id]
                small = (max(2, round(height * SCALE)), max(2, round(width * SCALE)))
                difference = np.full(small, 0.05, np.float32)
                if image_id in peaks:
                    top, left, bottom, right = rectangle(*small)
                    difference[top:bottom, left:right] = peaks[image_id]
                repair = np.full(small, 120, np.uint8)
                writer.add(image_id, difference, (height, width), repair)
            writer.close({"method": "isugan", "scale": SCALE})
            run = recorder.finish(metrics={"designed": True})
        return run.id


def run_tiny_proposer(root: Path) -> int:
    """A real ISU-GAN proposer run of a few steps on tiny networks (it proposes little or
    nothing: the point is a run written by the job itself). Returns its id."""
    from core.jobs import drain
    from core.proposals import ProposerRequest, proposer_job

    request = ProposerRequest(project_root=root, method="isugan", preset="quick", steps=3,
                              net={"ngf": 4, "ndf": 4, "residual_blocks": 1}, train={"batch_size": 2, "crop": 32},
                              workers=1, threads=1, device="cpu")
    result = drain(proposer_job(request))
    assert result.run is not None
    return result.run.id
