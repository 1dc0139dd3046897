"""Training and prediction loops of the seg-dec net on in-memory (or memory-mapped) pixels.

Every epoch shows all defective training images and as many OK images, the OK ones
picked least-seen first (Božič's frequency sampling), so over a run every OK image is
seen. After each epoch the net is scored on the validation images and the state with the
best validation AP is kept (Božič's best-model selection).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from dataclasses import asdict, dataclass

import numpy as np
import torch

from models.segdec.loss import mixed_loss, theta
from models.segdec.net import SegDecNet


class TrainCancelled(Exception):
    pass


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 30
    batch_size: int = 8
    lr: float = 1e-3  # Adam (paper 002 and Božič: SGD 0.1 with batch 10 on a GPU)
    delta: float = 1.0  # weight of the decision term (paper 002: 0.1)
    # "auto": paper 002's decay when at least MIXED_SHARE of the defective images have masks,
    # else constant (Božič's setting without pixel labels); "decay": θ = (1 − β)^epoch;
    # "linear": Božič's 1 − n / N; "constant": θ = 0.5
    schedule: str = "auto"
    beta: float | None = None  # None: ends θ at 0.42 whatever the number of epochs
    seg_loss: str = "bce"  # "bce": distance-weighted BCE (Božič); "mse": paper 002
    stop_gradient: str = "auto"  # "auto": on with the decay schedule's condition (MIXED_SHARE); "on"; "off"
    flips: bool = True
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TrainData:
    """Rows of ``pixels`` (N, S, S) uint8 and what is known about them."""

    pixels: np.ndarray
    rows: np.ndarray  # (n,) training rows
    labels: np.ndarray  # (n,) 1 = defective
    has_mask: np.ndarray  # (n,) bool: γ
    targets: np.ndarray  # (n, h, w) float32
    weights: np.ndarray  # (n, h, w) float32
    val_rows: np.ndarray  # (m,) may be empty
    val_labels: np.ndarray


@dataclass(frozen=True)
class StepStats:
    epoch: int
    step: int
    total: int
    losses: dict[str, float]
    theta: float
    images_per_s: float
    validation_ap: float | None = None  # set on the last step of an epoch with validation


def epoch_order(labels: np.ndarray, seen: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices for one epoch: every positive and as many negatives, least-seen first
    (``seen`` is updated), shuffled."""
    positives = np.flatnonzero(labels == 1)
    negatives = np.flatnonzero(labels == 0)
    take = min(len(negatives), max(len(positives), 1))
    tie = rng.random(len(negatives))
    chosen = negatives[np.lexsort((tie, seen[negatives]))[:take]]
    seen[chosen] += 1
    return rng.permutation(np.concatenate([positives, chosen]))


MIXED_SHARE = 0.5  # masked share of the defective images from which "auto" trains in mixed mode


def mostly_masked(has_mask: np.ndarray, labels: np.ndarray) -> bool:
    """Whether at least MIXED_SHARE of the defective images have masks.

    On magnetic-tile (benchmarks/segdec_bench.py, 3 seeds) the paper-002 decay with
    Božič's gradient stop scored AP 0.69 with every defective image masked but 0.45 with
    10 of 274, below 0.57 with none; without masks a constant balance scored 0.69. With
    few masks the segmentation features know too little to carry the decision alone.
    """
    defective = labels == 1
    return bool(defective.any() and np.mean(has_mask[defective]) >= MIXED_SHARE)


def use_stop_gradient(config: TrainConfig, has_mask: np.ndarray, labels: np.ndarray) -> bool:
    if config.stop_gradient == "auto":
        return mostly_masked(has_mask, labels)
    return config.stop_gradient == "on"


def resolved_schedule(config: TrainConfig, has_mask: np.ndarray, labels: np.ndarray) -> str:
    if config.schedule == "auto":
        return "decay" if mostly_masked(has_mask, labels) else "constant"
    return config.schedule


