"""Exporting a defect-detector run: the file takes any image size at the run's scale and
reproduces the app's defect probabilities and heat maps; a model that does not is
refused and nothing is written; the folder runs without the project."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from core.export import detector as export_detector_module
from core.export.common import ExportResult, save_torchscript
from core.export.detector import check_detector_parity, other_size, sample_images
from core.export.exported import ExportError, ParityError, load_exported_model, missing_packages
from core.export.exported_detector import predict_detector_files
from core.export.heatmaps import export_heatmaps
from core.export.model import export_model
from core.importing import ImportOptions, import_folder
from core.jobs import drain
from core.jobs.runs import load_checkpoint
from core.store import Project, StoreError
from core.training import SegDecRequest, segdec_job
from core.training.heatmaps import load_heatmap
from core.training.model_io import load_detector
from core.training.segdec_pixels import decode_scaled
from core.training.trust import detector_trust
from models.segdec import heat_on_image_grid, predict_image

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")  # the tests tamper via torch.jit
SCALE = 0.5
SIZES = {(45, 35), (38, 50)}  # the project's working sizes: 90x70 and 77x100 images at half size


@pytest.fixture(scope="module")
def project_root(tmp_path_factory: pytest.TempPathFactory, label_from_truth) -> Path:
    """36 demo images of 90x70 px, all labeled, and 4 unlabeled ones of 77x100 px;
    detector runs 1 and 2 (another seed, from scratch), 1 epoch each at half size."""
    from core.demo_project import create_demo_project

    root = tmp_path_factory.mktemp("export-detector") / "project"
    create_demo_project(root, n_images=36, size=(90, 70), workers=1)
    label_from_truth(root, 36)
    wide = root / "wide"
    wide.mkdir()
    for k, path in enumerate(sorted((root / "images").glob("*.png"))[:4]):
        PILImage.open(path).resize((100, 77)).save(wide / f"wide_{k}.png")
    with Project.open(root) as project:
        assert import_folder(project, wide, ImportOptions(workers=1)).added == 4
    for seed in (0, 1):
        request = SegDecRequest(project_root=root, scale=SCALE, max_epochs=1, workers=1, threads=1, seed=seed,
                                warm_start=False)
        assert drain(segdec_job(request)).run.id == seed + 1
    return root


@pytest.fixture(scope="module")
def torchscript_export(project_root: Path, tmp_path_factory: pytest.TempPathFactory) -> ExportResult:
    with Project.open(project_root) as project:  # the older run, named: --run of a detector run implies it
        return export_model(project, project.runs.get(1), fmt="torchscript",
                            out_dir=tmp_path_factory.mktemp("ts") / "model")


def stored(project: Project, run_id: int) -> dict[int, float]:
    return project.predictions.defect_probabilities(run_id)


def assert_reproduces_the_run(project_root: Path, result: ExportResult) -> None:
    """Every project image, decoded as the app decodes it, gets the run's stored defect
    probability and heat map from the exported file."""
    model = load_exported_model(result.out_dir)
    seen = set()
    with Project.open(project_root) as project:
        run = project.runs.get(result.run_id)
        probability = stored(project, run.id)
        for image in project.images.list():
            pixels = decode_scaled(str(project.images.resolve(image.path)), SCALE)
            outputs = model.outputs(pixels[None, None])
            h, w = pixels.shape
            seen.add((h, w))
            assert outputs["heatmap"].shape == (1, 1, -(-h // 8), -(-w // 8))
            assert abs(float(outputs["defect_probability"][0]) - probability[image.id]) < 1e-4
            on_grid = heat_on_image_grid(outputs["heatmap"][0, 0], h, w)
            assert np.abs(on_grid * 255 - load_heatmap(project, run, image.id)).max() <= 0.51
    assert seen == SIZES


def test_torchscript_export_reproduces_the_run_at_every_size(project_root: Path,
                                                             torchscript_export: ExportResult) -> None:
    result = torchscript_export
    assert result.model == "detector" and result.run_id == 1 and result.classes_path is None
    assert sorted(p.name for p in result.out_dir.iterdir()) == ["model.pt", "model_card.json"]
    parity = result.parity
    assert parity.images == 32 and parity.max_abs_diff <= 1e-4
    assert set(parity.outputs) == {"defect_probability", "heatmap"}
    # checked on both project sizes and on two crops of other sizes, one not square with sides
    # that are not multiples of 8
    assert SIZES < set(parity.sizes) and len(parity.sizes) == 4
    assert any(h % 8 and w % 8 and h != w for h, w in set(parity.sizes) - SIZES)
    assert_reproduces_the_run(project_root, result)


def test_the_exported_detector_takes_sizes_no_project_image_has(project_root: Path,
                                                                torchscript_export: ExportResult) -> None:
    model = load_exported_model(torchscript_export.out_dir)
    with Project.open(project_root) as project:
        net = load_detector(project, project.runs.get(1)).net
    rng = np.random.default_rng(3)
    for shape in [(29, 61), (8, 8), (130, 17)]:
        pixels = rng.integers(0, 256, shape, dtype=np.uint8)
        p, heat = predict_image(net, pixels)
        outputs = model.outputs(np.stack([pixels, pixels])[:, None])  # a batch of two
        assert outputs["heatmap"].shape == (2, 1, *heat.shape)
        assert np.abs(outputs["defect_probability"] - p).max() < 1e-4
        assert np.abs(outputs["heatmap"][:, 0] - heat).max() < 1e-4


def test_model_card_holds_the_geometry_and_the_trust(project_root: Path, torchscript_export: ExportResult) -> None:
    card = json.loads(torchscript_export.card_path.read_text())
    data = torchscript_export.model_path.read_bytes()
    with Project.open(project_root) as project:
        run = project.runs.get(1)
    assert card["model"] == {"file": "model.pt", "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    assert card["method"] == "segdec" and card["run"] == 1 and card["mode"] == "joint"
    assert card["net"] == run.config["net"]
    assert card["input"]["shape"] == ["batch", 1, "height", "width"] and card["input"]["dtype"] == "uint8 or float32"
    assert card["input"]["scale"] == SCALE and card["input"]["geometry"] == run.metrics["geometry"]
    assert card["input"]["preprocessing"]["resize"] == ("gray, resized by 0.5 with Pillow bilinear (reducing gap"
                                                        " 2.0) keeping the aspect ratio; any size; padded inside")
    assert "whole image" in card["input"]["preprocessing"]["large_images"]
    assert [o["name"] for o in card["outputs"]] == ["defect_probability", "heatmap"]
    assert card["outputs"][1]["shape"] == ["batch", 1, "ceil(height / 8)", "ceil(width / 8)"]
    trust = detector_trust(run)
    assert card["threshold"] == run.metrics["threshold"]
    assert card["validated"] is trust.validated and card["trust"] == trust.why
    assert card["validation"] == run.metrics.get("validation")
    assert card["labels"]["labeled"] == 36 and card["labels"]["per_class"] == run.label_snapshot["classes"]
    assert {c["name"]: c["counts_as"] for c in card["classes"]}["ok"] == "OK"
    assert {c["counts_as"] for c in card["classes"]} == {"OK", "defective"}
    assert card["parity"]["sizes"] == [list(s) for s in torchscript_export.parity.sizes]


@pytest.mark.skipif(bool(missing_packages("onnx", to_export=True)),
                    reason=f"ONNX export needs {missing_packages('onnx', to_export=True)} (pip install '.[export]')")
def test_onnx_export_reproduces_the_run_at_every_size(project_root: Path, tmp_path: Path) -> None:
    with Project.open(project_root) as project:
        result = export_model(project, model="detector", fmt="onnx", out_dir=tmp_path / "onnx", sample=12)
    assert result.run_id == 2 and result.parity.images == 12 and result.parity.max_abs_diff <= 1e-4
    assert SIZES < set(result.parity.sizes)
    model = load_exported_model(tmp_path / "onnx")
    assert model.format == "onnx" and model.card["input"]["dtype"] == "float32"
    assert_reproduces_the_run(project_root, result)
    # a dim part the size of a real one: ONNX Runtime's float32 sums put its mean 5e-5 off
    # torch's, which moved the heat map by 2e-3 until the statistics were summed in float64
    with Project.open(project_root) as project:
        net = load_detector(project).net
    part = np.clip(np.random.default_rng(5).normal(100, 12, (887, 354)), 0, 255).astype(np.uint8)
    p, heat = predict_image(net, part)
    outputs = model.outputs(part[None, None])
    assert abs(float(outputs["defect_probability"][0]) - p) < 1e-4
    assert np.abs(outputs["heatmap"][0, 0] - heat).max() < 1e-4


def test_parity_check_refuses_another_runs_weights_and_a_perturbed_model(
        project_root: Path, torchscript_export: ExportResult, tmp_path: Path) -> None:
    with Project.open(project_root) as project:
        first, second = load_detector(project, project.runs.get(1)), load_detector(project)
        images = sample_images(project, SCALE, 8)
    assert second.run.id == 2
    assert check_detector_parity(first.net, torchscript_export.model_path, images, 1e-4).max_abs_diff <= 1e-4
    with pytest.raises(ParityError, match="differs from the app's by up to .* in the (defect probability|heat map)"):
        check_detector_parity(second.net, torchscript_export.model_path, images, 1e-4)
    perturbed = torch.jit.load(str(torchscript_export.model_path))
    with torch.no_grad():
        perturbed.net.seg_head.weight.add_(0.05 * torch.randn_like(perturbed.net.seg_head.weight))
    torch.jit.save(perturbed, str(tmp_path / "model.pt"))
    with pytest.raises(ParityError, match="in the heat map"):
        check_detector_parity(first.net, tmp_path / "model.pt", images, 1e-4)
    (tmp_path / "model.pt").write_bytes(b"not a model")
    with pytest.raises(ParityError, match="cannot be loaded or run"):
        check_detector_parity(first.net, tmp_path / "model.pt", images, 1e-4)


def test_export_refuses_a_model_that_fails_the_check_and_writes_nothing(
        project_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def export_then_perturb(net: torch.nn.Module, image: np.ndarray, path: Path) -> None:
        export_detector_module._export_torchscript(net, image, path)
        traced = torch.jit.load(str(path))
        with torch.no_grad():
            traced.net.fc.bias.add_(0.5)  # the decision's last layer: every defect probability moves
        torch.jit.save(traced, str(path))

    monkeypatch.setitem(export_detector_module.EXPORTERS, "torchscript", export_then_perturb)
    out = tmp_path / "out"
    refused = "in the defect probability on 4 project images .* nothing was written"
    with Project.open(project_root) as project, pytest.raises(ParityError, match=refused):
        export_model(project, model="detector", fmt="torchscript", out_dir=out, sample=4)
    assert not out.exists() or not any(out.iterdir())


class FrozenPadding(torch.nn.Module):
    """The predictor with its padding worked out in Python ints: the tracer freezes them
    to the example's size."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = pixels.float() / 255.0
        pad_h, pad_w = -int(x.shape[-2]) % 8, -int(x.shape[-1]) % 8
        logit, seg = self.net(torch.nn.functional.pad(x, (0, pad_w, 0, pad_h), mode="replicate"))
        return torch.sigmoid(logit), torch.sigmoid(seg)


