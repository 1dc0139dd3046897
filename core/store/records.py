"""Rows as they cross the store's API: frozen dataclasses, never dicts or sqlite rows."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class ClassKind(enum.StrEnum):
    """Whether a class names defect-free surfaces or a defect type."""

    OK = "ok"
    DEFECT = "defect"


class RunKind(enum.StrEnum):
    """What a run trains, as ``runs.method`` stores it (pretraining as ``pretrain-<ssl method>``)."""

    PRETRAIN = "pretrain"  # the encoder, contrastively, on every image (no labels)
    CLASSIFIER = "classifier"  # the few-label classifier head
    SEGDEC = "segdec"  # the defect detector
    PROPOSER = "proposer"  # the mask proposer (ISU-GAN, plain CycleGAN or nearest-neighbour patches)

    def method(self, variant: str | None = None) -> str:
        """The stored method: the kind, or ``<kind>-<variant>`` (``pretrain-simclr``)."""
        return self.value if variant is None else f"{self.value}-{variant}"


class RunStatus(enum.StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class PredictionState(enum.StrEnum):
    """How far a finished run's predictions are stored (``runs.prediction_state``; NULL,
    read as None, for a run that stored them all before it finished, as every run
    before issue 14 did).

    A run that streams its predictions finishes first (model, metrics and folder complete,
    status done), then stores them in batches, highest priority first: meanwhile it is
    STREAMING and the grid shows the images already stored. It ends COMPLETE, or PARTIAL
    when cancelled, failed or interrupted before every image: it keeps the predictions it
    stored, and the images without one have none from it.
    """

    STREAMING = "streaming"
    COMPLETE = "complete"
    PARTIAL = "partial"


@dataclass(frozen=True)
class Image:
    """One image of the project. ``path`` is as stored: relative to the project
    folder (POSIX separators) when the file lies inside it, absolute otherwise."""

    id: int
    path: str
    hash: str
    width: int
    height: int
    channels: int
    bit_depth: int
    mode: str
    gray: bool
    file_size: int
    added_at: str


@dataclass(frozen=True)
class NewImage:
    """An image about to be added (no id yet)."""

    path: str
    hash: str
    width: int
    height: int
    channels: int
    bit_depth: int
    mode: str
    gray: bool
    file_size: int
    mtime: float


@dataclass(frozen=True)
class ImageClass:
    """A label class. ``id`` is also the pixel value of the class in mask PNGs."""

    id: int
    name: str
    color: str
    shortcut: str | None
    kind: ClassKind
    position: int

    @property
    def is_ok(self) -> bool:
        return self.kind is ClassKind.OK


@dataclass(frozen=True)
class Label:
    """The current image-level label of one image."""

    image_id: int
    class_id: int
    class_name: str
    kind: ClassKind
    actor: str
    source: str
    updated_at: str


@dataclass(frozen=True)
class MaskInfo:
    """The current pixel mask of one image. ``file`` is None for an empty mask
    (all background), which is a real annotation: "no defect pixels here"."""

    image_id: int
    file: str | None
    pixels: int
    class_ids: tuple[int, ...]
    updated_at: str
    source: str = ""  # through what it was last saved ("gui", "import", "proposal:run-7", ...)


@dataclass(frozen=True)
class Event:
    """One entry of the append-only label history."""

    id: int
    at: str
    actor: str
    source: str
    kind: str
    image_id: int | None
    old: Any
    new: Any


@dataclass(frozen=True)
class Run:
    id: int
    method: str
    status: RunStatus
    config: dict[str, Any]
    label_snapshot: dict[str, Any]
    seed: int | None
    started_at: str
    finished_at: str | None
    metrics: dict[str, Any]
    checkpoint: str | None
    prediction_state: PredictionState | None = None  # None: stored before it finished, or no predictions

    @property
    def predicting(self) -> bool:
        """Whether a job is still storing this finished run's predictions."""
        return self.prediction_state is PredictionState.STREAMING

    @property
    def kind(self) -> RunKind | None:
        """What the run trained; None for a method this version does not know."""
        try:
            return RunKind(self.method.split("-", 1)[0])
        except ValueError:
            return None


@dataclass(frozen=True)
class ProjectSummary:
    """Counts shown by ``labelapp status`` and the status bar."""

    images: int
    labeled: int
    ok: int
    masks: int
    nonempty_masks: int
    runs: int
    classes: dict[str, int] = field(default_factory=dict)

    @property
    def unlabeled(self) -> int:
        return self.images - self.labeled

    def to_json(self) -> dict[str, Any]:
        return {
            "images": self.images,
            "labeled": self.labeled,
            "unlabeled": self.unlabeled,
            "ok": self.ok,
            "defect": self.labeled - self.ok,
            "masks": self.masks,
            "nonempty_masks": self.nonempty_masks,
            "runs": self.runs,
            "classes": dict(self.classes),
        }
