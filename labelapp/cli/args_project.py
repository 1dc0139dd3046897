"""Arguments and help of the commands that make, fill, read and label a project:
``open``, ``demo``, ``import``, ``status``, ``label``."""

from __future__ import annotations

from pathlib import Path

from labelapp.cli.arguments import Subparsers, add_command, add_json, add_project, image_size


def add_commands(sub: Subparsers) -> None:
    _open(sub)
    _demo(sub)
    _import(sub)
    _status(sub)
    _label(sub)


def _open(sub: Subparsers) -> None:
    p = add_command(sub, "open", summary="open the labeling window on a project", description="""\
Opens the labeling window on PROJECT, or on the project opened last when none is given. \
`labelapp` without a command does the same.""")
    p.add_argument("project", nargs="?", type=Path, metavar="PROJECT",
                   help="the project folder (default: the one opened last)")


def _demo(sub: Subparsers) -> None:
    p = add_command(sub, "demo", summary="generate demo images and a project without labels", description="""\
Generates N images (--images) of one kind of surface into PROJECT/images (file names that do \
not give the class away), their true classes into PROJECT/truth (labels.csv: file,class; \
masks/ for the defective ones), and a project in PROJECT that references the images, with \
the kind's classes (ok, of kind OK, and its defect classes) and no labels. A folder that \
already holds a project is refused.

Prints the project's folder, the number of images and where the truth is.""", epilog="""\
examples:
  labelapp demo ./demo                               600 steel images, 200 px
  labelapp demo ./cracks --kind cracks --images 120  long machined parts, a few cracked""")
    add_project(p, " to create")
    p.add_argument("--kind", choices=("steel", "cracks", "textured"), default="steel",
                   help="steel: 200 px NEU-style steel, six defect classes (default); cracks: 500 px wide,"
                        " about 1250 px tall machined parts, a few with one thin crack; textured: 512 px"
                        " textures with small faint spots, scratches and texture changes")
    p.add_argument("--images", type=int, default=600, metavar="N", help="how many images (default 600)")
    p.add_argument("--seed", type=int, default=0, help="the random seed: the same seed gives the same images"
                                                       " (default 0)")
    p.add_argument("--size", type=image_size, default=None, metavar="PX|HxW",
                   help="image side, or height x width, in pixels (default: the kind's size,"
                        " 200 / 1250x500 / 512; cracks heights vary by up to 1.6 %% around it)")
    add_json(p, "{project, kind, images, truth}")


def _import(sub: Subparsers) -> None:
    p = add_command(sub, "import", summary="add a folder of images to a project (creates it if needed)",
                    description="""\
Adds every image under FOLDER, sub-folders included (.png .jpg .jpeg .bmp .tif .tiff), to \
the project in PROJECT, creating the project when the folder holds none. Images are \
referenced where they lie, not copied; an image whose content is already in the project \
is not added twice. Optionally the sub-folders name the classes and mask files are read.

Prints how many images were found, added, already present, duplicates and unreadable, \
with each problem and its reason (the first 20 of a kind; --json lists all).""", epilog="""\
examples:
  labelapp import ./tiles /data/tiles
  labelapp import ./tiles /data/tiles --labels-from-folders --ok-class good --masks auto""")
    add_project(p, "; created when it holds none")
    p.add_argument("folder", type=Path, metavar="FOLDER", help="the folder of images, read recursively")
    p.add_argument("--labels-from-folders", action="store_true",
                   help="label each image by its first-level sub-folder of FOLDER (a class of that name is"
                        " created when missing); images directly in FOLDER stay unlabeled")
    p.add_argument("--ok-class", metavar="NAME",
                   help="the sub-folder of defect-free images: its class is of kind OK, the others are"
                        " defect classes (implies --labels-from-folders)")
    p.add_argument("--masks", metavar="auto|DIR",
                   help="read masks too. auto: <stem>_mask.png beside each image, or <stem>.png beside a .jpg;"
                        " DIR: a folder tree mirroring FOLDER with a mask per image. Pixels above half the"
                        " value range are the image's defect")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="processes that read the images (default: every core)")
    add_json(p, "the import report and the project's counts")


def _status(sub: Subparsers) -> None:
    p = add_command(sub, "status", summary="images, labels per class, masks, runs, the defect detector",
                    description="""\
Prints what the project holds: images, labeled (OK / defect) and unlabeled, masks (with \
defect pixels), runs; the latest defect detector, whether it is validated and how it \
trained; and each class with its shortcut key, kind and number of labels. Fast: it \
loads no training library.""")
    add_project(p)
    add_json(p, "the same counts, per class and of the detector,")


def _label(sub: Subparsers) -> None:
    p = add_command(sub, "label", summary="label one image, or clear its label", description="""\
Sets the label of one image to a class (--class NAME), to the project's OK class (--ok), \
or removes its label and mask (--clear); --mask also stores a mask for it. The change is \
recorded in the project's history as made from the command line.

Prints the image's path, its label and mask size afterwards, and "(unchanged)" when it \
already had them.""", epilog="""\
examples:
  labelapp label ./demo img_00007.png --class scratches --mask scratch_mask.png
  labelapp label ./demo images/img_00008.png --ok""")
    add_project(p)
    p.add_argument("image", metavar="IMAGE", help="the image: its path, or its file name if unique in the project")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--class", dest="class_name", metavar="NAME", help="a class of the project")
    group.add_argument("--ok", action="store_true", help="defect-free: the project's OK class")
    group.add_argument("--clear", action="store_true", help="remove the label and the mask")
    p.add_argument("--mask", type=Path, metavar="PNG",
                   help="a mask image the size of IMAGE: its pixels above half the value range are the"
                        " defect and take the label's class (not with --ok, unless the mask is empty)")
    p.add_argument("--create", action="store_true",
                   help="create the class if the project lacks it (a defect class; with --ok an OK class"
                        " named 'ok')")
    add_json(p, "{image, changed, class, mask_pixels}")