def train(net: SegDecNet, data: TrainData, config: TrainConfig, cancel: Callable[[], bool] | None = None,
          device: str = "cpu") -> Generator[StepStats, None, dict]:
    """Trains ``net`` in place (it ends with the best validation state, on the CPU);
    returns a summary. ``device``: where to train ("cuda" for benchmarks on a GPU)."""
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    net.stop_gradient = use_stop_gradient(config, data.has_mask, data.labels)
    schedule = resolved_schedule(config, data.has_mask, data.labels)
    net.to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
    seen = np.zeros(len(data.rows), np.int64)
    per_epoch = len(epoch_order(data.labels, seen.copy(), np.random.default_rng(0)))
    steps_per_epoch = -(-per_epoch // config.batch_size)
    total = steps_per_epoch * config.epochs
    best: tuple[float, float] = (-1.0, 0.0)
    best_state, best_epoch, history = None, -1, []
    step = 0
    for epoch in range(config.epochs):
        net.train()
        weight = theta(epoch, config.epochs, schedule, config.beta)
        order = epoch_order(data.labels, seen, rng)
        for start in range(0, len(order), config.batch_size):
            if cancel is not None and cancel():
                raise TrainCancelled("training cancelled")
            began = time.perf_counter()
            index = np.sort(order[start:start + config.batch_size])
            x, target, w = (t.to(device) for t in _batch(data, index, rng, config.flips))
            label = torch.from_numpy(data.labels[index]).to(device)
            has_mask = torch.from_numpy(data.has_mask[index]).to(device)
            decision, seg = net(x)
            loss, parts = mixed_loss(decision, seg, label, target, w, has_mask, weight, config.delta,
                                     config.seg_loss)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            parts["loss"] = float(loss.detach())
            last = step % steps_per_epoch == 0
            ap = None
            if last and len(data.val_rows):
                probability, _ = predict(net, data.pixels, data.val_rows, device=device)
                ap = average_precision(data.val_labels, probability)
                history.append(ap)
                key = (ap, float(epoch))  # ties: the later epoch
                if key >= best:
                    best, best_epoch = key, epoch
                    best_state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
            yield StepStats(epoch=epoch, step=step, total=total, losses=parts, theta=weight,
                            images_per_s=len(index) / max(time.perf_counter() - began, 1e-6), validation_ap=ap)
    net.cpu()
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    return {"best_epoch": best_epoch + 1 if best_state is not None else config.epochs,
            "validation_ap_by_epoch": history, "stop_gradient": net.stop_gradient, "schedule": schedule,
            "steps": total}


def _batch(data: TrainData, index: np.ndarray, rng: np.random.Generator, flips: bool):
    x = np.asarray(data.pixels[data.rows[index]], dtype=np.float32) / 255.0
    target, w = data.targets[index].copy(), data.weights[index].copy()
    if flips:
        for k in range(len(index)):
            for axis in (0, 1):
                if rng.random() < 0.5:
                    x[k] = np.flip(x[k], axis)
                    target[k] = np.flip(target[k], axis)
                    w[k] = np.flip(w[k], axis)
    return (torch.from_numpy(np.ascontiguousarray(x))[:, None], torch.from_numpy(target)[:, None],
            torch.from_numpy(w)[:, None])


@torch.no_grad()
def predict(net: SegDecNet, pixels: np.ndarray, rows: np.ndarray, batch: int = 32, device: str | None = None,
            ) -> tuple[np.ndarray, np.ndarray]:
    """(defect probability (n,) float32, heat map (n, h, w) uint8 0-255) of ``rows``."""
    probabilities, heat = [], []
    for _done, p, h in predict_chunks(net, pixels, rows, batch, device):
        probabilities.append(p)
        heat.append(h)
    if not probabilities:
        return np.zeros(0, np.float32), np.zeros((0, 0, 0), np.uint8)
    return np.concatenate(probabilities), np.concatenate(heat)


@torch.no_grad()
def predict_chunks(net: SegDecNet, pixels: np.ndarray, rows: np.ndarray, batch: int = 32,
                   device: str | None = None):
    """Yields (images done, probabilities, heat maps) chunk by chunk (for progress);
    ``device`` None: where the net's weights are."""
    device = device or next(net.parameters()).device
    was_training = net.training
    net.eval()
    try:
        for start in range(0, len(rows), batch):
            part = rows[start:start + batch]
            x = torch.from_numpy(np.asarray(pixels[np.sort(part)], dtype=np.float32) / 255.0)[:, None].to(device)
            order = np.argsort(np.argsort(part))  # back from sorted reads to the order of ``part``
            logit, seg = net(x)
            p = torch.sigmoid(logit).cpu().numpy().astype(np.float32)[order]
            h = (torch.sigmoid(seg)[:, 0].cpu().numpy() * 255.0 + 0.5).astype(np.uint8)[order]
            yield start + len(part), p, h
    finally:
        net.train(was_training)


def average_precision(truth: np.ndarray, score: np.ndarray) -> float:
    """Area under the step precision-recall curve (sklearn's average precision); NaN
    without both classes."""
    if len(np.unique(truth)) < 2:
        return float("nan")
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(truth, score))
