"""Rebuild trained models from run records (checkpoints are state_dict + config)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.jobs.runs import load_checkpoint
from core.store import NeedsTrainingError, Project, Run, RunKind, RunStatus, StoreError


@dataclass(frozen=True)
class LoadedClassifier:
    """A classifier run rebuilt as one module, with what describes it.

    Attributes:
        module: ``models.classifier.ImageClassifier`` in eval mode: ``(B, 1, S, S)``
            pixels 0-255 -> ``(B, C)`` probabilities.
        run: The classifier run.
        pretrain_run: The pretraining run whose encoder it uses.
        class_ids: Store ids of the C classes, in output order.
        class_names: Their names.
        input_size: S, the side of the square gray input (the pixel cache's size).
    """

    module: object
    run: Run
    pretrain_run: Run
    class_ids: list[int]
    class_names: list[str]
    input_size: int


def build_feature_extractor(checkpoint: dict):
    """``FeatureExtractor`` of a pretraining run's checkpoint."""
    from models.encoders import create_encoder
    from models.features import FeatureExtractor

    config = checkpoint["config"]
    encoder = create_encoder(config["encoder"], in_channels=config.get("in_channels", 1),
                             **config.get("encoder_kwargs", {}))
    encoder.load_state_dict(checkpoint["state_dict"])
    return FeatureExtractor(encoder, size=config["size"], mean=config["mean"][0], std=config["std"][0],
                            encoder_weight=config.get("encoder_weight", 1.0)).eval()


def load_classifier(project: Project, run: Run | None = None) -> LoadedClassifier:
    """The classifier of ``run`` (default: the newest finished one) as one module."""
    from models.classifier import ImageClassifier
    from models.fewshot.head import FittedHead

    run = run or project.runs.latest(RunKind.CLASSIFIER, with_checkpoint=True)
    if run is None:
        raise NeedsTrainingError("no finished classifier run (it needs labeled images of at least two classes)",
                                 needs=RunKind.CLASSIFIER)
    if run.kind is not RunKind.CLASSIFIER or run.status is not RunStatus.DONE or not run.checkpoint:
        raise StoreError(f"run {run.id} is not a finished classifier run ({run.method}, {run.status.value})")
    head_checkpoint = load_checkpoint(project, run)
    pretrain = project.runs.get(int(head_checkpoint["config"]["pretrain_run"]))
    if pretrain is None or pretrain.checkpoint is None:
        raise StoreError(f"the encoder of run {run.id} (run {head_checkpoint['config']['pretrain_run']}) is gone")
    encoder_file = head_checkpoint["config"].get("encoder_file")  # the thorough path: its own fine-tuned encoder
    encoder_checkpoint = load_checkpoint(project, run, encoder_file) if encoder_file else load_checkpoint(
        project, pretrain)
    if "cache_size" not in encoder_checkpoint["config"]:
        raise StoreError(f"run {run.id} uses an encoder from an older version; retrain to export it")
    features = build_feature_extractor(encoder_checkpoint)
    head = FittedHead.from_state_dict(head_checkpoint["state_dict"])
    input_size = int(encoder_checkpoint["config"]["cache_size"])
    class_ids = [int(c) for c in head_checkpoint["config"]["classes"]]
    names = {c.id: c.name for c in project.classes.list()}
    return LoadedClassifier(module=ImageClassifier(features, head, input_size=input_size).eval(), run=run,
                            pretrain_run=pretrain, class_ids=class_ids,
                            class_names=[names.get(c, f"class {c}") for c in class_ids], input_size=input_size)


@dataclass(frozen=True)
class LoadedDetector:
    """A defect-detector run rebuilt, with what its checkpoint says about it.

    Attributes:
        net: ``models.segdec.SegDecNet`` in eval mode.
        run: The defect-detector run.
        scale: The working scale its images are resized by (aspect ratio kept).
        geometry: ``Geometry.to_dict()`` of the run (the scale and why).
        threshold: The run's decision threshold (the run's metrics win: it can be moved
            after training).
        mode: The training mode (``joint`` or ``mixed``).
    """

    net: Any
    run: Run
    scale: float
    geometry: dict
    threshold: float
    mode: str


def detector_runs(project: Project) -> list[Run]:
    """Finished defect-detector runs with a checkpoint, newest first."""
    return project.runs.finished(RunKind.SEGDEC, with_checkpoint=True)


def load_detector(project: Project, run: Run | None = None) -> LoadedDetector:
    """The defect detector of ``run`` (default: the newest finished one).

    Raises:
        StoreError: no such run, not a finished detector run, or a checkpoint from before
            the detector kept aspect ratios (no working scale).
    """
    from models.segdec import SegDecConfig, SegDecNet

    if run is None:
        runs = detector_runs(project)
        if not runs:
            raise NeedsTrainingError("no finished defect-detector run (it needs labeled OK and defective images)",
                                     needs=RunKind.SEGDEC)
        run = runs[0]
    if run.kind is not RunKind.SEGDEC or run.status is not RunStatus.DONE or not run.checkpoint:
        raise StoreError(f"run {run.id} is not a finished defect-detector run ({run.method}, {run.status.value})")
    checkpoint = load_checkpoint(project, run)
    config = checkpoint.get("config") or {}
    if "scale" not in config:
        raise StoreError(f"run {run.id} is a defect detector of an older version (images squashed to a square):"
                         " retrain the detector to export it")
    net = SegDecNet(SegDecConfig.from_dict(config["net"]))
    net.load_state_dict(checkpoint["state_dict"])
    threshold = float((run.metrics or {}).get("threshold", config.get("threshold", 0.5)))
    return LoadedDetector(net=net.eval(), run=run, scale=float(config["scale"]), geometry=dict(config.get("geometry")
                          or {}), threshold=threshold, mode=str(config.get("mode", "joint")))
