"""Rebuild trained models from run records (checkpoints are state_dict + config)."""

from __future__ import annotations

from dataclasses import dataclass

from core.jobs.runs import load_checkpoint
from core.store import Project, Run, RunStatus, StoreError


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


def latest_classifier_run(project: Project) -> Run | None:
    for run in reversed(project.runs.list()):
        if run.status is RunStatus.DONE and run.method == "classifier" and run.checkpoint:
            return run
    return None


def load_classifier(project: Project, run: Run | None = None) -> LoadedClassifier:
    """The classifier of ``run`` (default: the newest finished one) as one module."""
    from models.classifier import ImageClassifier
    from models.fewshot.head import FittedHead

    run = run or latest_classifier_run(project)
    if run is None:
        raise StoreError("no finished classifier run: retrain with at least two labeled classes first")
    if run.method != "classifier" or run.status is not RunStatus.DONE or not run.checkpoint:
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
