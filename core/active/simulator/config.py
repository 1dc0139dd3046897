"""What a simulation runs: the folder, the strategies and seeds, the label budgets.

Budgets are cumulative label counts, by default 1, 2, 3, 5, 8, 12, 16 and 20 labels per
class."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ACTOR = "simulator"
PER_CLASS = (1, 2, 3, 5, 8, 12, 16, 20)
COMPARED = ("random", "typicality", "margin", "default")


@dataclass(frozen=True)
class SimulationConfig:
    images: Path
    out: Path
    strategies: tuple[str, ...] = COMPARED
    seeds: tuple[int, ...] = (0, 1, 2)
    budgets: tuple[int, ...] | None = None  # cumulative labels after each round, as given
    per_class: tuple[int, ...] = PER_CLASS  # else cumulative labels per class (x the number of classes)
    rounds: int | None = None  # else with per_round: per_round, 2 per_round, ... rounds x per_round
    per_round: int | None = None
    budget: int | None = None  # else 8 rounds growing geometrically from one label per class to this total
    held_out: float = 0.3
    ok_class: str | None = None  # None: a sub-folder named like OK / good / MT_Free, if any
    masks: str | None = None  # "auto" or a folder mirroring ``images`` (revealed with the labels)
    detector: bool = False  # also train the defect detector every round (slow on a CPU)
    pretrain: dict = field(default_factory=dict)  # PretrainRequest fields (epochs, size, encoder, method)
    classifier_epochs: int = 100
    workers: int = 1  # (strategy, seed) runs in parallel processes, one torch thread each
    keep_projects: bool = False
    again: bool = False  # run the strategies again even when the CSV has them (after changing one)
    flip: float = 0.0  # this share of the revealed labels is wrong (a random other class): the labeler's mistakes
    hide_class: str | None = None  # never suggested in the first hide_rounds rounds: a class nobody labeled yet
    hide_rounds: int = 3  # with per_class 1 2 3 ...: hidden through the cold start


def budgets_for(config: SimulationConfig, n_classes: int) -> list[int]:
    """Cumulative label counts after each round."""
    if config.budgets:
        return sorted({int(b) for b in config.budgets})
    if config.rounds and config.per_round:
        return [config.per_round * (k + 1) for k in range(config.rounds)]
    if config.budget:
        first = min(n_classes, config.budget)
        return sorted({int(round(b)) for b in np.geomspace(first, config.budget, 8)})
    return sorted({int(k) * n_classes for k in config.per_class})
