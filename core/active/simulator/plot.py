"""The learning curves of a simulation as a PNG (matplotlib, Agg: no display)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from core.active.simulator.results import read_rounds, summary_table

PLOT_PNG = "learning_curves.png"


def plot_learning_curves(path: Path, png: Path, title: str = "") -> Path:
    """One panel per metric (accuracy, macro-F1, AP of defective when present): the mean
    over seeds per strategy, with a band from the lowest to the highest seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_rounds(path)
    metrics = ["accuracy", "macro_f1"] + (["ap_defect"] if any(r["ap_defect"] for r in rows) else [])
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 4.2), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        strategies, table = summary_table(path, metric)
        for s in strategies:
            xs, mean, low, high = [], [], [], []
            for b, _cells in table:
                values = [float(r[metric]) for r in rows
                          if r["strategy"] == s and float(r["labels_per_class"]) == b and r[metric] != ""]
                if values:
                    xs.append(b)
                    mean.append(np.mean(values))
                    low.append(min(values))
                    high.append(max(values))
            style = {"linewidth": 2.4} if s == "default" else {"linewidth": 1.4}
            line, = ax.plot(xs, mean, marker="o", markersize=3, label=s, **style)
            ax.fill_between(xs, low, high, color=line.get_color(), alpha=0.15, linewidth=0)
        ax.set_xscale("log")
        ax.set_xlabel("labels per class")
        ax.set_ylabel({"accuracy": "accuracy", "macro_f1": "macro-F1", "ap_defect": "AP (defective)"}[metric])
        ax.grid(True, alpha=0.3)
        ticks = sorted({b for b, _ in table})
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{t:g}" for t in ticks], fontsize=8)
        ax.minorticks_off()
    axes[0][0].legend(fontsize=8, loc="lower right")
    seeds = len({r["seed"] for r in rows})
    fig.suptitle(f"{title}: learning curves (mean over {seeds} seeds, band = lowest to highest seed)".strip(": "))
    fig.tight_layout()
    tmp = png.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, png)
    return png