def test_export_refuses_a_model_frozen_to_one_size(project_root: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def export_frozen(net: torch.nn.Module, image: np.ndarray, path: Path) -> None:
        save_torchscript(FrozenPadding(net).eval(), torch.from_numpy(np.stack([image, image])[:, None]), path)

    monkeypatch.setitem(export_detector_module.EXPORTERS, "torchscript", export_frozen)
    with Project.open(project_root) as project, pytest.raises(ParityError, match="nothing was written"):
        export_model(project, model="detector", fmt="torchscript", out_dir=tmp_path / "out", sample=4)
    assert not (tmp_path / "out").exists()


def test_a_changed_model_file_is_not_loaded(torchscript_export: ExportResult, tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(torchscript_export.out_dir, copy)
    (copy / "model.pt").write_bytes((copy / "model.pt").read_bytes() + b"\0")
    with pytest.raises(ExportError, match="does not match its model card"):
        load_exported_model(copy)


def test_the_run_decides_the_model_and_an_old_detector_is_refused(project_root: Path, tmp_path: Path) -> None:
    with Project.open(project_root) as project:
        with pytest.raises(StoreError, match="run 1 is a defect-detector run, not a classifier run"):
            export_model(project, project.runs.get(1), model="classifier", fmt="torchscript", out_dir=tmp_path / "c")
        with pytest.raises(ValueError, match="unknown model"):
            export_model(project, model="segmenter", fmt="torchscript", out_dir=tmp_path / "c")
    old = tmp_path / "old"
    shutil.copytree(project_root, old)
    with Project.open(old) as project:
        run = project.runs.get(2)
        checkpoint = load_checkpoint(project, run)
        del checkpoint["config"]["scale"]  # as the detector stored it when it squashed images
        torch.save(checkpoint, project.runs_dir / run.checkpoint)
        with pytest.raises(StoreError, match="retrain the detector to export it"):
            export_model(project, model="detector", fmt="torchscript", out_dir=tmp_path / "m")
    assert not (tmp_path / "c").exists() and not (tmp_path / "m").exists()


def test_predicted_heat_maps_are_the_apps_at_the_image_size(project_root: Path, torchscript_export: ExportResult,
                                                            tmp_path: Path) -> None:
    model = load_exported_model(torchscript_export.out_dir)
    app = tmp_path / "app"
    with Project.open(project_root) as project:
        export_heatmaps(project, app, run_id=1)
        probability = stored(project, 1)
        images = {image.path: image for image in project.images.list()}
    files = sorted(project_root.glob("images/*.png"))[:3] + sorted(project_root.glob("wide/*.png"))[:2]
    broken = tmp_path / "broken.png"
    broken.write_bytes(files[0].read_bytes()[:200])
    answers = list(predict_detector_files(model, [files[0], broken, tmp_path / "missing.png", *files[1:]],
                                          heatmaps=tmp_path / "heat"))
    assert [a.error is None for a in answers] == [True, False, False, True, True, True, True]
    assert "truncated" in answers[1].error and answers[2].error == "no such file"
    threshold = model.card["threshold"]
    for answer in (a for a in answers if a.error is None):
        image = images[str(answer.path.relative_to(project_root))]
        assert abs(answer.defect_probability - probability[image.id]) < 1e-4
        assert answer.at_or_above == (answer.defect_probability >= threshold)
        assert answer.defective is None  # the card says the detector is not validated
        assert answer.image_size == (image.height, image.width) and answer.heatmap_path.name.endswith("-heatmap.png")
        ours = np.asarray(PILImage.open(answer.heatmap_path))
        theirs = np.asarray(PILImage.open(app / answer.heatmap_path.name))
        assert ours.shape == (image.height, image.width) == theirs.shape
        assert np.abs(ours.astype(int) - theirs).max() <= 1


def test_other_size_is_neither_square_nor_the_images(project_root: Path) -> None:
    for shape in [(45, 35), (8, 8), (9, 10), (64, 64), (12, 9)]:
        image = np.zeros(shape, np.uint8)
        odd, even = other_size(image), other_size(image, multiple=True)
        for crop in (odd, even):
            assert crop.shape != shape and crop.shape[0] != crop.shape[1]
        assert odd.shape[0] % 8 and odd.shape[1] % 8
        assert even.shape[0] % 8 == 0 and even.shape[1] % 8 == 0
