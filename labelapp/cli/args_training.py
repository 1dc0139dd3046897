"""Arguments and help of the commands that train and choose what to label:
``train``, ``suggest``, ``simulate``."""

from __future__ import annotations

from pathlib import Path

from labelapp.cli import proposals
from labelapp.cli.arguments import Subparsers, add_command, add_json, add_project, positive_int


def add_commands(sub: Subparsers) -> None:
    _train(sub)
    _suggest(sub)
    _simulate(sub)


def _train(sub: Subparsers) -> None:
    p = add_command(sub, "train", summary="retrain with the current labels (the window's Retrain)", description="""\
Trains the project's models on its current labels, as the window's Retrain does \
(--method auto): pretrains the encoder contrastively on every image when the images \
changed since the last encoder (or there is none), fits the few-label classifier when \
at least two classes have labels, trains the defect detector when OK and defect labels \
exist, and stores fresh suggestions of what to label next. Each model is a run in \
PROJECT/runs/; its predictions are stored for every image.

Prints one line per step: pretraining (or why it was skipped), the classifier with its \
cross-validated accuracy, the defect detector with its validation figures and threshold \
and notes on how it trained, the suggestions stored. Ctrl+C stops it; finished runs \
are kept.""", epilog="""\
examples:
  labelapp train ./demo                            everything that the labels allow
  labelapp train ./demo --method segdec --segdec-minutes 2
  labelapp train ./demo --thorough                 also fine-tune the encoder (slower)""")
    add_project(p)
    p.add_argument("--method", choices=("auto", "ssl", "classifier", "segdec", *proposals.PROPOSER_METHODS),
                   default="auto",
                   help="auto (default): pretrain when the images changed, then the classifier, then the defect"
                        " detector when OK and defect labels exist, then suggestions; ssl: contrastive"
                        " pretraining only; classifier: the few-label classifier on the latest encoder;"
                        " segdec: the defect detector only; isugan, cyclegan, patchcore: a mask proposer"
                        " (paper 003's ISU-GAN, its plain-CycleGAN ablation, or nearest-neighbour patches of"
                        " OK images), see propose-masks")
    proposals.add_train_arguments(p)
    p.add_argument("--ssl", choices=("simclr", "nnclr"), default="simclr",
                   help="the contrastive pretraining method (default simclr)")
    p.add_argument("--encoder", default="shufflenet", metavar="NAME",
                   help="the network pretrained: shufflenet (default), skip_convnet, convnet, resnet18")
    p.add_argument("--size", type=int, default=96, metavar="PX",
                   help="the encoder's input side in pixels (default 96)")
    p.add_argument("--epochs", type=int, default=20, metavar="N",
                   help="pretraining epochs (default 20; fewer on large projects, so that it ends in minutes)")
    p.add_argument("--batch-size", type=int, default=None, metavar="N",
                   help="pretraining images per step (default: 64 on the CPU, more on CUDA)")
    p.add_argument("--seed", type=int, default=0, help="the random seed of every step (default 0)")
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
                   help="narrow (default): the CPU network; full: paper 002's 1024-channel network (about"
                        " 3x slower)")
    p.add_argument("--segdec-mode", choices=("joint", "mixed"), default="joint",
                   help="joint (default): image labels and masks train the whole net together; mixed: paper"
                        " 002's schedule (segmentation first, decision later, decision kept out of the"
                        " segmentation)")
    p.add_argument("--segdec-minutes", type=float, default=None, metavar="M",
                   help="defect detector time budget in minutes, predicting every image included (default 4.5;"
                        " 1.75 when it continues from the last detector); training stops earlier when the"
                        " validation AP stops improving")
    p.add_argument("--segdec-epochs", type=int, default=40, metavar="N",
                   help="defect detector: at most this many epochs (default 40)")
    p.add_argument("--from-scratch", action="store_true",
                   help="train the defect detector afresh instead of continuing from the last one")
    p.add_argument("--target-recall", type=float, metavar="R",
                   help="pick the defect threshold that reaches this recall (0..1) on validation images"
                        " (default: the best-F1 threshold)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="where the networks train: auto (default) picks CUDA when there is a GPU, else the CPU")
    add_json(p, "{run, method, status, metrics, seconds, device, steps, segdec}")


def _suggest(sub: Subparsers) -> None:
    p = add_command(sub, "suggest", summary="the images to label next, each with its reason", description="""\
Chooses the images worth labeling next, best first, and prints each one's rank, path, \
the strategy that chose it and why ("typical of an unlabeled cluster of 230 images", \
"undecided between scratches and inclusion: 0.41 / 0.38"). They are stored as the \
project's suggestions (the window's Suggestions list) unless --no-store. Needs a \
pretrained encoder: run `labelapp train PROJECT` first.""", epilog="""\
examples:
  labelapp suggest ./demo --n 10
  labelapp suggest ./demo --strategy 'typicality@3>margin+balance' --no-store
  labelapp suggest ./demo --strategy mask        defective images whose mask would teach most""")
    add_project(p)
    p.add_argument("--n", type=positive_int, default=20, help="how many (default 20)")
    p.add_argument("--strategy", default="default", metavar="S",
                   help="default (the schedule), random, typicality, kcenter, margin, entropy, least_confidence,"
                        " badge, balance, mask (defective images worth a mask, from the latest defect detector),"
                        " or a schedule COLD>WARM such as 'typicality@3>margin+balance' ('+' interleaves; @K:"
                        " the cold start lasts until K labels per class; quote it for the shell)")
    p.add_argument("--no-store", action="store_true",
                   help="only print: keep the project's stored suggestions as they are")
    add_json(p, "a list of {rank, path, image_id, score, strategy, reason}")


def _simulate(sub: Subparsers) -> None:
    p = add_command(sub, "simulate", summary="learning curves of suggestion strategies on images with known"
                                             " classes (CSV + PNG)", description="""\
Plays the labeler on a folder whose sub-folders name the classes: imports it once, \
pretrains one encoder, then for each strategy and seed asks for suggestions, reveals \
their true classes, retrains the classifier and scores it on a fixed held-out part that \
is never suggested. The images are never copied.

Writes OUT/rounds.csv (one row per round: strategy, seed, round, labels, \
labels_per_class, classes_seen, classes_found, accuracy, macro_f1, ap_defect, ap_source, \
hidden_found, flipped, flips_caught, seconds, train_seconds, suggest_seconds) and \
OUT/learning_curves.png, and prints the mean ± \
standard deviation of each score over seeds per strategy and labels per class. \
Rerunning with the same OUT resumes: finished strategies and seeds are kept.""", epilog="""\
example:
  labelapp simulate --images /data/neu --out ./sim --strategy random default --seeds 3""")
    p.add_argument("--images", type=Path, required=True, metavar="FOLDER",
                   help="one sub-folder per class (the truth); images never get copied")
    p.add_argument("--truth", choices=("folders",), default="folders",
                   help="where the answers come from: the first-level sub-folder of each image (default)")
    p.add_argument("--masks", metavar="auto|DIR", help="reveal masks too (as `import --masks` finds them);"
                                                        " only used with --detector")
    p.add_argument("--strategy", nargs="+", default=None, metavar="S",
                   help="strategies or schedules (COLD>WARM, '+' interleaves) to compare (default: random"
                        " typicality margin default); 'all' for every single strategy")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--per-class", type=positive_int, nargs="+", metavar="K",
                        help="cumulative labels per class after each round (default 1 2 3 5 8 12 16 20)")
    budget.add_argument("--rounds", type=positive_int, metavar="R", help="R rounds of --per-round K labels")
    budget.add_argument("--budget", type=positive_int, metavar="B",
                        help="8 rounds growing geometrically up to B labels in all")
    p.add_argument("--per-round", type=positive_int, metavar="K", help="labels per round, with --rounds")
    p.add_argument("--seeds", type=positive_int, default=3, metavar="N", help="seeds 0 .. N-1 (default 3)")
    p.add_argument("--out", type=Path, required=True, metavar="OUT",
                   help="rounds.csv, learning_curves.png and a work folder (reused to resume)")
    p.add_argument("--held-out", type=float, default=0.3, metavar="F",
                   help="fraction of each class scored and never suggested (default 0.3)")
    p.add_argument("--ok-class", metavar="NAME", help="the sub-folder of defect-free images (default: guessed)")
    p.add_argument("--detector", action="store_true",
                   help="also train the defect detector every round (AP from it; slow on a CPU)")
    p.add_argument("--ssl-epochs", type=int, default=20, metavar="N",
                   help="encoder pretraining epochs, once (default 20)")
    p.add_argument("--size", type=int, default=96, metavar="PX", help="encoder input side (default 96)")
    p.add_argument("--workers", type=positive_int, default=1, metavar="N",
                   help="runs in parallel processes, one thread each (default 1; 2 on a 2-core machine)")
    p.add_argument("--threads", type=positive_int, default=None, metavar="N",
                   help="torch threads of the one-off pretraining (default: every core; 1 on a busy machine)")
    p.add_argument("--keep-projects", action="store_true", help="keep each run's project in the work folder")
    p.add_argument("--flip", type=float, default=0.0, metavar="F",
                   help="this share of the revealed labels is wrong (e.g. 0.05): how many the likely-mistakes list"
                        " catches (flips_caught)")
    p.add_argument("--hide-class", metavar="NAME",
                   help="never suggest this class in the first --hide-rounds rounds: how soon it is found after"
                        " (hidden_found)")
    p.add_argument("--hide-rounds", type=positive_int, default=3, metavar="R", help="with --hide-class (default 3)")
    p.add_argument("--again", action="store_true",
                   help="run these strategies again though rounds.csv has them (after changing one); other rows stay")
    add_json(p, "{csv, png, seconds}")
