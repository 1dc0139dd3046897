"""Arguments and help of the commands that take labels and models out of a project:
``export-model``, ``predict``, ``export-heatmaps``, ``export-labels``, and the one that
takes labels in from other tools: ``import-labels``."""

from __future__ import annotations

from pathlib import Path

from labelapp.cli.arguments import Subparsers, add_command, add_json, add_project, positive_int


def add_commands(sub: Subparsers) -> None:
    _export_model(sub)
    _predict(sub)
    _export_heatmaps(sub)
    _export_labels(sub)
    _import_labels(sub)


def _export_model(sub: Subparsers) -> None:
    p = add_command(sub, "export-model", summary="export the classifier or the defect detector as TorchScript"
                                                 " or ONNX (checked against the app)", description="""\
Writes a trained model into OUT as one file that runs without the project and without \
labelapp: model.pt (TorchScript) or model.onnx, model_card.json (what the model is, its \
input contract, its metrics, the model file's sha256) and, for the classifier, \
classes.txt (one class name per line, in output order). The exported file is loaded back \
and run on SAMPLE project images beside the app's own model first; nothing is written \
unless the two agree within the tolerance.

The classifier takes square gray images at its input size and gives class \
probabilities; the defect detector takes gray images of any size at its working scale \
and gives the defect probability and a heat map. Prints the files written and how \
closely the exported model matches the app.""", epilog="""\
examples:
  labelapp export-model ./demo --format torchscript --out ./model
  labelapp export-model ./demo --model detector --format onnx --out ./detector""")
    add_project(p)
    p.add_argument("--model", choices=("classifier", "detector"), default=None,
                   help="classifier (default): square input, class probabilities; detector: the defect detector,"
                        " any image size at its scale, the defect probability and a heat map (--run of a"
                        " detector run implies it)")
    p.add_argument("--run", type=int, metavar="ID", help="the run (default: the model's newest finished one)")
    p.add_argument("--format", choices=("torchscript", "onnx"), required=True,
                   help="torchscript: model.pt (needs torch); onnx: model.onnx (needs the 'export' extra:"
                        " pip install '.[export]')")
    p.add_argument("--out", type=Path, required=True, metavar="OUT", help="the folder to write into")
    p.add_argument("--sample", type=positive_int, default=32, metavar="N",
                   help="project images the exported model is checked on (default 32)")
    p.add_argument("--tolerance", type=float, default=1e-4, metavar="X",
                   help="largest accepted difference in a probability or heat-map cell (default 1e-4)")
    add_json(p, "{model, format, run, out, files, bytes, sha256, parity, seconds}")


def _predict(sub: Subparsers) -> None:
    p = add_command(sub, "predict", summary="classify image files, or find their defects, with an exported"
                                            " model (no project needed)", description="""\
Runs a model written by export-model on image files, without a project. Prints one \
tab-separated line per image as it goes: with a classifier, path, class, confidence \
(0..1); with a defect detector, path, defect probability (0..1), and "defective" or "OK" \
(a detector that is not validated says where the probability lies against its threshold \
instead: it calls nothing defective). Unreadable files are reported on stderr and \
skipped. Exit status 0 when at least one image was predicted, 1 when none could be.""", epilog="""\
examples:
  labelapp predict ./model /data/new/*.png
  labelapp predict ./detector /data/new --heatmaps ./heat""")
    p.add_argument("model_dir", type=Path, metavar="MODEL_DIR", help="a folder written by export-model")
    p.add_argument("images", type=Path, nargs="+", metavar="IMAGE",
                   help="image files, or folders of them (their .png .jpg .jpeg .bmp .tif .tiff files, sub-folders"
                        " included)")
    p.add_argument("--batch", type=positive_int, default=32, metavar="N",
                   help="images per batch of a classifier (default 32); a detector takes them one by one")
    p.add_argument("--heatmaps", type=Path, metavar="DIR",
                   help="an exported detector: write <stem>-heatmap.png per image into DIR, gray (0 no defect,"
                        " 255 sure), the size of the image")
    add_json(p, "every probability")


def _export_heatmaps(sub: Subparsers) -> None:
    p = add_command(sub, "export-heatmaps", summary="write the defect detector's heat maps as PNGs, with a CSV of"
                                                    " defect probabilities", description="""\
Writes the heat map of every image the defect detector's run predicted into OUT: \
<stem>-heatmap.png, gray (0 no defect, 255 sure), the size of the image; with --overlay \
also <stem>-overlay.png, the image with the heat map drawn over it in the window's \
colour scale. Stems that repeat get -2, -3, ...

OUT/defect_probabilities.csv lists the written images, one row each, comma-separated, \
with a header row and these columns:

  image               the image's path as the project stores it
  heatmap             the PNG's file name in OUT
  defect_probability  0..1
  threshold           the run's decision threshold (the same in every row); empty when
                      the detector is not validated
  defective           1 at or above the threshold, 0 below; empty when the detector is
                      not validated (it calls nothing defective then)

Prints how many heat maps were written, and how many images got none and why (images \
imported after the run have none until the next `labelapp train`).""", epilog="""\
example:
  labelapp export-heatmaps ./demo --out ./heat --only defective --overlay""")
    add_project(p)
    p.add_argument("--out", type=Path, required=True, metavar="OUT", help="the folder to write into")
    p.add_argument("--run", type=int, metavar="ID", help="the defect-detector run (default: the newest)")
    p.add_argument("--only", choices=("all", "defective"), default="all",
                   help="all (default): every image the run predicted; defective: only those at or above the"
                        " run's threshold (a validated detector only)")
    p.add_argument("--overlay", action="store_true",
                   help="also write the image with the heat map blended in (<stem>-overlay.png)")
    add_json(p, "{run, out, images, csv, threshold, without_heatmap, below_threshold, skipped}")


