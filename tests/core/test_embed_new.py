"""New images after a pretraining: embedded with the current encoder at the next retrain,
never a new pretraining unless asked for (core/training/embed_new.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from core.demo import write_dataset
from core.importing.importer import ImportOptions, import_folder
from core.jobs import drain
from core.jobs.runs import load_checkpoint
from core.media.pixel_cache import build_pixel_cache
from core.store import NeedsTrainingError, Project, RunKind
from core.training import ClassifyRequest, PretrainRequest, latest_pretrain_run, retrain_job
from core.training.embed_new import EmbedNewRequest, embed_new_images_job
from core.training.model_io import build_feature_extractor

NEW = 12


def with_new_images(template: Path, root: Path, n: int = NEW) -> list[int]:
    """A copy of ``template`` with ``n`` images imported after its pretraining; their ids."""
    shutil.copytree(template, root)
    new = write_dataset(root.parent / "arrived", n_images=n, seed=99, size=64, layout="flat", workers=1)
    with Project.open(root) as project:
        before = set(project.images.ids().tolist())
        report = import_folder(project, Path(new.root) / "images", ImportOptions(workers=1))
        assert report.added == n
        return sorted(set(project.images.ids().tolist()) - before)


def requests(root: Path) -> tuple[PretrainRequest, ClassifyRequest]:
    return (PretrainRequest(project_root=root, encoder="shufflenet", size=48, epochs=1, batch_size=16, workers=1),
            ClassifyRequest(project_root=root, epochs=10))


@pytest.fixture(scope="module")
def extended(tmp_path_factory: pytest.TempPathFactory, small_classifier_project: Path):
    """The small classifier project with 12 new images, retrained once: (root, new ids,
    the retrain's result, its progress records)."""
    root = tmp_path_factory.mktemp("embed-new") / "project"
    new_ids = with_new_images(small_classifier_project, root)
    records = []
    result = drain(retrain_job(*requests(root)), records.append)
    return root, new_ids, result, records


def test_suggest_says_a_retrain_places_new_images(tmp_path: Path, small_classifier_project: Path, capsys) -> None:
    from labelapp.cli.parser import main

    with_new_images(small_classifier_project, tmp_path / "project")
    assert main(["suggest", str(tmp_path / "project")]) != 0
    assert f"{NEW} new images are not embedded yet" in capsys.readouterr().err


def test_a_retrain_embeds_new_images_with_the_current_encoder(extended) -> None:
    root, new_ids, result, records = extended
    assert result.pretrain is None and result.embedded is not None and result.embedded.added == NEW
    assert records[-1].stages[0] == f"Embedding {NEW} new images"
    assert "pretraining" not in {r.phase for r in records}
    with Project.open(root) as project:
        run = result.embedded.run
        assert run.method == project.runs.get(1).method and run.config["extends"] == 1
        assert run.config["images_added"] == NEW and run.metrics["images"] == project.images.count()
        assert latest_pretrain_run(project).id == run.id
        assert [r.id for r in project.runs.finished(RunKind.PRETRAIN)] == [run.id, 1]  # no new pretraining
        old, new = load_checkpoint(project, project.runs.get(1)), load_checkpoint(project, run)
        assert old["config"] == new["config"]
        assert all(torch.equal(old["state_dict"][k], new["state_dict"][k]) for k in old["state_dict"])
        folder, base = project.runs_dir / str(run.id), project.runs_dir / "1"
        ids = np.load(folder / "ids.npy")
        assert ids.tolist() == project.images.ids().tolist()
        earlier = np.isin(ids, np.load(base / "ids.npy"))
        for name in ("embeddings.npy", "texture.npy"):  # the earlier images keep their features exactly
            assert np.array_equal(np.load(folder / name)[earlier], np.load(base / name))
        # the new images' features are what the encoder gives on the pixel cache
        cache = drain(build_pixel_cache(project, int(new["config"]["cache_size"]), workers=1))
        extractor = build_feature_extractor(new)
        with torch.no_grad():
            embedding, texture = extractor.parts(torch.from_numpy(np.array(cache.pixels[cache.index_of(
                np.array(new_ids))]))[:, None])
        rows = np.searchsorted(ids, new_ids)
        assert np.allclose(np.load(folder / "embeddings.npy")[rows], embedding.numpy(), atol=1e-5)
        assert np.allclose(np.load(folder / "texture.npy")[rows], texture.numpy(), atol=1e-5)
        classifier = result.classify.run
        assert classifier.config["pretrain_run"] == run.id
        assert project.predictions.count(classifier.id) == project.images.count()
        assert all(project.predictions.get(i, run_id=classifier.id) is not None for i in new_ids)


def test_suggest_works_after_the_retrain(extended, capsys) -> None:
    from labelapp.cli.parser import main

    root, new_ids, result, _records = extended
    assert result.suggestions > 0
    assert main(["suggest", str(root), "--json", "--no-store", "--n", "5"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 5


def test_nothing_new_means_no_new_run_and_pretrain_again_still_pretrains(extended, tmp_path: Path) -> None:
    root, _new_ids, result, _records = extended
    copy = tmp_path / "project"
    shutil.copytree(root, copy)
    again = drain(embed_new_images_job(EmbedNewRequest(project_root=copy, workers=1)))
    assert again.added == 0 and again.run.id == result.embedded.run.id
    fresh = drain(retrain_job(*requests(copy), pretrain_again=True, suggest=False))
    assert fresh.pretrain is not None and fresh.embedded is None
    assert "extends" not in fresh.pretrain.run.config and fresh.pretrain.run.metrics["epochs"] == 1
    with Project.open(copy) as project:
        assert latest_pretrain_run(project).id == fresh.pretrain.run.id


def test_a_run_that_covers_removed_images_is_extended_to_the_current_ones(
        tmp_path: Path, small_classifier_project: Path) -> None:
    """Features of an image no longer in the project (a superset) do not break the
    extension: the new run covers exactly the current images."""
    root = tmp_path / "project"
    new_ids = with_new_images(small_classifier_project, root, n=3)
    base = root / "runs" / "1"
    for name in ("ids.npy", "embeddings.npy", "texture.npy"):
        array = np.load(base / name)
        extra = np.array([10**6]) if name == "ids.npy" else array[:1]
        np.save(base / name, np.concatenate([array, extra]))
    result = drain(embed_new_images_job(EmbedNewRequest(project_root=root, workers=1)))
    assert result.added == 3
    with Project.open(root) as project:
        ids = np.load(project.runs_dir / str(result.run.id) / "ids.npy")
        assert ids.tolist() == project.images.ids().tolist() and set(new_ids) <= set(ids.tolist())


def test_without_an_encoder_there_is_nothing_to_extend(project_dir: Path) -> None:
    Project.create(project_dir).close()
    with pytest.raises(NeedsTrainingError, match="no pretrained encoder"):
        drain(embed_new_images_job(EmbedNewRequest(project_root=project_dir)))
