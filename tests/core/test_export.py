"""Exporting a classifier run: the file reproduces the app's predictions; a model that does
not is refused and nothing is written; the folder runs without the project."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from core.export import model as export_module
from core.export.exported import (
    ExportError,
    ParityError,
    expand_image_paths,
    load_exported_model,
    missing_packages,
    predict_files,
)
from core.export.model import ExportResult, check_parity, export_model, exportable_runs, sample_pixels
from core.jobs import drain
from core.media.pixel_cache import open_pixel_cache
from core.store import Project
from core.training import ClassifyRequest, classify_job
from core.training.model_io import load_classifier

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")  # the tests tamper via torch.jit


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, train_small_classifier) -> Path:
    """42 images at 64 px, 28 labeled; pretraining (1 epoch) + classifier runs 1 and 2,
    and a second classifier run (3) with another seed."""
    root = train_small_classifier(tmp_path_factory.mktemp("export") / "project")
    assert drain(classify_job(ClassifyRequest(project_root=root, epochs=10, seed=1))).run is not None
    return root


@pytest.fixture(scope="module")
def torchscript_export(trained: Path, tmp_path_factory: pytest.TempPathFactory) -> ExportResult:
    with Project.open(trained) as project:
        first = exportable_runs(project)[-1]  # the oldest classifier run, not the default
        return export_model(project, first, fmt="torchscript", out_dir=tmp_path_factory.mktemp("ts") / "model")


def stored_predictions(project: Project, run_id: int, ids: np.ndarray) -> np.ndarray:
    return np.stack([project.predictions.get(int(i), run_id).probabilities for i in ids])


def test_torchscript_export_reproduces_the_stored_predictions(trained: Path,
                                                              torchscript_export: ExportResult) -> None:
    result = torchscript_export
    assert result.parity.images == 32 and result.parity.max_abs_diff <= 1e-4
    assert sorted(p.name for p in result.out_dir.iterdir()) == ["classes.txt", "model.pt", "model_card.json"]
    model = load_exported_model(result.out_dir)
    with Project.open(trained) as project:
        loaded = load_classifier(project, project.runs.get(result.run_id))
        cache = open_pixel_cache(project, loaded.input_size)
        stored = stored_predictions(project, result.run_id, cache.ids)
    assert model.class_names == loaded.class_names
    assert model.input_size == loaded.input_size == 64
    again = model.predict(np.array(cache.pixels))
    assert again.shape == stored.shape == (42, len(loaded.class_names))
    assert np.abs(again - stored).max() < 1e-4
    # from the image files, decoded as the pixel cache decodes them: the same answers
    with Project.open(trained) as project:
        files = [project.images.resolve(project.images.get(int(i)).path) for i in cache.ids[:10]]
    answers = list(predict_files(model, files, batch=4))
    assert np.abs(np.array([a.probabilities for a in answers]) - stored[:10]).max() < 1e-4
    assert [a.class_name for a in answers] == [model.class_names[int(k)] for k in stored[:10].argmax(axis=1)]


def test_model_card_describes_the_run(trained: Path, torchscript_export: ExportResult) -> None:
    card = json.loads(torchscript_export.card_path.read_text())
    data = torchscript_export.model_path.read_bytes()
    with Project.open(trained) as project:
        run = project.runs.get(torchscript_export.run_id)
        loaded = load_classifier(project, run)
    assert card["model"] == {"file": "model.pt", "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    assert card["run"] == run.id == 2 and card["pretrain_run"] == loaded.pretrain_run.id == 1
    assert [c["name"] for c in card["classes"]] == loaded.class_names
    assert torchscript_export.classes_path.read_text().splitlines() == loaded.class_names
    assert card["input"]["shape"] == ["batch", 1, 64, 64] and "bilinear" in card["input"]["preprocessing"]["resize"]
    assert card["encoder"]["name"] == "shufflenet" and card["encoder"]["input_size"] == 48
    assert card["validation"] == run.metrics["validation"]
    assert card["labels"]["per_class"] == run.label_snapshot["classes"] and card["labels"]["labeled"] == 28
    assert card["parity"]["max_abs_diff"] == torchscript_export.parity.max_abs_diff


def test_parity_check_refuses_a_perturbed_model_and_another_runs_model(
        trained: Path, torchscript_export: ExportResult, tmp_path: Path) -> None:
    with Project.open(trained) as project:
        reference = load_classifier(project, project.runs.get(torchscript_export.run_id)).module
        newest = load_classifier(project).module  # run 3: same classes, another seed
        pixels = drain(sample_pixels(project, 64, 16))
    assert check_parity(reference, torchscript_export.model_path, pixels, 1e-4).max_abs_diff <= 1e-4
    with pytest.raises(ParityError, match="differs from the app's"):
        check_parity(newest, torchscript_export.model_path, pixels, 1e-4)
    perturbed = torch.jit.load(str(torchscript_export.model_path))
    with torch.no_grad():
        perturbed.arcface.weight.add_(0.05 * torch.randn_like(perturbed.arcface.weight))
    torch.jit.save(perturbed, str(tmp_path / "model.pt"))
    with pytest.raises(ParityError, match="differs from the app's"):
        check_parity(reference, tmp_path / "model.pt", pixels, 1e-4)
    (tmp_path / "model.pt").write_bytes(b"not a model")
    with pytest.raises(ParityError, match="cannot be loaded or run"):
        check_parity(reference, tmp_path / "model.pt", pixels, 1e-4)


def test_export_refuses_a_model_that_fails_the_check_and_writes_nothing(
        trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def export_then_perturb(module: torch.nn.Module, pixels: np.ndarray, path: Path) -> None:
        export_module._export_torchscript(module, pixels, path)
        traced = torch.jit.load(str(path))
        with torch.no_grad():
            traced.feature_mean.add_(0.5)
        torch.jit.save(traced, str(path))

    monkeypatch.setitem(export_module.EXPORTERS, "torchscript", export_then_perturb)
    out = tmp_path / "out"
    with Project.open(trained) as project, pytest.raises(ParityError, match="nothing was written"):
        export_model(project, fmt="torchscript", out_dir=out)
    assert not out.exists() or not any(out.iterdir())


def test_a_changed_model_file_is_not_loaded(torchscript_export: ExportResult, tmp_path: Path) -> None:
    copy = tmp_path / "model"
    copy.mkdir()
    for path in torchscript_export.out_dir.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    (copy / "model.pt").write_bytes((copy / "model.pt").read_bytes() + b"\0")
    with pytest.raises(ExportError, match="does not match its model card"):
        load_exported_model(copy)
    with pytest.raises(ExportError, match="not an exported model folder"):
        load_exported_model(tmp_path)


def test_predict_files_reports_unreadable_files_and_goes_on(torchscript_export: ExportResult,
                                                            trained: Path, tmp_path: Path) -> None:
    model = load_exported_model(torchscript_export.out_dir)
    images = expand_image_paths([trained / "images"])
    assert len(images) == 42
    broken = tmp_path / "broken.png"
    broken.write_bytes(images[0].read_bytes()[:200])
    answers = list(predict_files(model, [images[0], broken, tmp_path / "missing.png", images[1]], batch=3))
    assert [a.error is None for a in answers] == [True, False, False, True]
    assert "truncated" in answers[1].error and answers[2].error == "no such file"
    assert answers[3].class_name in model.class_names and 0 < answers[3].confidence <= 1


@pytest.mark.skipif(bool(missing_packages("onnx", to_export=True)),
                    reason=f"ONNX export needs {missing_packages('onnx', to_export=True)} (pip install '.[export]')")
def test_onnx_export_reproduces_the_stored_predictions(trained: Path, tmp_path: Path) -> None:
    with Project.open(trained) as project:
        result = export_model(project, fmt="onnx", out_dir=tmp_path / "onnx", sample=16)
        loaded = load_classifier(project)
        cache = open_pixel_cache(project, loaded.input_size)
        stored = stored_predictions(project, loaded.run.id, cache.ids)
    assert result.run_id == loaded.run.id and result.parity.images == 16 and result.parity.max_abs_diff <= 1e-4
    model = load_exported_model(tmp_path / "onnx")
    assert model.format == "onnx" and model.card["input"]["dtype"] == "float32"
    assert np.abs(model.predict(np.array(cache.pixels)) - stored).max() < 1e-4


def test_unknown_format_is_an_error(trained: Path, tmp_path: Path) -> None:
    with Project.open(trained) as project, pytest.raises(ExportError, match="unknown model format"):
        export_model(project, fmt="pickle", out_dir=tmp_path)
