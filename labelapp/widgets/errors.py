"""Errors from core in the window's words.

Core names no interface's action: a :class:`~core.store.NeedsTrainingError` says what is
missing and which training would provide it (``needs``); the window adds its own way to
train (Retrain), as the command line adds ``labelapp train PROJECT``.
"""

from __future__ import annotations

from core.store import NeedsTrainingError, RunKind

RETRAIN = "press Retrain (Ctrl+R)"
TRAINS = {RunKind.PRETRAIN: "pretrain the encoder", RunKind.CLASSIFIER: "train the classifier",
          RunKind.SEGDEC: "train the defect detector"}


def error_text(error: object) -> str:
    """``str(error)``; for a :class:`NeedsTrainingError` followed by the window's action."""
    if isinstance(error, NeedsTrainingError):
        return f"{error}; {RETRAIN} first"
    return str(error)


def training_action(needs: RunKind) -> str:
    """A sentence: how the window trains what ``needs`` names ("Press Retrain (Ctrl+R) to …")."""
    return f"{RETRAIN[0].upper()}{RETRAIN[1:]} to {TRAINS.get(needs, 'train it')}."
