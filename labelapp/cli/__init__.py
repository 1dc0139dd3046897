"""The command line: ``labelapp COMMAND``. Qt-free; ``open`` starts the window on first use."""

from labelapp.cli.parser import main

__all__ = ["main"]