def _export_labels(sub: Subparsers) -> None:
    p = add_command(sub, "export-labels", summary="export labels as a CSV, class folders, mask PNGs, COCO, YOLO,"
                                                  " Pascal VOC or labelme", description="""\
Writes the project's labels to OUT in one of these formats (--format):

csv (default): one file, OUT itself when it ends in .csv, else OUT/labels.csv; \
comma-separated, a header row, one row per image (unlabeled ones too) with the \
columns path (as the project stores it), class (blank when unlabeled), kind (ok or \
defect), mask (the exported mask PNG, relative to the CSV: the masks are written \
beside it, into masks/, or NAME-masks/ for OUT = NAME.csv; "empty" for a mask without \
defect pixels; blank for none), mask_pixels, labeled_by, labeled_at (ISO 8601, UTC).

folders: a copy of each labeled image in OUT/<class>/, the layout that `labelapp \
import --labels-from-folders` reads back. Unlabeled images are left out; two images \
of one name get -<id> added.

masks: a palette PNG for each image with a mask (pixel 0 background, k the class with \
id k) under the image's own relative path in OUT, OUT/index.csv (image, mask, pixels: \
the mask's defect pixels) and OUT/classes.csv (id, name, kind, color).

coco: OUT/annotations.json and the images in OUT/images/. One annotation per \
connected region of a mask, with area and bbox, as RLE (--polygons: polygons; a region \
with holes stays RLE). Extra fields: categories[].kind and .color, images[].has_mask, \
and image_labels, a list of {image_id, category_id} for the image-level labels.

yolo: OUT/data.yaml (names; kinds and colors beside them), the images in \
OUT/images/ and OUT/labels/<image>.txt with a polygon per region (class index, then \
x y pairs as fractions of the image size; holes are not kept); OUT/image_labels.csv \
(image, class) for the image-level labels.

voc: OUT/SegmentationClass/<image>.png (palette PNG, k = k-th class of \
OUT/class_names.txt), OUT/JPEGImages/ (the images, in their own format), \
OUT/ImageSets/Segmentation/trainval.txt, OUT/classes.csv (index, name, kind, color) \
and the image-level labels as OUT/ImageSets/Main/<class>_trainval.txt (1 / -1).

labelme: OUT/<image> and OUT/<image>.json per image: a polygon shape per region (holes \
as _background_ shapes after it), the image-level class as the one flag set.

Prints how many images were exported, and how many were left out and why.""", epilog="""\
examples:
  labelapp export-labels ./demo labels.csv
  labelapp export-labels ./demo ./by-class --format folders
  labelapp export-labels ./demo ./coco --format coco --polygons""")
    add_project(p)
    p.add_argument("out", type=Path, metavar="OUT", help="a .csv file or a folder (csv), a folder (the others)")
    p.add_argument("--format", choices=("csv", "folders", "masks", "coco", "yolo", "voc", "labelme"), default="csv",
                   help="csv (default): one row per image; folders: labeled images copied into a folder per"
                        " class; masks: the masks as PNGs with an index; coco, yolo, voc, labelme: the formats of"
                        " those tools (details above)")
    p.add_argument("--polygons", action="store_true", help="coco: masks as polygons instead of RLE")
    add_json(p, "{format, out, images, left_out, skipped_missing}")


def _import_labels(sub: Subparsers) -> None:
    p = add_command(sub, "import-labels", summary="import image labels and masks from COCO, YOLO, Pascal VOC or"
                                                  " labelme files", description="""\
Reads labels written by another tool (or by export-labels) from PATH and sets the \
image-level labels and masks of the project's images they name. Images are matched by \
their relative path, else by file name when only one project image has it; images the \
project does not have are listed and left out. Classes the file names and the project \
lacks are added (with their kind and colour where the file has them). An image's label \
or mask that the file does not mention is left as it is.

PATH is the folder export-labels wrote (or, for coco, the JSON file). Everything is \
read and checked first: a file that cannot be read, a mask of the wrong size, a shape \
that is not a region, or a path that leads outside the imported folder, the project and \
the folders of its images stops the import with a message, and nothing is imported.""",
                    epilog="""\
examples:
  labelapp import-labels ./project ./coco --format coco
  labelapp import-labels ./project ./labelme-folder --format labelme""")
    add_project(p)
    p.add_argument("path", type=Path, metavar="PATH", help="the folder (or COCO JSON file) to read")
    p.add_argument("--format", choices=("coco", "yolo", "voc", "labelme"), required=True,
                   help="the layout of PATH, as export-labels writes it (see its --help)")
    add_json(p, "{format, path, images, labels, masks, classes_added, unmatched}")
