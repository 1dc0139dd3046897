"""Likely mistakes: confident learning on out-of-fold probabilities, the list a real
training gives after a label is flipped, and the grid's disagreement and mislabeled filters."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from core.active.mistakes import confident_learning, likely_mistakes, load_out_of_fold


def test_confident_learning_flags_images_confidently_of_another_class():
    labels = np.array([0, 0, 0, 1, 1, 1, 0])
    p = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.2, 0.8], [0.1, 0.9], [0.3, 0.7], [0.15, 0.85]])
    flagged, confident, quality = confident_learning(labels, p)
    # thresholds: class 0 mean(0.9, 0.8, 0.7, 0.15) = 0.64, class 1 mean(0.8, 0.9, 0.7) = 0.8
    assert flagged.tolist() == [False, False, False, False, False, False, True]
    assert confident[6] == 1 and confident[5] == -1  # 0.7 < 0.8: not confidently anything
    assert quality[6] == pytest.approx(0.15 - 0.85)
    assert int(np.argmin(quality)) == 6


def test_a_class_without_out_of_fold_images_of_its_own_can_still_be_suspected():
    labels = np.array([0, 0, 0])
    p = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9]])
    flagged, confident, _ = confident_learning(labels, p)
    assert flagged.tolist() == [False, False, True] and confident[2] == 1


@pytest.fixture(scope="module")
def flipped(tmp_path_factory, small_classifier_project) -> tuple[Path, int]:
    """A copy of the small project with one label flipped and the classifier retrained:
    (root, the flipped image). The image flipped is the one the first run's heads, trained
    without it, were surest of, and it gets the class they thought least likely."""
    from core.jobs import drain
    from core.store import Project
    from core.training import ClassifyRequest, classify_job

    root = tmp_path_factory.mktemp("mistakes") / "project"
    shutil.copytree(small_classifier_project, root)
    with Project.open(root) as project:
        oof = load_out_of_fold(project)
        assert oof is not None and len(oof.image_ids) >= 10  # the run wrote its out-of-fold probabilities
        column = {int(c): k for k, c in enumerate(oof.classes.tolist())}
        own = oof.probabilities[np.arange(len(oof.labels)), [column[int(c)] for c in oof.labels]]
        best = int(np.argmax(own))
        image_id = int(oof.image_ids[best])
        wrong = int(oof.classes[int(np.argmin(oof.probabilities[best]))])
        project.labels.set(image_id, wrong, actor="t", source="test")
    result = drain(classify_job(ClassifyRequest(project_root=root, epochs=10)))
    assert result.run is not None
    return root, image_id


def test_the_mistakes_list_ranks_a_flipped_label_first(flipped):
    from core.store import Project

    root, image_id = flipped
    with Project.open(root) as project:
        mistakes = likely_mistakes(project)
        names = {c.id: c.name for c in project.classes.list()}
        label = project.labels.get(image_id).class_id
    assert mistakes[0].image_id == image_id and mistakes[0].flagged
    assert [m.rank for m in mistakes] == list(range(1, len(mistakes) + 1))
    assert mistakes[0].reason.startswith(f"labeled {names[label]}, but ")
    assert names[mistakes[0].suspected] in mistakes[0].reason and mistakes[0].suspected != label
    with Project.open(root) as project:  # relabeled since the run: no longer listed
        project.labels.set(image_id, mistakes[0].suspected, actor="t", source="test")
        assert image_id not in {m.image_id for m in likely_mistakes(project)}
        project.labels.set(image_id, label, actor="t", source="test")  # the next test wants it flipped


def test_the_grid_filters_show_the_flipped_label(flipped):
    from core.catalog import Catalog
    from core.store import Project

    root, image_id = flipped
    with Project.open(root) as project:
        catalog = Catalog.load(project)
        disagree = catalog.view("disagree")
        assert image_id in disagree.tolist()
        assert image_id in catalog.view("mislabeled").tolist()
        assert catalog.view("labeled", sort="mislabeled")[0] == image_id
        index = int(catalog.index_of([image_id])[0])
        assert catalog.mistakes.reason(index, catalog.label).startswith("labeled ")
        # in sample the final head learned the flipped label: only out of fold does it disagree
        in_sample = (catalog.label != 0) & (catalog.pred_class != 0) & (catalog.label != catalog.pred_class)
        assert len(disagree) > int(in_sample.sum())
        # relabeling it takes it off the mislabeled list at once
        project.labels.set(image_id, int(catalog.mistakes.oof_class[index]), actor="t", source="test")
        catalog.refresh(project, [image_id])
        assert image_id not in catalog.view("mislabeled").tolist()
        assert image_id not in catalog.view("disagree").tolist()
