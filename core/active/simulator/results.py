"""The simulation's CSV: one row per round, strategy and seed, appended as it goes; finished
(strategy, seed) runs found in it are not run again, so a long simulation can be stopped
and resumed."""

from __future__ import annotations

import csv
import threading
from pathlib import Path

import numpy as np

COLUMNS = ("strategy", "seed", "round", "labels", "labels_per_class", "classes_seen", "classes_found", "accuracy",
           "macro_f1", "ap_defect", "ap_source", "hidden_found", "flipped", "flips_caught", "seconds", "train_seconds",
           "suggest_seconds")
ROUNDS_CSV = "rounds.csv"


def done_runs(path: Path, n_rounds: int) -> set[tuple[str, int]]:
    """(strategy, seed) pairs with every round in the CSV."""
    if not path.exists():
        return set()
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    counts: dict[tuple[str, int], int] = {}
    for r in rows:
        key = (r["strategy"], int(r["seed"]))
        counts[key] = counts.get(key, 0) + 1
    return {k for k, v in counts.items() if v >= n_rounds}


class CsvWriter:
    """Appends rows (flushed each time: a stopped simulation keeps what it measured);
    rows of an unfinished (strategy, seed) from an earlier attempt are dropped first."""

    def __init__(self, path: Path, finished: set[tuple[str, int]]) -> None:
        self.path = path
        kept = []
        if path.exists():
            with open(path, newline="") as f:
                kept = [r for r in csv.DictReader(f) if (r["strategy"], int(r["seed"])) in finished]
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(kept)
        self._lock = threading.Lock()

    def __call__(self, row: dict) -> None:
        with self._lock, open(self.path, "a", newline="") as f:
            csv.DictWriter(f, COLUMNS, lineterminator="\n").writerow(row)


def read_rounds(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def summary_table(path: Path, metric: str = "accuracy") -> tuple[list[str], list[tuple[float, dict]]]:
    """(strategies, [(labels per class, {strategy: (mean, std, runs)})]) over seeds, per budget."""
    rows = [r for r in read_rounds(path) if r[metric] != ""]
    strategies = list(dict.fromkeys(r["strategy"] for r in rows))
    budgets = sorted({float(r["labels_per_class"]) for r in rows})
    table = []
    for b in budgets:
        cells = {}
        for s in strategies:
            values = [float(r[metric]) for r in rows if r["strategy"] == s and float(r["labels_per_class"]) == b]
            if values:
                cells[s] = (float(np.mean(values)), float(np.std(values)), len(values))
        table.append((b, cells))
    return strategies, table
