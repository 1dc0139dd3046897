"""The retrain pipeline: one label snapshot for every model it trains, one progress for all of it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from core.jobs.curves import EPOCH, load_curves
from core.jobs.staleness import StaleCheck
from core.store import Project, RunKind
from core.training import ClassifyRequest, PretrainRequest, SegDecRequest, retrain_job


def test_a_label_written_during_a_retrain_reaches_neither_model(tmp_path: Path,
                                                               small_classifier_project: Path) -> None:
    root = tmp_path / "p"
    shutil.copytree(small_classifier_project, root)  # encoder run 1 covers every image: no pretraining
    with Project.open(root) as project:
        labeled = project.labels.class_by_image()
        late = next(i for i in project.images.ids().tolist() if i not in labeled)
        before = project.runs.last_id()
    job = retrain_job(PretrainRequest(project_root=root), ClassifyRequest(project_root=root, epochs=5),
                      segdec=SegDecRequest(project_root=root, max_epochs=1, workers=1), suggest=False)
    records = [next(job)]  # the retrain has begun
    with Project.open(root) as other:  # the labeler goes on in the window
        other.labels.set(late, "ok", actor="tester", source="test")
    try:
        while True:
            records.append(next(job))
    except StopIteration as stop:
        result = stop.value
    assert result.classify.run is not None and result.segdec is not None and result.segdec.run is not None
    runs = [result.classify.run, result.segdec.run]
    assert [r.kind for r in runs] == [RunKind.CLASSIFIER, RunKind.SEGDEC] and min(r.id for r in runs) > before
    for run in runs:
        trained_on = json.loads((root / "runs" / str(run.id) / "labels.json").read_text())["labels"]
        assert {i for i, _c in trained_on} == set(labeled)  # the late label is in neither
        assert run.label_snapshot["labeled"] == len(labeled)
    assert runs[0].label_snapshot == runs[1].label_snapshot
    with Project.open(root) as project:
        assert StaleCheck(project).stale_ids(runs) == {r.id for r in runs}  # both stale: the label came later
        # each run keeps its curves (the detector's against epochs) and how long it predicted
        detector_curves = load_curves(project, runs[1])
        assert detector_curves is not None and detector_curves.unit("defect detector") == EPOCH
        assert {"decision loss", "validation AP"} <= {name for _phase, name in detector_curves.curves}
        assert load_curves(project, runs[0]).curves[("classifier", "validation accuracy")].ys
        assert all(r.metrics["prediction_seconds"] >= 0.0 for r in runs)
    # one progress for the whole retrain: its parts known from the start, never back, 100 % at the end
    overall = [r.overall for r in records]
    assert all(r.stages == ("Classifier", "Defect detector") for r in records)
    assert overall == sorted(overall) and overall[-1] == 1.0 and records[-1].eta_s == 0.0
    assert list(dict.fromkeys(r.stage for r in records)) == ["Classifier", "Defect detector"]
    assert all(r.eta_s is not None and r.eta_s >= 0.0 for r in records)
