"""What a mask-proposer run is asked to do: the method, the preset, which images get
proposals; and the labels it learns from, checked.

Methods: ``isugan`` (paper 003), ``cyclegan`` (its plain-CycleGAN ablation) and
``patchcore`` (nearest-neighbour patches of OK images). Presets size the GAN:

==========  =====  =====  ===========  =====  ======  ==================================
preset      ngf    blocks  crop (px)    batch  steps   meant for
==========  =====  =====  ===========  =====  ======  ==================================
quick       16     6       128          4      2,000   a 2-core CPU, well under an hour
standard    32     6       128          4      6,000   a CPU with time to spare
paper       64     9       256          1      100 epochs of the larger domain (a GPU)
==========  =====  =====  ===========  =====  ======  ==================================

Crops are taken from the images at the defect detector's working scale
(:mod:`core.training.segdec_geometry`), so the proposer sees what the detector sees.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

METHODS = ("isugan", "cyclegan", "patchcore")
PRESETS = ("quick", "standard", "paper")
SCOPES = ("defective", "predicted", "all")

PRESET_NET = {"quick": {"ngf": 16, "ndf": 16, "residual_blocks": 6},
              "standard": {"ngf": 32, "ndf": 32, "residual_blocks": 6},
              "paper": {"ngf": 64, "ndf": 64, "residual_blocks": 9}}
PRESET_TRAIN = {"quick": {"steps": 2000, "batch_size": 4, "crop": 128},
                "standard": {"steps": 6000, "batch_size": 4, "crop": 128},
                "paper": {"steps": 0, "batch_size": 1, "crop": 256}}  # steps 0: 100 epochs (paper 003)
PAPER_EPOCHS = 100

MIN_OK, MIN_DEFECTIVE = 2, 1  # below these nothing can be trained or calibrated
ENOUGH_OK, ENOUGH_DEFECTIVE = 50, 20  # fewer make a poor repair and an unreliable floor (paper 003: 100-400, 50-80)
HOLD_OUT_FROM = 6  # OK and defective labels each before a fifth of them is held out to calibrate


@dataclass(frozen=True)
class ProposerRequest:
    """One mask-proposer run.

    Attributes:
        method: one of :data:`METHODS`.
        preset: one of :data:`PRESETS` (the GAN's size and length; PatchCore ignores it).
        scope: which images get proposals besides the labeled defective ones (always):
            "defective" none, "predicted" the unlabeled images a validated defect
            detector calls defective, "all" every image.
        scale: working scale; None: the defect detector's choice for this project.
        resume: continue an interrupted training of the same settings from its checkpoint.
        steps: training steps (None: the preset's).
        train / net: overrides of :class:`models.isugan.GanTrainConfig` / ``GanConfig``.
        calibration_fraction: share of the OK and defective labels held out to learn the
            floor and the score threshold (when there are :data:`HOLD_OUT_FROM` of each).
        preview_every_s / checkpoint_every_s: how often the preview strip and the
            resume checkpoint are refreshed while training.
    """

    project_root: Path
    method: str = "isugan"
    preset: str = "quick"
    scope: str = "defective"
    scale: float | None = None
    seed: int = 0
    resume: bool = True
    steps: int | None = None
    train: dict = field(default_factory=dict)
    net: dict = field(default_factory=dict)
    calibration_fraction: float = 0.2
    min_area_share: float = 0.001
    floor_quantile: float = 0.98
    coreset_share: float = 0.1
    preview_every_s: float = 30.0
    checkpoint_every_s: float = 60.0
    device: str = "auto"
    threads: int | None = None
    workers: int | None = None

    def __post_init__(self) -> None:
        for name, value, allowed in (("method", self.method, METHODS), ("preset", self.preset, PRESETS),
                                     ("scope", self.scope, SCOPES)):
            if value not in allowed:
                raise ValueError(f"unknown {name} {value!r}; choose from {', '.join(allowed)}")

    @property
    def gan(self) -> bool:
        return self.method in ("isugan", "cyclegan")

    def config(self) -> dict:
        data = asdict(self)
        for key in ("project_root", "device", "threads", "workers", "preview_every_s", "checkpoint_every_s"):
            data.pop(key)
        return data

    def net_config(self) -> dict:
        return {**PRESET_NET[self.preset], **self.net}

    def train_config(self, ok: int, defective: int) -> dict:
        """The GAN's training settings for ``ok`` and ``defective`` training images."""
        preset = dict(PRESET_TRAIN[self.preset])
        if self.steps is not None:
            preset["steps"] = self.steps
        elif preset["steps"] == 0:  # paper 003: 100 epochs, one image of each domain per step
            preset["steps"] = PAPER_EPOCHS * max(ok, defective)
        return {**preset, "seed": self.seed, **self.train}


def labels_advice(ok: int, defective: int, method: str) -> str | None:
    """What to label for a better proposer, in words; None when nothing is short."""
    # the nearest-neighbour proposer learns from OK images; defective ones only set its threshold
    enough_defective = HOLD_OUT_FROM if method == "patchcore" else ENOUGH_DEFECTIVE
    short = [f"{need - have} more {what}" for have, need, what in
             ((defective, enough_defective, "defective"), (ok, ENOUGH_OK, "OK")) if have < need]
    if not short:
        return None
    return (f"only {ok} OK and {defective} defective images labeled: label {' and '.join(short)} images for"
            " proposals worth reviewing")


def too_few(ok: int, defective: int) -> str | None:
    """Why nothing can be trained (a sentence), or None."""
    short = [f"{need - have} more {what}" for have, need, what in
             ((ok, MIN_OK, "OK"), (defective, MIN_DEFECTIVE, "defective")) if have < need]
    if not short:
        return None
    return f"the mask proposer needs OK and defective labels: label at least {' and '.join(short)} image(s)"
