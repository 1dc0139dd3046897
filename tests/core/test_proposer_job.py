"""The mask-proposer job on a small generated project: a real (tiny) training, the stored
proposals read back at each image's size, cancel and resume, the comparator."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from core.jobs import drain
from core.jobs.base import Preview, Progress
from core.proposals import ProposerRequest, load_proposal, load_proposals, proposer_job
from core.store import Project, RunKind, RunStatus, StoreError

SIZE = (48, 80)
TINY = {"net": {"ngf": 4, "ndf": 4, "residual_blocks": 1, "involution_group": 4},
        "train": {"crop": 32, "batch_size": 2}, "preview_every_s": 0.0, "workers": 1, "threads": 1}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, label_from_truth) -> Path:
    """24 non-square textured images, half OK, all labeled from the truth."""
    from core.demo_project import create_demo_project

    root = tmp_path_factory.mktemp("proposer") / "project"
    create_demo_project(root, n_images=24, size=SIZE, kind="textured", ok_fraction=0.5, workers=1, seed=2)
    label_from_truth(root, 24)
    return root


@pytest.fixture()
def project_root(template: Path, tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(template, root)
    return root


def _defective_ids(root: Path) -> set[int]:
    with Project.open(root) as project:
        ok = {c.id for c in project.classes.list() if c.is_ok}
        return {i for i, c in project.labels.class_by_image().items() if c not in ok}


def test_isugan_trains_previews_and_stores_proposals_at_each_images_size(project_root: Path) -> None:
    records: list[Progress] = []
    result = drain(proposer_job(ProposerRequest(project_root=project_root, steps=3, **TINY)), records.append)
    run = result.run
    assert run is not None and run.kind is RunKind.PROPOSER and run.method == "proposer-isugan"
    assert run.status is RunStatus.DONE and run.checkpoint
    training = [r for r in records if r.phase == "training ISU-GAN"]
    assert [r.step for r in training] == [1, 2, 3] and all(r.total == 3 for r in training)
    assert all(np.isfinite(list(r.losses.values())).all() and "cycle" in r.losses for r in training)
    previews = [r.preview for r in training if r.preview is not None]
    assert previews and isinstance(previews[-1], Preview)
    strip = previews[-1]
    assert strip.columns == ("image", "repair", "difference", "mask") and len(strip.tiles) == len(strip.image_ids) == 4
    assert all(tile.shape == strip.tiles[0][0].shape and tile.dtype == np.uint8 for tile in strip.tiles[0])
    assert "repair MSE (OK)" in training[-1].metrics
    m = result.metrics
    assert m["defective_calibration"] == 2 and m["ok_calibration"] == 2 and m["calibration"]["held_out"]
    assert m["advice"] and "more" in m["advice"]  # 12 of each is short of what a GAN wants
    assert not list((project_root / "cache" / "proposer").glob("*.pt"))  # the resume file went with the finish
    with Project.open(project_root) as project:
        proposals = load_proposals(project)
        assert proposals.run.id == run.id and proposals.method == "isugan"
        assert _defective_ids(project_root) <= set(proposals.ids.tolist())
        assert proposals.rule.floor == pytest.approx(m["rule"]["floor"])
        ranked = proposals.ranked()
        assert [r.score for r in ranked] == sorted((r.score for r in ranked), reverse=True)
        for image_id in proposals.ids.tolist():
            proposal = load_proposal(project, proposals, image_id)
            assert proposal.difference.shape == proposal.repair.shape == SIZE == proposal.mask().shape
            row = proposals.row(image_id)
            assert proposal.mask().mean() == pytest.approx(row.area_share)  # the stored row is what a reader sees
            assert not proposal.mask(cut=1.0).any() and proposal.mask(cut=0.0).all() in (True, False)
        assert load_proposal(project, proposals, 10_000) is None


def test_cancel_keeps_a_checkpoint_and_the_next_run_continues_from_it(project_root: Path) -> None:
    cancel = threading.Event()

    def stop_at_two(record: Progress) -> None:
        if record.phase == "training ISU-GAN" and record.step == 2:
            cancel.set()

    request = ProposerRequest(project_root=project_root, steps=4, **TINY)
    first = drain(proposer_job(request, cancel), stop_at_two)
    assert first.cancelled and first.run is None
    assert len(list((project_root / "cache" / "proposer").glob("isugan-*.pt"))) == 1
    with Project.open(project_root) as project:
        assert [r.status for r in project.runs.list()] == [RunStatus.CANCELLED]
    records: list[Progress] = []
    second = drain(proposer_job(request), records.append)
    assert second.metrics["resumed_from_step"] == 2
    assert [r.step for r in records if r.phase == "training ISU-GAN"] == [3, 4]
    fresh = drain(proposer_job(ProposerRequest(project_root=project_root, steps=4, resume=False, **TINY)))
    assert fresh.metrics["resumed_from_step"] == 0


def test_the_plain_cyclegan_and_the_nearest_neighbour_proposer(project_root: Path) -> None:
    cyclegan = drain(proposer_job(ProposerRequest(project_root=project_root, method="cyclegan", steps=2, **TINY)))
    assert cyclegan.run.method == "proposer-cyclegan"
    patchcore = drain(proposer_job(ProposerRequest(project_root=project_root, method="patchcore", scope="all",
                                                   workers=1, threads=1)))
    assert patchcore.run.method == "proposer-patchcore" and patchcore.metrics["encoder_run"] is None
    predicted = drain(proposer_job(ProposerRequest(project_root=project_root, method="patchcore", scope="predicted",
                                                   workers=1, threads=1)))
    assert "no unlabeled ones: no defect detector yet" in predicted.metrics["scope_note"]
    with Project.open(project_root) as project:
        proposals = load_proposals(project, patchcore.run.id)
        assert len(proposals.ids) == 24  # scope "all"
        proposal = load_proposal(project, proposals, int(proposals.ids[0]))
        assert proposal.repair is None and proposal.difference.shape == proposal.mask().shape == SIZE
        assert load_proposals(project, cyclegan.run.id).method == "cyclegan"


def test_too_few_labels_say_how_many_more(tmp_path: Path) -> None:
    from core.demo_project import create_demo_project

    root = tmp_path / "few"
    create_demo_project(root, n_images=6, size=32, kind="textured", ok_fraction=0.5, workers=1)
    with Project.open(root) as project:
        ok = project.classes.ok_class()
        project.labels.apply([(1, ok.name), (2, ok.name)], actor="t", source="test")
    with pytest.raises(StoreError, match="label at least 1 more defective"):
        drain(proposer_job(ProposerRequest(project_root=root, workers=1)))
    with Project.open(root) as project, pytest.raises(StoreError, match="no mask proposals yet"):
        load_proposals(project)


def test_accepted_proposals_are_ordinary_masks_that_remember_their_run(project_root: Path) -> None:
    from core.proposals.accept import ProposalOrigin, accept_above, accept_proposal, proposal_origin
    from core.store import InvalidValueError

    run = drain(proposer_job(ProposerRequest(project_root=project_root, method="patchcore", workers=1,
                                             threads=1))).run
    defective = sorted(_defective_ids(project_root))
    with Project.open(project_root) as project:
        proposals = load_proposals(project, run.id)
        first, second = defective[0], defective[1]
        assert accept_proposal(project, proposals, first, actor="t", cut=0.0)  # everything above 0: not empty
        info = project.masks.info(first)
        assert info.pixels > 0 and proposal_origin(info.source) == ProposalOrigin(run_id=run.id, edited=False)
        label = project.labels.get(first)
        assert label.class_id in set(np.unique(project.masks.load(first)).tolist()) <= {0, label.class_id}
        edit = np.zeros(SIZE, bool)
        edit[10:20, 30:50] = True
        accept_proposal(project, proposals, second, actor="t", mask=edit)
        assert project.masks.info(second).pixels == 200
        assert proposal_origin(project.masks.info(second).source).edited
        assert [e.source for e in project.events.list(image_id=second)][-1] == f"proposal:run-{run.id}:edited"
        ok_image = next(i for i in proposals.ids.tolist() if i not in defective)
        with pytest.raises(InvalidValueError, match="defect class"):
            accept_proposal(project, proposals, ok_image, actor="t")
        preview = [r.image_id for r in proposals.ranked(min_score=0.0) if r.image_id not in (first, second)
                   and r.image_id in defective]
        assert sorted(accept_above(project, proposals, 0.0, actor="t")) == sorted(preview)
        assert proposal_origin("gui") is None


def test_it_runs_in_the_training_process_and_its_previews_cross_over(project_root: Path) -> None:
    from core.jobs.worker import JobCall, WorkerProcess

    worker = WorkerProcess(threads=1)
    try:
        worker.submit(JobCall(proposer_job, (ProposerRequest(project_root=project_root, steps=2, **TINY),)))
        previews, result = [], None
        while result is None:
            message = worker.receive(timeout=300)
            assert message is not None, "the worker went quiet"
            kind, value = message
            if kind == "error":
                raise value
            if kind == "progress" and value.preview is not None:
                previews.append(value.preview)
            result = value if kind == "result" else None
        assert result.run is not None and result.run.method == "proposer-isugan"
        assert len(previews) == 2 and previews[-1].step == 2  # thinning the progress keeps every preview
        assert previews[-1].tiles[0][0].dtype == np.uint8
    finally:
        worker.close()
