"""The trust rules: when the defect detector may call images defective, and which of the
classifier and the detector to believe where they disagree."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from core.catalog import Catalog
from core.jobs import RunRecorder, take_snapshot
from core.store import Project, Run, RunKind, RunStatus
from core.training.trust import (
    CLASSIFIER,
    DETECTOR,
    MIN_HELD_OUT,
    Ability,
    classifier_ability,
    detector_ability,
    detector_trust,
    judge,
    which_to_believe,
)


def segdec_run(metrics: dict, status: RunStatus = RunStatus.DONE) -> Run:
    return Run(id=7, method="segdec", status=status, config={"validation_fraction": 0.2}, label_snapshot={},
               seed=0, started_at="", finished_at="", metrics=metrics, checkpoint=None)


def validation(n: int, defective: int, auroc: float, fp: int = 0, fn: int = 0, threshold: float = 0.42) -> dict:
    return {"n": n, "defective": defective, "auroc": auroc, "ap": 0.9, "fp": fp, "fn": fn, "threshold": threshold}


def test_a_run_without_validation_is_not_validated_and_has_no_threshold() -> None:
    trust = detector_trust(segdec_run({"threshold": 0.5, "labeled": 15}))
    assert trust.status == "unvalidated" and not trust.validated and trust.threshold is None
    assert "too few labels to hold any back" in trust.why and "25 OK and 25 defective" in trust.why
    assert not trust.calls_defective(0.99)
    assert detector_trust(None).status == "none"
    assert detector_trust(segdec_run({}, status=RunStatus.FAILED)).status == "none"


def test_too_few_held_out_images_of_a_kind_is_not_validated() -> None:
    trust = detector_trust(segdec_run({"threshold": 0.53, "validation": validation(9, 6, auroc=1.0)}))
    assert trust.status == "too_few" and trust.threshold is None
    assert f"only 3 OK images held out, at least {MIN_HELD_OUT} of each needed" in trust.why
    assert trust.advice == "label more OK images"
    both = detector_trust(segdec_run({"validation": validation(6, 3, auroc=1.0)}))
    assert "only 3 OK and 3 defective" in both.why and both.advice == "label more OK and defective images"


def test_a_ranking_no_better_than_chance_is_not_validated() -> None:
    # 5 OK and 5 defective: chance AUROC has a standard error of 0.19, so 0.75 is not enough
    assert detector_trust(segdec_run({"validation": validation(10, 5, auroc=0.75)})).status == "chance"
    assert detector_trust(segdec_run({"validation": validation(10, 5, auroc=float("nan"))})).status == "chance"
    trust = detector_trust(segdec_run({"threshold": 0.42, "validation": validation(10, 5, auroc=0.9)}))
    assert trust.validated and trust.threshold == 0.42 and trust.calls_defective(0.42)
    assert not trust.calls_defective(0.41) and "validated on 10 held-out images (5 OK, 5 defective)" in trust.why
    figures = detector_ability(segdec_run({"validation": validation(10, 5, auroc=0.9, fp=1, fn=2)}))
    assert (figures.ok_right, figures.ok_n, figures.defective_right, figures.defective_n) == (4, 5, 3, 5)
    assert figures.validated and figures.balanced_accuracy == pytest.approx(0.7)
    # with 40 of each, 0.7 is far from chance
    assert detector_trust(segdec_run({"validation": validation(80, 40, auroc=0.7)})).validated


def test_the_classifier_figure_collapses_its_confusion_matrix_to_ok_and_defective() -> None:
    run = Run(id=3, method="classifier", status=RunStatus.DONE, config={"classes": [1, 2, 5]}, label_snapshot={},
              seed=0, started_at="", finished_at="", checkpoint=None,
              metrics={"validation": {"classes": ["ok", "crazing", "scratches"], "confusion": [
                  [8, 1, 1],  # OK: 8 right, 2 called a defect
                  [0, 4, 2],  # crazing called scratches still counts as defective
                  [1, 0, 5]]}})
    ability = classifier_ability(run, {1: False, 2: True, 5: True})
    assert (ability.ok_right, ability.ok_n, ability.defective_right, ability.defective_n) == (8, 10, 11, 12)
    assert ability.validated and ability.balanced_accuracy == pytest.approx((0.8 + 11 / 12) / 2)
    assert not classifier_ability(run, {1: False, 2: True}).validated  # a class that is gone
    few = classifier_ability(run, {1: True, 2: True, 5: False})  # scratches as the only OK class: 6 OK
    assert few.validated and few.ok_n == 6
    assert not classifier_ability(Run(**{**run.__dict__, "metrics": {}}), {1: False}).validated


def ability(model: str, ok: tuple[int, int], defective: tuple[int, int], validated: bool = True) -> Ability:
    return Ability(model, 1, ok[0], ok[1], defective[0], defective[1], validated, "")


def test_the_verdict_weighs_each_figure_by_the_images_behind_it() -> None:
    trusted = detector_trust(segdec_run({"threshold": 0.4, "validation": validation(10, 5, auroc=1.0)}))
    classifier = ability(CLASSIFIER, (9, 10), (36, 40))  # 90 % on 50 labels
    perfect_on_ten = ability(DETECTOR, (5, 5), (5, 5))  # 100 % on 10: could be luck
    verdict = judge(classifier, perfect_on_ten, trusted)
    assert verdict.trusted == CLASSIFIER
    assert ("trust the classifier: right on 90% of 50 held-out labels, the detector on 100% of only 10"
            in verdict.sentence)
    better = ability(DETECTOR, (40, 40), (40, 40))
    assert judge(classifier, better, trusted).trusted == DETECTOR
    assert judge(classifier, ability(DETECTOR, (9, 10), (36, 40)), trusted).trusted == CLASSIFIER  # a tie


def test_an_unvalidated_detector_never_wins() -> None:
    untrusted = detector_trust(segdec_run({"validation": validation(10, 5, auroc=0.6)}))
    strong = ability(DETECTOR, (50, 50), (50, 50), validated=False)
    weak = ability(CLASSIFIER, (3, 5), (3, 5))
    verdict = judge(weak, strong, untrusted)
    assert verdict.trusted == CLASSIFIER
    assert not verdict.disagrees(False, 0.99)  # an unvalidated detector makes no call
    assert judge(None, strong, untrusted).trusted is None
    assert "Neither" in judge(None, strong, untrusted).sentence


def test_disagreement_and_its_note() -> None:
    trusted = detector_trust(segdec_run({"threshold": 0.4, "validation": validation(80, 40, auroc=0.95)}))
    verdict = judge(ability(CLASSIFIER, (9, 10), (8, 10)), ability(DETECTOR, (38, 40), (38, 40)), trusted)
    assert verdict.trusted == DETECTOR
    assert verdict.disagrees(False, 0.4) and not verdict.disagrees(True, 0.4)
    assert verdict.disagrees(True, 0.1) and not verdict.disagrees(None, 0.9) and not verdict.disagrees(True, None)
    assert not verdict.overrules_detector(False, 0.9)
    note = verdict.note(False)
    assert note.startswith("classifier says OK, detector defective: trust the detector (right on 95% of 80")
    assert "the classifier on 85% of 20" in note
    no_classifier = judge(ability(CLASSIFIER, (2, 3), (1, 3), validated=False), verdict.detector, trusted)
    assert no_classifier.trusted == DETECTOR and "the classifier is not validated" in no_classifier.note(True)


def test_which_to_believe_reads_the_latest_runs(tmp_path: Path, small_classifier_project: Path) -> None:
    root = tmp_path / "project"
    shutil.copytree(small_classifier_project, root)
    with Project.open(root) as project:
        classifier = project.runs.get(project.predictions.latest_run(RunKind.CLASSIFIER))
        before = which_to_believe(project)
        assert before.detector is None and before.detector_trust.status == "none"
        assert before.classifier is not None and before.classifier.run_id == classifier.id
        ids = np.array([i.id for i in project.images.list()], dtype=np.int64)
        metrics = {"threshold": 0.5, "validation": validation(400, 200, auroc=0.99, fp=2, fn=2, threshold=0.5)}
        with RunRecorder(project, method="segdec", config={}, snapshot=take_snapshot(project), seed=0) as recorder:
            probability = np.linspace(0.0, 1.0, len(ids))
            project.predictions.save(recorder.run.id, ids, None, probability, probability,
                                     defect_probability=probability)
            run = recorder.finish(metrics=metrics)
        verdict = which_to_believe(project)
        assert verdict.detector.run_id == run.id and verdict.detector_trust.validated
        assert verdict.trusted == DETECTOR  # 99 % on 400 held-out images beats the small classifier
        catalog = Catalog.load(project)
        assert catalog.detector.validated and catalog.verdict.trusted == DETECTOR
        assert int(catalog.detected().sum()) == int(np.sum(probability >= 0.5))
        project.runs.update_metrics(run.id, {"threshold": 0.5})  # as if nothing had been held out
        catalog = Catalog.load(project)
        assert not catalog.detector.validated and catalog.verdict.trusted == CLASSIFIER
        assert not catalog.detected().any() and not len(catalog.view("defective")) and not len(catalog.view("missed"))
