"""Which classes a trained model knows and which it left out, read from the run alone."""

from __future__ import annotations

import shutil
from pathlib import Path

from core.export.classes import left_out_card, model_classes
from core.store import ClassKind, Project, RunKind


def test_a_class_without_labels_when_the_classifier_trained_is_named_as_left_out(
        tmp_path: Path, small_classifier_project: Path) -> None:
    root = tmp_path / "project"
    shutil.copytree(small_classifier_project, root)
    with Project.open(root) as project:
        run = project.runs.latest(RunKind.CLASSIFIER)
        dent = project.classes.add("dent", kind=ClassKind.DEFECT, actor="t", source="test")
        known = model_classes(project, run)
        assert [c.id for c in known.known] == run.config["classes"]  # the model's output order
        assert [c.name for c in known.left_out] == ["dent"] and not known.detector
        counts = run.label_snapshot["classes"]
        assert all(c.labels == counts[c.name] for c in known.known)
        sentence = known.sentence()
        assert sentence.startswith(f"The classifier of run #{run.id} knows {len(known.known)} classes: ")
        assert all(c.name in sentence for c in known.known) and "dent" not in sentence
        assert known.left_out_sentence() == (
            f"Not in the model (it cannot predict them): dent (no labels when run #{run.id} trained).")
        unlabeled = [i.id for i in project.images.list() if project.labels.get(i.id) is None][:2]
        project.labels.set_many(unlabeled, dent, actor="t", source="test")  # labeled since: retrain to include it
        assert model_classes(project, run).left_out[0].why == (
            f"no labels when run #{run.id} trained; it has 2 now: retrain to include it")
        assert left_out_card(project, run) == [{"id": dent.id, "name": "dent",
                                                "why": model_classes(project, run).left_out[0].why}]


def test_the_detector_knows_ok_and_defective_classes_that_had_labels(tmp_path: Path, segdec_project: Path) -> None:
    root = tmp_path / "project"
    shutil.copytree(segdec_project, root)
    with Project.open(root) as project:
        run = project.runs.latest(RunKind.SEGDEC)
        project.classes.add("dent", kind=ClassKind.DEFECT, actor="t", source="test")
        known = model_classes(project, run)
        assert known.detector and [c.name for c in known.left_out] == ["dent"]
        assert known.known[0].kind == "ok" and all(c.kind == "defect" for c in known.known[1:])
        assert {c.name for c in known.known} == {n for n, count in run.label_snapshot["classes"].items() if count}
        assert known.sentence().startswith(f"The defect detector of run #{run.id} tells OK from defective; it learned"
                                           " OK from ok (")
        assert "cannot learn from them" in known.left_out_sentence()
