"""What the training panel says of the encoder, and whether the background pretraining may run.

A pretraining run's metrics hold its ``epochs`` (all of them, counting those of the runs
it continues) and its ``loss``; a run of the background pretraining
(:mod:`core.training.background_pretrain`) also the ``loss_history`` of its chain, one
``[epochs, loss]`` per checkpoint, from which :func:`loss_trend` tells whether the
loss still falls. :func:`encoder_line` puts them in one line: "encoder: 34 epochs,
loss 2.91, improving".
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

from core.store import Run

logger = logging.getLogger(__name__)
IMPROVING = 0.01  # a relative fall of the loss between two checkpoints that counts as improving


def loss_trend(history: Sequence[Sequence[float]]) -> str:
    """"improving", "levelled off" or "" (fewer than two checkpoints with a loss): the
    last checkpoint's loss against the one before."""
    losses = [float(point[1]) for point in history if point[1] is not None and math.isfinite(float(point[1]))]
    if len(losses) < 2:
        return ""
    before, now = losses[-2], losses[-1]
    return "improving" if now < before - IMPROVING * abs(before) else "levelled off"


def encoder_line(run: Run | None) -> str:
    """"encoder: 34 epochs, loss 2.91, improving" for a pretraining run; "encoder: none
    yet" without one."""
    if run is None:
        return "encoder: none yet (the first retrain pretrains it)"
    return describe_encoder(run.metrics.get("epochs"), run.metrics.get("loss"),
                            run.metrics.get("loss_history") or ())


def describe_encoder(epochs: float | None, loss: float | None, history: Sequence[Sequence[float]] = ()) -> str:
    parts = []
    if isinstance(epochs, int | float):
        whole = int(round(float(epochs)))
        parts.append(f"{whole} epoch{'' if whole == 1 else 's'}")
    if isinstance(loss, int | float) and math.isfinite(float(loss)):
        parts.append(f"loss {float(loss):.2f}")
    trend = loss_trend(history)
    if trend:
        parts.append(trend)
    return "encoder: " + (", ".join(parts) if parts else "trained")


def on_battery() -> bool | None:
    """True when the platform says the computer runs on its battery, False when on mains
    power, None when it cannot tell (no battery, or psutil not installed: then the
    background pretraining runs as on mains power)."""
    try:
        import psutil  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        battery = psutil.sensors_battery()
    except Exception:  # noqa: BLE001 - a platform without the sensor
        logger.debug("cannot read the battery state", exc_info=True)
        return None
    if battery is None or battery.power_plugged is None:
        return None
    return not battery.power_plugged
