"""Imports pyqtgraph (the training panel's curves) and the libraries of the map and the
suggestions (scikit-learn, SciPy) on a background thread after the window shows: imports
hold the GIL, and the first curve point or the first map after a retrain would
otherwise freeze the window for 50-130 ms while they run (benchmarks/responsiveness_bench.py).

Torch and the training stack are no longer imported in the window's process: training
runs in the worker process (:mod:`core.jobs.worker`), which imports them itself. A
plain import: a curve drawn before the warm-up ends waits on Python's import lock.
Then the objects alive are frozen out of the garbage collector (:func:`freeze_heap`).
"""

from __future__ import annotations

import gc
import importlib
import logging
import threading

logger = logging.getLogger(__name__)

MODULES = ("pyqtgraph", "sklearn.decomposition", "sklearn.cluster", "sklearn.manifold", "scipy.spatial",
           "threadpoolctl")

_started: threading.Thread | None = None


def _run() -> None:
    try:
        for name in MODULES:
            importlib.import_module(name)
    except Exception:  # a warm-up must never take the app down; the real use reports the error
        logger.exception("warm-up import failed")
    freeze_heap()


def freeze_heap() -> None:
    """Leaves the objects alive now (the window, the imported libraries) out of every later
    garbage collection: a full collection of the window's process visited ~150,000 objects
    and stopped every thread for 65 ms, at any moment (a label key included), 15 times a
    minute under load. Cycles created later are still collected."""
    gc.freeze()


def resolve_qt_types() -> None:
    """Creates every class and enum of QtCore, QtGui and QtWidgets now, on the GUI thread
    (about 0.1 s at start-up). PySide creates them lazily, on first access, and that is not
    safe beside the GUI thread: pyqtgraph's import reads them all, and doing so on the
    warm-up thread while the window painted crashed the process (a segmentation fault in
    ``QPainter.fillRect``, twice in a row under ``benchmarks/responsiveness_bench.py``)."""
    from PySide6 import QtCore, QtGui, QtWidgets

    for module in (QtCore, QtGui, QtWidgets):
        for name in dir(module):
            getattr(module, name)


def start_warmup() -> threading.Thread:
    """Starts the warm-up once per process; returns its thread (join it to wait)."""
    global _started
    if _started is None:
        _started = threading.Thread(target=_run, name="labelapp-warmup", daemon=True)
        _started.start()
    return _started
