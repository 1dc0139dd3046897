"""What every command prints the same way."""

from __future__ import annotations

import json
from typing import Any


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def quoted(project: Any) -> str:
    """A project folder as a shell command takes it ("PROJECT" when unknown)."""
    import shlex

    return shlex.quote(str(project)) if project is not None else "PROJECT"


def train_command(project: Any) -> str:
    """The command that trains what a project lacks."""
    return f"labelapp train {quoted(project)}"


def training_action(project: Any) -> str:
    """How the command line trains a missing model: core names no interface's action
    (:class:`core.store.NeedsTrainingError`), each interface adds its own."""
    return f"run `{train_command(project)}` first"
