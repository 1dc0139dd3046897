"""Training loop of the seg-dec net on images of any size at the detector's working scale.

What each labeled image can teach decides how it is shown (:mod:`models.segdec.sampling`):
a defective image known only by its image label is seen whole (the defect could be
anywhere); OK images and masked defective images, whose every pixel is known, may be
seen as crops (around a defect for masked ones), which is much cheaper on large images.
An epoch shows every defective image and as many OK images, least-seen first (Božič's
frequency sampling). After each epoch the net is scored on the validation images (whole,
as the app predicts) and the state with the best validation AP is kept (Božič's
best-model selection). Training ends when the validation AP has not improved for
``patience`` epochs, when the time budget is spent, or after ``max_epochs``; the summary
says which.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from models.segdec.infer import predict_images, to_tensor
from models.segdec.loss import mixed_loss, theta
from models.segdec.net import SegDecNet
from models.segdec.sampling import Batch, epoch_batches, epoch_order

MODES = ("joint", "mixed")


class TrainCancelled(Exception):
    pass


@dataclass(frozen=True)
class TrainConfig:
    # "joint": both losses train the features throughout (the app's default);
    # "mixed": paper 002 (θ decay from the segmentation to the decision, gradient-flow stop)
    mode: str = "joint"
    max_epochs: int = 40
    # it stops when the validation score has not clearly improved for ``patience`` epochs and
    # ``patience_steps`` steps, and not before ``min_epochs`` and ``min_steps``: learning often
    # sets in after a plateau of a few hundred steps, an early lucky score on a few validation
    # images is no plateau, and a few labels make epochs of a few steps. Image labels alone
    # (magnetic-tile, 940 labels) learned after 10-20 flat epochs: stopping after 6 flat
    # epochs, not before epoch 10, ended two of three seeds at AP 0.53 where the third
    # went on to 0.81. A warm start has learned already and may stop sooner.
    patience: int = 10
    patience_steps: int = 400
    min_epochs: int = 30
    warm_min_epochs: int = 10
    min_steps: int = 400
    time_budget_s: float | None = None  # training seconds (validation included); None: no limit
    crop: int = 256  # side of crops of OK and masked images (working pixels); 0: always whole
    batch_size: int = 8  # samples per batch at most ...
    batch_pixels: int = 6 * 256 * 256  # ... and input pixels at most (an optimiser step gathers batch_size)
    lr: float = 1e-3  # Adam (paper 002 and Božič: SGD 0.1 with batch 10 on a GPU)
    seg_weight: float = 1.0  # joint: weight of the segmentation term
    delta: float = 1.0  # weight of the decision term (paper 002: 0.1)
    schedule: str = "decay"  # mixed: θ schedule ("decay", "linear", "constant")
    beta: float | None = None  # mixed: None ends θ at 0.42 at max_epochs
    seg_loss: str = "bce"  # "bce" (Božič) or "mse" (paper 002)
    distance_p: float = 0.0  # > 0: Božič's distance-transform weights inside defects
    positive_weight: float = 10.0  # weight of defect cells in the segmentation loss (they are few)
    flips: bool = True
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TrainData:
    """The labeled images at the working scale.

    ``images[i]`` is uint8 (h_i, w_i); ``masks[i]`` bool (h_i, w_i) for a masked
    defective image, else None; ``has_mask[i]`` says whether its pixels are known (OK
    images and masked defective ones).
    """

    images: Sequence[np.ndarray]
    labels: np.ndarray
    masks: Sequence[np.ndarray | None]
    has_mask: np.ndarray
    val_images: Sequence[np.ndarray] = ()
    val_labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


@dataclass(frozen=True)
class StepStats:
    epoch: int
    step: int  # steps done
    steps_per_epoch: int
    losses: dict[str, float]
    theta: float | None
    images_per_s: float
    elapsed_s: float
    validation_ap: float | None = None  # set on the last step of an epoch with validation


def train(net: SegDecNet, data: TrainData, config: TrainConfig, cancel: Callable[[], bool] | None = None,
          device: str = "cpu", warm: bool = False) -> Generator[StepStats, None, dict]:
    """Trains ``net`` in place (it ends with the best validation state, on the CPU);
    returns a summary (best epoch, AP per epoch, why it stopped).

    ``warm``: ``net`` holds the weights of an earlier run; they are scored first, and
    kept unless training beats them.
    """
    if config.mode not in MODES:
        raise ValueError(f"unknown mode {config.mode!r}; choose from {', '.join(MODES)}")
    started = time.perf_counter()
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    net.stop_gradient = config.mode == "mixed"
    net.to(device).to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
    optimizer.zero_grad(set_to_none=True)
    seen = np.zeros(len(data.labels), np.int64)
    validate = len(data.val_labels) > 0 and len(np.unique(data.val_labels)) == 2
    best_key, best_state, best_epoch, history = (-1.0, float("-inf")), None, -1, []
    if validate and warm:
        best_key = _validation_key(net, data, device)
        best_state, best_epoch = _state(net), 0
        history.append(best_key[0])
        yield StepStats(epoch=-1, step=0, steps_per_epoch=0, losses={}, theta=None, images_per_s=0.0,
                        elapsed_s=time.perf_counter() - started, validation_ap=best_key[0])
    step, epoch, stalled, stop, improved_at = 0, 0, 0, "max_epochs", 0
    while epoch < config.max_epochs:
        net.train()
        weight = theta(epoch, config.max_epochs, config.schedule, config.beta) if config.mode == "mixed" else None
        batches = epoch_batches(data, epoch_order(data.labels, seen, rng), config, rng)
        out_of_time = False
        gathered = 0
        for position, batch in enumerate(batches):
            if cancel is not None and cancel():
                raise TrainCancelled("training cancelled")
            began = time.perf_counter()
            parts = _backward(net, batch, config, weight, device)
            gathered += len(batch.labels)
            if gathered >= config.batch_size or position == len(batches) - 1:
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                gathered = 0
            step += 1
            elapsed = time.perf_counter() - started
            out_of_time = config.time_budget_s is not None and elapsed >= config.time_budget_s
            yield StepStats(epoch=epoch, step=step, steps_per_epoch=len(batches), losses=parts, theta=weight,
                            images_per_s=len(batch.labels) / max(time.perf_counter() - began, 1e-6),
                            elapsed_s=elapsed)
            if out_of_time:
                break
        epoch += 1
        if validate:
            key = _validation_key(net, data, device)
            history.append(key[0])
            if _clearly_better(key, best_key):
                stalled, improved_at = 0, step
            else:
                stalled += 1
            if key > best_key:  # ties keep the earlier (or the warm) state
                best_key, best_state, best_epoch = key, _state(net), epoch
            yield StepStats(epoch=epoch - 1, step=step, steps_per_epoch=len(batches), losses={}, theta=weight,
                            images_per_s=0.0, elapsed_s=time.perf_counter() - started, validation_ap=key[0])
        if out_of_time:
            stop = "time_budget"
            break
        if (validate and stalled >= config.patience and step - improved_at >= config.patience_steps
                and epoch >= (config.warm_min_epochs if warm else config.min_epochs) and step >= config.min_steps):
            stop = "converged"
            break
    net.cpu().to(memory_format=torch.contiguous_format)
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    return {"best_epoch": best_epoch if best_state is not None else epoch, "epochs_run": epoch,
            "validation_ap_by_epoch": history, "stopped": stop, "mode": config.mode,
            "stop_gradient": net.stop_gradient, "steps": step, "train_seconds": time.perf_counter() - started,
            "warm": warm}


def _backward(net: SegDecNet, batch: Batch, config: TrainConfig, weight: float | None, device: str,
              ) -> dict[str, float]:
    """Adds the gradients of one batch, weighted by its share of an optimiser step."""
    x = to_tensor(batch.pixels, device)
    target = torch.from_numpy(batch.targets).to(device)[:, None]
    cell_weight = torch.from_numpy(batch.weights).to(device)[:, None]
    label = torch.from_numpy(batch.labels).to(device)
    has_mask = torch.from_numpy(batch.has_mask).to(device)
    decides = torch.from_numpy(batch.decides).to(device)
    decision, seg = net(x, torch.from_numpy(batch.stats).to(device))
    loss, parts = mixed_loss(decision, seg, label, target, cell_weight, has_mask, weight, config.delta,
                             config.seg_loss, config.seg_weight, decides)
    (loss * (len(batch.labels) / config.batch_size)).backward()
    parts["loss"] = float(loss.detach())
    return {k: v for k, v in parts.items() if v == v}


def _clearly_better(key: tuple[float, float], best: tuple[float, float]) -> bool:
    """A higher AP, or the same AP with a validation loss lower by more than 2 %: once the
    AP is 1, slow polishing of the loss does not keep training going."""
    return key[0] > best[0] + 1e-6 or (key[0] >= best[0] - 1e-6 and key[1] > best[1] + 0.02 * abs(best[1]))


def _state(net: SegDecNet) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}


def _validation_key(net: SegDecNet, data: TrainData, device: str) -> tuple[float, float]:
    """(AP, − mean decision loss) on the validation images: the loss breaks AP ties (a
    small validation set often reaches AP 1 early)."""
    probability = predict(net, data.val_images, device=device)[0]
    truth = np.asarray(data.val_labels, dtype=np.float64)
    p = np.clip(probability.astype(np.float64), 1e-6, 1 - 1e-6)
    loss = float(-np.mean(truth * np.log(p) + (1 - truth) * np.log(1 - p)))
    return average_precision(data.val_labels, probability), -loss


@torch.no_grad()
def predict(net: SegDecNet, images: Sequence[np.ndarray], device: str | None = None,
            ) -> tuple[np.ndarray, list[np.ndarray]]:
    """(defect probability (n,) float32, heat maps float32 (ceil(h/8), ceil(w/8)) each)."""
    was_training = net.training
    net.eval()
    try:
        probability = np.zeros(len(images), np.float32)
        heat: list[np.ndarray] = [np.zeros((0, 0), np.float32)] * len(images)
        for k, p, h in predict_images(net, images, device=device):
            probability[k], heat[k] = p, h
        return probability, heat
    finally:
        net.train(was_training)


def average_precision(truth: np.ndarray, score: np.ndarray) -> float:
    """Area under the step precision-recall curve (sklearn's average precision); NaN
    without both classes."""
    if len(np.unique(truth)) < 2:
        return float("nan")
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(truth, score))
