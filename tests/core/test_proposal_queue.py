"""The store's side of reviewing mask proposals: rejections that persist per run, the
accepted mask's source, and what the review queue and the bulk accept offer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from proposal_runs import label_from_truth, rectangle, write_designed_run

from core.demo_project import create_demo_project
from core.proposals import load_proposal, load_proposals
from core.proposals.accept import ProposalOrigin, proposal_origin, proposal_source
from core.proposals.review import bulk_plan, proposal_mask, review_queue
from core.store import InvalidValueError, Project


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("proposal-review") / "project"
    create_demo_project(root, n_images=10, size=(40, 90), kind="cracks", ok_fraction=0.5, workers=1)
    label_from_truth(root)
    assert write_designed_run(root) == 1
    return root


@pytest.fixture
def project(template: Path, tmp_path: Path):
    import shutil

    shutil.copytree(template, tmp_path / "project")
    with Project.open(tmp_path / "project") as opened:
        yield opened


def test_rejections_persist_per_run(project: Project) -> None:
    ids = project.images.ids().tolist()[:3]
    rejected = project.rejected_proposals
    assert rejected.reject(1, ids[:2], actor="t", source="test") == 2
    assert rejected.reject(1, ids[1:], actor="t", source="test") == 1  # one was rejected already
    assert rejected.image_ids(1) == set(ids) and rejected.count(1) == 3
    with pytest.raises(InvalidValueError):
        rejected.reject(99, ids, actor="t", source="test")  # no such run
    root = project.root
    project.close()
    with Project.open(root) as again:
        assert again.rejected_proposals.image_ids(1) == set(ids)
        assert again.rejected_proposals.restore(1, [ids[0]]) == 1
        assert again.rejected_proposals.image_ids(1) == set(ids[1:])
        assert again.rejected_proposals.restore(1) == 2 and not again.rejected_proposals.image_ids(1)


def test_a_mask_keeps_its_source(project: Project) -> None:
    image = project.images.get(int(project.images.ids()[0]))
    mask = np.zeros((image.height, image.width), np.uint8)
    mask[2:5, 3:9] = 2
    project.masks.save(image.id, mask, actor="ann", source=proposal_source(1, edited=True))
    info = project.masks.info(image.id)
    assert proposal_origin(info.source) == ProposalOrigin(1, edited=True)
    assert project.events.list(image_id=image.id, kind="mask")[-1].source == "proposal:run-1:edited"


def test_the_queue_offers_labeled_defective_images_without_a_mask(project: Project) -> None:
    proposals = load_proposals(project)
    queue = review_queue(project, proposals)
    labels = project.labels.class_by_image()
    defective = sorted(i for i, c in labels.items() if project.classes.get(c).kind.value == "defect")
    assert sorted(i.image_id for i in queue.items) == defective and queue.not_defective == 0  # OK images: no mask
    assert [i.row.score for i in queue.open()] == sorted((i.row.score for i in queue.items), reverse=True)
    best, second = queue.items[0].image_id, queue.items[1].image_id
    proposal = load_proposal(project, proposals, best)
    mask = proposal_mask(proposal, labels[best])
    image = project.images.get(best)
    top, left, bottom, right = (round(v / 0.5) for v in rectangle(round(image.height * 0.5), round(image.width * 0.5)))
    ys, xs = np.nonzero(mask)
    assert mask.shape == (image.height, image.width) and set(np.unique(mask)) == {0, labels[best]}
    assert abs(ys.min() - top) <= 1 and abs(xs.min() - left) <= 1 and abs(ys.max() + 1 - bottom) <= 1 and abs(
        xs.max() + 1 - right) <= 1  # where it was put, at the image's own (non-square) size
    project.masks.save(best, mask, actor="t", source=proposal_source(1))
    project.rejected_proposals.reject(1, [second], actor="t", source="test")
    queue = review_queue(project, proposals)
    assert queue.state(best) == "masked" and queue.state(second) == "rejected"
    assert best not in [i.image_id for i in queue.open()] and queue.next_open(None) == queue.items[2].image_id
    assert queue.next_open(queue.items[-1].image_id) == queue.items[2].image_id  # wraps round, skips the decided
    plan = bulk_plan(queue, 0.0)
    assert (len(plan.accept), plan.masked, plan.rejected) == (len(defective) - 2, 1, 1)
    assert plan.sentence() == f"{len(defective) - 2} images will get a mask; 1 already has one and 1 you rejected " \
                              "are skipped."
    assert bulk_plan(queue, 2.0).sentence() == "0 images will get a mask."
    queue.set_rejected(second, False)
    assert bulk_plan(queue, 0.0).sentence().endswith("; 1 already has one and is skipped.")
    queue.set_masked(best, False)
    queue.set_rejected(second, True)
    queue.set_rejected(best, True)
    assert bulk_plan(queue, 0.0).sentence().endswith("; 2 you rejected are skipped.")
