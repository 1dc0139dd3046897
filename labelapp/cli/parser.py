"""The ``labelapp`` command line: the same core API the GUI uses, for scripts and benchmarks.

Nothing heavy is imported at module level: ``labelapp status`` must answer at once.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from labelapp.cli import commands, proposals


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labelapp",
        description="Label images of industrial surfaces with few labels. Without a command: the GUI.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("open", help="open the GUI on a project")
    p.add_argument("project", nargs="?", type=Path, help="project folder (default: the last one)")

    p = sub.add_parser("demo", help="generate demo images and a project without labels")
    p.add_argument("project", type=Path)
    p.add_argument("--kind", choices=("steel", "cracks", "textured"), default="steel",
                   help="steel: 200 px NEU-style steel, six defect classes (default); cracks: 500 px wide,"
                        " about 1250 px tall machined parts, a few with one thin crack; textured: 512 px"
                        " textures with small faint spots, scratches and texture changes")
    p.add_argument("--images", type=int, default=600, help="number of images (default 600)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=_image_size, default=None, metavar="PX|HxW",
                   help="image side, or height x width, in pixels (default: the kind's size,"
                        " 200 / 1250x500 / 512; cracks heights vary by up to 1.6 %% around it)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")

    p = sub.add_parser("import", help="import a folder of images (creates the project if needed)")
    p.add_argument("project", type=Path)
    p.add_argument("folder", type=Path)
    p.add_argument("--labels-from-folders", action="store_true",
                   help="the first-level sub-folder names the class of each image")
    p.add_argument("--ok-class", metavar="NAME", help="the sub-folder that holds defect-free images")
    p.add_argument("--masks", metavar="auto|DIR",
                   help="auto: <stem>_mask.png or <stem>.png beside a .jpg; DIR: a tree mirroring FOLDER")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: every core)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")

    p = sub.add_parser("status", help="images, labels per class, masks, runs")
    p.add_argument("project", type=Path)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("label", help="label one image")
    p.add_argument("project", type=Path)
    p.add_argument("image", help="the image: its path, or its file name if unique")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--class", dest="class_name", metavar="NAME", help="a class of the project")
    group.add_argument("--ok", action="store_true", help="defect-free (the project's OK class)")
    group.add_argument("--clear", action="store_true", help="remove the label and the mask")
    p.add_argument("--mask", type=Path, metavar="PNG",
                   help="a mask file: pixels above half the value range take the image's class")
    p.add_argument("--create", action="store_true", help="create the class if the project lacks it")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("train", help="retrain with the current labels (as the GUI's Retrain button)")
    p.add_argument("project", type=Path)
    p.add_argument("--method", choices=("auto", "ssl", "classifier", "segdec", *proposals.PROPOSER_METHODS),
                   default="auto",
                   help="auto: pretrain when the images changed, then the classifier, then the defect detector"
                        " when OK and defect labels exist; ssl: contrastive pretraining only; classifier: the"
                        " few-label classifier on the latest encoder; segdec: the defect detector only;"
                        " isugan, cyclegan, patchcore: a mask proposer (paper 003's ISU-GAN, its plain-CycleGAN"
                        " ablation, or nearest-neighbour patches of OK images), see propose-masks")
    p.add_argument("--ssl", choices=("simclr", "nnclr"), default="simclr")
    p.add_argument("--encoder", default="shufflenet", help="shufflenet, skip_convnet, convnet, resnet18")
    p.add_argument("--size", type=int, default=96, help="input side in pixels (default 96)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=None,
                   help="pretraining images per step (default: 64 on the CPU, more on CUDA)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--thorough", type=int, nargs="?", const=120, default=0, metavar="STEPS",
                   help="also fine-tune the encoder on the labeled images (paper-001 loss) for STEPS steps"
                        " (default 120) before fitting the classifier; slower")
    p.add_argument("--pretrain-again", action="store_true",
                   help="with --method auto: pretrain a new encoder even if one covers the images")
    p.add_argument("--no-segdec", action="store_true", help="with --method auto: skip the defect detector")
    p.add_argument("--segdec-scale", type=float, metavar="S",
                   help="defect detector: look at the images at S times their size (default: chosen from the"
                        " image sizes and the masked defects; `labelapp status` shows it)")
    p.add_argument("--segdec-width", choices=("narrow", "full"), default="narrow",
                   help="narrow: the CPU default; full: paper 002's 1024-channel network (about 3x slower)")
    p.add_argument("--segdec-mode", choices=("joint", "mixed"), default="joint",
                   help="joint: image labels and masks train the whole net together (default); mixed: paper 002's"
                        " schedule (segmentation first, decision later, decision kept out of the segmentation)")
    p.add_argument("--segdec-minutes", type=float, default=None, metavar="M",
                   help="defect detector time budget in minutes, predicting every image included (default 4.5;"
                        " 1.75 when it continues from the last detector); training stops earlier when the"
                        " validation AP stops improving")
    p.add_argument("--segdec-epochs", type=int, default=40, help="at most this many epochs (default 40)")
    p.add_argument("--from-scratch", action="store_true",
                   help="train the defect detector afresh instead of continuing from the last one")
    p.add_argument("--target-recall", type=float, metavar="R",
                   help="pick the defect threshold that reaches this recall on validation images"
                        " (default: the best-F1 threshold)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="where the networks train: auto (default) picks CUDA when there is a GPU, else the CPU")
    proposals.add_train_arguments(p)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("suggest", help="the images to label next, each with its reason")
    p.add_argument("project", type=Path)
    p.add_argument("--n", type=_positive_int, default=20, help="how many (default 20)")
    p.add_argument("--strategy", default="default", metavar="S",
                   help="default (the schedule), random, typicality, kcenter, margin, entropy, least_confidence,"
                        " badge, balance, mask (defective images worth a mask), or a schedule COLD>WARM such as"
                        " typicality@3>margin+balance ('+' interleaves; @K: the cold start lasts until K labels"
                        " per class)")
    p.add_argument("--no-store", action="store_true",
                   help="only print: keep the project's stored suggestions as they are")
    p.add_argument("--json", action="store_true", help="a JSON list of {path, score, strategy, reason, rank}")

    p = sub.add_parser("simulate", help="play the labeler on a folder with known classes: learning curves of"
                                        " suggestion strategies (CSV + PNG)")
    p.add_argument("--images", type=Path, required=True, metavar="FOLDER",
                   help="one sub-folder per class (the truth); images never get copied")
    p.add_argument("--truth", choices=("folders",), default="folders",
                   help="where the answers come from: the first-level sub-folder of each image")
    p.add_argument("--masks", metavar="auto|DIR", help="reveal masks too (as `import --masks` finds them);"
                                                        " only used with --detector")
    p.add_argument("--strategy", nargs="+", default=None, metavar="S",
                   help="strategies or schedules (COLD>WARM, '+' interleaves) to compare (default: random"
                        " typicality margin default); 'all' for every single strategy")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--per-class", type=_positive_int, nargs="+", metavar="K",
                        help="cumulative labels per class after each round (default 1 2 3 5 8 12 16 20)")
    budget.add_argument("--rounds", type=_positive_int, metavar="R", help="R rounds of --per-round K labels")
    budget.add_argument("--budget", type=_positive_int, metavar="B",
                        help="8 rounds growing geometrically up to B labels in all")
    p.add_argument("--per-round", type=_positive_int, metavar="K", help="labels per round, with --rounds")
    p.add_argument("--seeds", type=_positive_int, default=3, metavar="N", help="seeds 0 .. N-1 (default 3)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="rounds.csv, learning_curves.png and a work folder (reused to resume)")
    p.add_argument("--held-out", type=float, default=0.3, metavar="F",
                   help="fraction of each class scored and never suggested (default 0.3)")
    p.add_argument("--ok-class", metavar="NAME", help="the sub-folder of defect-free images (default: guessed)")
    p.add_argument("--detector", action="store_true",
                   help="also train the defect detector every round (AP from it; slow on a CPU)")
    p.add_argument("--ssl-epochs", type=int, default=20, help="encoder pretraining epochs, once (default 20)")
    p.add_argument("--size", type=int, default=96, help="encoder input side (default 96)")
    p.add_argument("--workers", type=_positive_int, default=1,
                   help="runs in parallel processes, one thread each (default 1; 2 on a 2-core machine)")
    p.add_argument("--threads", type=_positive_int, default=None,
                   help="torch threads of the one-off pretraining (default: every core; 1 on a busy machine)")
    p.add_argument("--keep-projects", action="store_true", help="keep each run's project in the work folder")
    p.add_argument("--again", action="store_true",
                   help="run these strategies again though rounds.csv has them (after changing one); other rows stay")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("export-model", help="export the classifier or the defect detector as TorchScript or ONNX"
                                            " (checked against the app)")
    p.add_argument("project", type=Path)
    p.add_argument("--model", choices=("classifier", "detector"), default=None,
                   help="classifier (default): square input, class probabilities; detector: the defect detector,"
                        " any image size at its scale, the defect probability and a heat map (--run of a"
                        " detector run implies it)")
    p.add_argument("--run", type=int, metavar="ID", help="the run (default: the model's newest finished one)")
    p.add_argument("--format", choices=("torchscript", "onnx"), required=True,
                   help="torchscript: model.pt (needs torch); onnx: model.onnx (needs the 'export' extra)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="the folder to write into")
    p.add_argument("--sample", type=_positive_int, default=32, metavar="N",
                   help="project images the exported model is checked on (default 32)")
    p.add_argument("--tolerance", type=float, default=1e-4,
                   help="largest accepted difference in a probability or heat-map cell (default 1e-4)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("predict", help="classify image files, or find their defects, with an exported model (no"
                                       " project needed)")
    p.add_argument("model_dir", type=Path, metavar="MODEL_DIR", help="a folder written by export-model")
    p.add_argument("images", type=Path, nargs="+", metavar="IMAGE", help="image files or folders of them")
    p.add_argument("--batch", type=_positive_int, default=32, metavar="N",
                   help="images per batch of a classifier (default 32); a detector takes them one by one")
    p.add_argument("--heatmaps", type=Path, metavar="DIR",
                   help="an exported detector: write <stem>-heatmap.png per image into DIR, the size of the image")
    p.add_argument("--json", action="store_true", help="print every probability as JSON")

    p = sub.add_parser("export-heatmaps", help="write the defect detector's heat maps as PNGs, with a CSV of"
                                               " defect probabilities")
    p.add_argument("project", type=Path)
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="the folder to write into")
    p.add_argument("--run", type=int, metavar="ID", help="the defect-detector run (default: the newest)")
    p.add_argument("--only", choices=("all", "defective"), default="all",
                   help="defective: only images at or above the run's threshold")
    p.add_argument("--overlay", action="store_true",
                   help="also write the image with the heat map blended in (<name>-overlay.png)")
    p.add_argument("--json", action="store_true")

    proposals.add_parsers(sub)

    p = sub.add_parser("export-labels", help="export labels as a CSV, class folders or mask PNGs")
    p.add_argument("project", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--format", choices=("csv", "folders", "masks"), default="csv")
    p.add_argument("--json", action="store_true")
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text}")
    return value


def _image_size(text: str) -> int | tuple[int, int]:
    """``PX`` (a square side) or ``HxW`` (height x width) in pixels."""
    parts = text.lower().split("x")
    try:
        sides = [int(part) for part in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected PX or HxW, e.g. 200 or 1250x500: {text}") from None
    if len(sides) not in (1, 2) or min(sides) < 32:
        raise argparse.ArgumentTypeError(f"expected PX or HxW with sides of at least 32 px: {text}")
    return sides[0] if len(sides) == 1 else (sides[0], sides[1])


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    from core.store import StoreError

    handler = proposals.handler_for(args) or commands.HANDLERS.get(args.command or "open")
    try:
        return handler(args)
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
