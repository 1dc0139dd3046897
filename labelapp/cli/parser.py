"""The ``labelapp`` command line: the same core API the GUI uses, for scripts and benchmarks.

Nothing heavy is imported at module level: ``labelapp status`` must answer at once. Each
command's arguments and help live in ``args_*``, its work in ``*_commands``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence

from labelapp.cli import args_export, args_pretrain, args_project, args_training, proposals
from labelapp.cli.arguments import HelpFormatter
from labelapp.cli.output import training_action

# a process whose reader went away ends as if killed by SIGPIPE: 128 + 13, what shells report
BROKEN_PIPE_EXIT = 128 + getattr(signal, "SIGPIPE", 13)

DESCRIPTION = """\
Label images of industrial surfaces with few labels. Without a command: the window \
(the same as `labelapp open`).

Every command that takes PROJECT works on a project folder (project.sqlite, masks, \
runs, exports). --json prints a result a script can read. Progress goes to stderr: \
bars on a terminal, else one line per finished step.

Exit status: 0 done; 1 predict could read no image; 2 an error (a message on stderr, \
and with --json {"error": ...} on stdout); 130 interrupted by Ctrl+C (everything \
committed before is kept); 141 the reader of the output went away (`| head`).
"""

EPILOG = """\
a first session:
  labelapp demo ./demo --images 200        generated images, a project without labels
  labelapp label ./demo img_00001.png --ok
  labelapp train ./demo                    retrain, as the window's Retrain
  labelapp suggest ./demo --n 10           what to label next, and why

`labelapp COMMAND --help` describes a command, its options and what it writes.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="labelapp", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=HelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="log more (to stderr)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    args_project.add_commands(sub)
    args_training.add_commands(sub)
    args_pretrain.add_commands(sub)
    args_export.add_commands(sub)
    proposals.add_parsers(sub)
    return parser


def _handlers() -> dict[str, Callable[[argparse.Namespace], int]]:
    from labelapp.cli import commands, export_commands, model_commands, pretrain_command, train_commands

    return {
        "open": commands.cmd_open,
        "demo": commands.cmd_demo,
        "import": commands.cmd_import,
        "status": commands.cmd_status,
        "label": commands.cmd_label,
        "train": train_commands.cmd_train,
        "pretrain": pretrain_command.cmd_pretrain,
        "suggest": train_commands.cmd_suggest,
        "simulate": train_commands.cmd_simulate,
        "export-labels": export_commands.cmd_export_labels,
        "import-labels": export_commands.cmd_import_labels,
        "export-heatmaps": export_commands.cmd_export_heatmaps,
        "export-model": model_commands.cmd_export_model,
        "predict": model_commands.cmd_predict,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one command; its exit status. A reader that goes away (``labelapp status P |
    head -4``) ends it quietly with :data:`BROKEN_PIPE_EXIT`, at any point, help included."""
    try:
        try:
            return _run(argv)
        finally:  # --help and usage errors leave by SystemExit: their output is flushed here too
            sys.stdout.flush()  # inside the try: a pipe closed early fails here, not at exit
    except BrokenPipeError:
        # Python's own advice: point stdout at devnull, so that the flush at exit does
        # not fail again, and leave without a traceback
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return BROKEN_PIPE_EXIT


def _run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    from core.store import NeedsTrainingError, StoreError

    handler = proposals.handler_for(args) or _handlers()[args.command or "open"]
    try:
        return handler(args)
    except NeedsTrainingError as exc:
        return _fail(args, f"{exc}; {training_action(getattr(args, 'project', None))}")
    except StoreError as exc:
        return _fail(args, str(exc))
    except (NotADirectoryError, FileNotFoundError, ValueError) as exc:
        return _fail(args, str(exc))
    except KeyboardInterrupt:
        print("interrupted; everything committed before is kept", file=sys.stderr)
        return 130


def _fail(args: argparse.Namespace, message: str) -> int:
    if getattr(args, "json", False):
        print(json.dumps({"error": message}))
    print(f"labelapp: error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
