"""Typed errors of the project store; the GUI and CLI catch these at the boundary."""

from __future__ import annotations

from core.store.records import RunKind


class StoreError(Exception):
    """Base class of every error the project store raises on purpose."""


class ProjectNotFoundError(StoreError):
    """The folder holds no project (no ``project.sqlite``)."""


class ProjectExistsError(StoreError):
    """A project was to be created where one already exists."""


class SchemaTooNewError(StoreError):
    """The project was written by a newer labelapp than this one."""


class ProjectLockedError(StoreError):
    """Another process held the database longer than the busy timeout."""


class NotFoundError(StoreError):
    """A row (image, class, run) that the caller named does not exist."""


class ImageNotFoundError(NotFoundError):
    """No image with that id or path in the project."""


class ClassNotFoundError(NotFoundError):
    """No class with that name or id in the project."""


class RunNotFoundError(NotFoundError):
    """No run with that id in the project."""


class InvalidValueError(StoreError):
    """A value the caller passed breaks a rule of the store (name, colour, mask shape)."""


class NeedsTrainingError(StoreError):
    """What was asked needs a model the project does not have yet: an encoder, a
    classifier or a defect detector.

    The message says what is missing in words that hold for every interface; it names
    no button and no command. ``needs`` is the kind of run that would provide it, and
    each interface adds its own way to train one when it shows the error (the command
    line: ``labelapp train PROJECT``; the window: Retrain).
    """

    def __init__(self, message: str, *, needs: RunKind) -> None:
        super().__init__(message)
        self.needs = needs

    def __reduce__(self):  # it crosses from the training process to the window as itself
        return _needs_training, (str(self), self.needs.value)


def _needs_training(message: str, needs: str) -> NeedsTrainingError:
    return NeedsTrainingError(message, needs=RunKind(needs))
