"""What every command's arguments share: the help formatter, PROJECT, --json, value types."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path
from typing import Any

Subparsers = Any  # argparse's _SubParsersAction, private


class HelpFormatter(argparse.HelpFormatter):
    """Wraps each paragraph of a description or epilog to the terminal on its own; a
    paragraph whose lines start with a space (examples, lists) keeps its lines."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        out = []
        for paragraph in text.strip("\n").split("\n\n"):
            lines = paragraph.splitlines()
            if any(line.startswith(" ") for line in lines):
                out.append("\n".join(indent + line for line in lines))
            else:
                out.append(textwrap.fill(" ".join(paragraph.split()), width, initial_indent=indent,
                                         subsequent_indent=indent, break_on_hyphens=False))
        return "\n\n".join(out)

    def _split_lines(self, text: str, width: int) -> list[str]:
        # an option's help, wrapped without breaking "few-label" or "--segdec-scale" apart
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def add_command(sub: Subparsers, name: str, *, summary: str, description: str,
                epilog: str | None = None) -> argparse.ArgumentParser:
    """A command: ``summary`` for the list of commands, ``description`` (paragraphs) and
    ``epilog`` (examples) for its own --help."""
    return sub.add_parser(name, help=summary, description=description, epilog=epilog,
                          formatter_class=HelpFormatter)


def add_project(parser: argparse.ArgumentParser, what: str = "") -> None:
    parser.add_argument("project", type=Path, metavar="PROJECT",
                        help=f"the project folder (the one holding project.sqlite){what}")


def add_json(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--json", action="store_true", help=f"print {what} as JSON on stdout instead")


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text}")
    return value


def image_size(text: str) -> int | tuple[int, int]:
    """``PX`` (a square side) or ``HxW`` (height x width) in pixels."""
    parts = text.lower().split("x")
    try:
        sides = [int(part) for part in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected PX or HxW, e.g. 200 or 1250x500: {text}") from None
    if len(sides) not in (1, 2) or min(sides) < 32:
        raise argparse.ArgumentTypeError(f"expected PX or HxW with sides of at least 32 px: {text}")
    return sides[0] if len(sides) == 1 else (sides[0], sides[1])
