"""Typed errors of the project store; the GUI and CLI catch these at the boundary."""

from __future__ import annotations


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
