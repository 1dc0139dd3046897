"""Imports the training stack on a background thread after the window shows.

The first Retrain of a session would otherwise import torch, lightly, the optimizer's
lazy modules (torch._dynamo, sympy) and pyqtgraph on the job thread or the GUI thread;
those imports hold the GIL for up to a few hundred milliseconds at a time, so the
window froze in bursts (benchmarks/responsiveness_bench.py: 460-855 ms on the first
curve point, 120-270 ms during the first pretraining steps). Done here, they run while
the engineer looks at the first images. Everything is a plain import: a Retrain started
before the warm-up ends simply waits on Python's import lock for the same modules.
"""

from __future__ import annotations

import importlib
import logging
import threading

logger = logging.getLogger(__name__)

MODULES = ("torch", "pyqtgraph", "core.training", "models.encoders", "models.ssl", "models.fewshot.head",
           "models.features")

_started: threading.Thread | None = None


def _run() -> None:
    try:
        for name in MODULES:
            importlib.import_module(name)
        import torch

        torch.optim.Adam(torch.nn.Linear(1, 1).parameters())  # its first use imports torch._dynamo
    except Exception:  # a warm-up must never take the app down; the real use reports the error
        logger.exception("warm-up import failed")


def start_warmup() -> threading.Thread:
    """Starts the warm-up once per process; returns its thread (join it to wait)."""
    global _started
    if _started is None:
        _started = threading.Thread(target=_run, name="labelapp-warmup", daemon=True)
        _started.start()
    return _started
