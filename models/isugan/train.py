"""One CycleGAN training step for ISU-GAN (paper 003, Eqs. 8-11), and the crops it trains on.

Domains: ``ok`` (paper 003's P, defect-free) and ``defect`` (its N). ``repair`` maps
defect -> ok (paper 003's G_n2p, the defect-repair network the proposals use), ``make``
maps ok -> defect (G_p2n). Losses (the brief's defaults where paper 003 is silent):
least-squares adversarial losses with the discriminators' real terms on real images of
their own domain (Eq. 9 corrected), cycle consistency on both domains (weight 10) and
identity on the repair generator only (weight 5), both measured by 1 - SSIM for the first
``ssim_share`` of the steps and by L1 after (paper 003: 10 of 100 epochs). Adam 2e-4,
betas (0.5, 0.999), constant then linear decay to 0 over the second half; the
discriminators see generated images through a history pool of 50 (CycleGAN's defaults).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from models.isugan.net import Discriminator, GanConfig, Generator
from models.isugan.ssim import ssim_loss


@dataclass(frozen=True)
class GanTrainConfig:
    steps: int = 2500
    batch_size: int = 4  # crops per domain and step (paper 003: 1 image of 256 px)
    crop: int = 128  # crop side at the working scale (a multiple of 8)
    lr: float = 2e-4
    beta1: float = 0.5
    cycle_weight: float = 10.0
    identity_weight: float = 5.0
    ssim_share: float = 0.1  # share of the steps whose cycle and identity losses are 1 - SSIM
    decay_from: float = 0.5  # the learning rate decays linearly to 0 from this share of the steps on
    pool_size: int = 50
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> GanTrainConfig:
        return cls(**data)


class ImagePool:
    """CycleGAN's history of generated images: the discriminator sees an older fake
    half the time once the pool is full (Shrivastava et al. 2017)."""

    def __init__(self, size: int, seed: int = 0) -> None:
        self.size = size
        self.images: list[Tensor] = []
        self._rng = random.Random(seed)

    def query(self, batch: Tensor) -> Tensor:
        if self.size <= 0:
            return batch.detach()
        out = []
        for image in batch.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif self._rng.random() < 0.5:
                k = self._rng.randrange(self.size)
                out.append(self.images[k].clone())
                self.images[k] = image.clone()
            else:
                out.append(image)
        return torch.cat(out)


@dataclass(frozen=True)
class StepLosses:
    adversarial: float
    cycle: float
    identity: float
    d_ok: float
    d_defect: float
    ssim_phase: bool

    def named(self) -> dict[str, float]:
        return {"G adversarial": self.adversarial, "cycle": self.cycle, "identity": self.identity,
                "D ok": self.d_ok, "D defect": self.d_defect}


class GanTrainer:
    """The four networks, their optimisers and schedules; :meth:`step` trains one step.

    ``state_dict`` / ``load_state_dict`` cover everything a resumed run needs (weights,
    optimiser moments, schedules, step, history pools are not kept: they refill in 50 steps).
    """

    def __init__(self, net: GanConfig, train: GanTrainConfig, device: str = "cpu") -> None:
        torch.manual_seed(train.seed)
        self.net_config, self.config, self.device = net, train, device
        self.repair = Generator(net).to(device)
        self.make = Generator(net).to(device)
        self.d_ok = Discriminator(net).to(device)
        self.d_defect = Discriminator(net).to(device)
        betas = (train.beta1, 0.999)
        self.opt_g = torch.optim.Adam([*self.repair.parameters(), *self.make.parameters()], lr=train.lr, betas=betas)
        self.opt_d = torch.optim.Adam([*self.d_ok.parameters(), *self.d_defect.parameters()], lr=train.lr,
                                      betas=betas)
        self.pool_ok = ImagePool(train.pool_size, train.seed)
        self.pool_defect = ImagePool(train.pool_size, train.seed + 1)
        self.step_count = 0

    def learning_rate(self, step: int) -> float:
        start = self.config.decay_from * self.config.steps
        if step < start:
            return self.config.lr
        return self.config.lr * max(0.0, 1.0 - (step - start) / max(1.0, self.config.steps - start))

    def step(self, ok: Tensor, defect: Tensor) -> StepLosses:
        """One generator and one discriminator update on crops ``(B, 1, c, c)`` in [-1, 1]."""
        ok, defect = ok.to(self.device), defect.to(self.device)
        ssim_phase = self.step_count < self.config.ssim_share * self.config.steps
        distance = ssim_loss if ssim_phase else F.l1_loss
        for group in (*self.opt_g.param_groups, *self.opt_d.param_groups):
            group["lr"] = self.learning_rate(self.step_count)
        for d in (self.d_ok, self.d_defect):
            d.requires_grad_(False)
        fake_ok, fake_defect = self.repair(defect), self.make(ok)
        adversarial = _lsgan(self.d_ok(fake_ok), 1.0) + _lsgan(self.d_defect(fake_defect), 1.0)
        cycle = distance(self.make(fake_ok), defect) + distance(self.repair(fake_defect), ok)
        identity = distance(self.repair(ok), ok)
        loss_g = adversarial + self.config.cycle_weight * cycle + self.config.identity_weight * identity
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        for d in (self.d_ok, self.d_defect):
            d.requires_grad_(True)
        old_ok, old_defect = self.pool_ok.query(fake_ok), self.pool_defect.query(fake_defect)
        d_ok = 0.5 * (_lsgan(self.d_ok(ok), 1.0) + _lsgan(self.d_ok(old_ok), 0.0))
        d_defect = 0.5 * (_lsgan(self.d_defect(defect), 1.0) + _lsgan(self.d_defect(old_defect), 0.0))
        self.opt_d.zero_grad(set_to_none=True)
        (d_ok + d_defect).backward()
        self.opt_d.step()
        self.step_count += 1
        return StepLosses(adversarial=float(adversarial.detach()), cycle=float(cycle.detach()),
                          identity=float(identity.detach()),
                          d_ok=float(d_ok.detach()), d_defect=float(d_defect.detach()), ssim_phase=ssim_phase)

    def train_mode(self, on: bool = True) -> None:
        for module in (self.repair, self.make, self.d_ok, self.d_defect):
            module.train(on)

    def state_dict(self) -> dict:
        return {"repair": self.repair.state_dict(), "make": self.make.state_dict(), "d_ok": self.d_ok.state_dict(),
                "d_defect": self.d_defect.state_dict(), "opt_g": self.opt_g.state_dict(),
                "opt_d": self.opt_d.state_dict(), "step": self.step_count}

    def load_state_dict(self, state: dict) -> None:
        for name in ("repair", "make", "d_ok", "d_defect", "opt_g", "opt_d"):
            getattr(self, name).load_state_dict(state[name])
        self.step_count = int(state["step"])


def _lsgan(scores: Tensor, target: float) -> Tensor:
    return torch.mean((scores - target) ** 2)


def sample_crops(images: Sequence[np.ndarray], count: int, crop: int, rng: np.random.Generator) -> Tensor:
    """``count`` random ``crop`` x ``crop`` crops of uint8 (h, w) images, each of a random
    image, each left as it is, flipped left-right or flipped up-down with probability 1/3
    (paper 003's augmentation); images smaller than the crop are mirrored out to it.

    Returns:
        ``(count, 1, crop, crop)`` float32 in [-1, 1].
    """
    out = np.empty((count, crop, crop), np.float32)
    for k in range(count):
        image = np.asarray(images[int(rng.integers(len(images)))])
        image = pad_to(image, crop, crop)
        top = int(rng.integers(image.shape[0] - crop + 1))
        left = int(rng.integers(image.shape[1] - crop + 1))
        tile = image[top:top + crop, left:left + crop]
        flip = int(rng.integers(3))
        if flip == 1:
            tile = tile[:, ::-1]
        elif flip == 2:
            tile = tile[::-1, :]
        out[k] = tile
    return torch.from_numpy(out / 127.5 - 1.0).unsqueeze(1)


def pad_to(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """``image`` mirrored out (symmetric) at the bottom and right to at least ``height`` x ``width``."""
    grow_h, grow_w = max(0, height - image.shape[0]), max(0, width - image.shape[1])
    if not grow_h and not grow_w:
        return image
    return np.pad(image, ((0, grow_h), (0, grow_w)), mode="symmetric")
