"""Arguments and help of ``labelapp pretrain``: the encoder's pretraining continued
without the window (the background pretraining's job, for a given number of minutes)."""

from __future__ import annotations

from labelapp.cli.arguments import Subparsers, add_command, add_json, add_project, positive_int


def add_commands(sub: Subparsers) -> None:
    p = add_command(sub, "pretrain", summary="train the encoder longer (--continue), as the window does while idle",
                    description="""\
Continues the newest pretrained encoder of PROJECT (same method, network and input \
size) for --minutes, as the window's background pretraining does while the project \
is idle: one torch thread by default, a checkpoint every --checkpoint-minutes. Each \
checkpoint is a new pretraining run with fresh embeddings of every image (the texture \
statistics are kept); the next retrain uses the newest one. A pause (Ctrl+C, or the \
window's retrain) keeps the training done: the next start goes on from it.

Needs an encoder: run `labelapp train PROJECT` first. A new pretraining from scratch is \
`labelapp train PROJECT --method ssl` (or --pretrain-again).""", epilog="""\
examples:
  labelapp pretrain ./demo --continue --minutes 10
  labelapp pretrain ./demo --continue --minutes 30 --checkpoint-minutes 5 --threads 2""")
    add_project(p)
    p.add_argument("--continue", dest="continue_", action="store_true", required=True,
                   help="continue the newest encoder (required: the only mode for now)")
    p.add_argument("--minutes", type=float, required=True, metavar="M",
                   help="how long to train; a last checkpoint is written at the end")
    p.add_argument("--checkpoint-minutes", type=float, default=5.0, metavar="C",
                   help="minutes between checkpoints (default 5, as in the window)")
    p.add_argument("--threads", type=positive_int, default=1, metavar="N",
                   help="torch threads (default 1, as in the window)")
    p.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu",
                   help="where it trains (default cpu, as in the window)")
    add_json(p, "{runs, stopped, epochs, loss, seconds, line}")
