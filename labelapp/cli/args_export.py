"""Arguments and help of the commands that take labels and models out of a project:
``export-model``, ``predict``, ``export-heatmaps``, ``export-labels``."""

from __future__ import annotations

from pathlib import Path

from labelapp.cli.arguments import Subparsers, add_command, add_json, add_project, positive_int


def add_commands(sub: Subparsers) -> None:
    _export_model(sub)
    _predict(sub)
    _export_heatmaps(sub)
    _export_labels(sub)


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
    p = add_command(sub, "export-labels", summary="export labels as a CSV, class folders or mask PNGs",
                    description="""\
Writes the project's labels to OUT in one of three formats (--format):

csv (default): one file, OUT itself when it ends in .csv, else OUT/labels.csv; \
comma-separated, a header row, one row per image (unlabeled ones too) with the \
columns path (as the project stores it), class (blank when unlabeled), kind (ok or \
defect), mask (the project's mask file; "empty" for a mask without defect pixels; \
blank for none), mask_pixels, labeled_by, labeled_at (ISO 8601, UTC).

folders: a copy of each labeled image in OUT/<class>/, the layout that `labelapp \
import --labels-from-folders` reads back. Unlabeled images are left out; two images \
of one name get -<id> added.

masks: a palette PNG for each image with a mask (pixel 0 background, k the class with \
id k) under the image's own relative path in OUT, OUT/index.csv (image, mask, pixels: \
the mask's defect pixels) and OUT/classes.csv (id, name, kind, color).

Prints how many images were exported, and how many were left out and why.""", epilog="""\
examples:
  labelapp export-labels ./demo labels.csv
  labelapp export-labels ./demo ./by-class --format folders""")
    add_project(p)
    p.add_argument("out", type=Path, metavar="OUT", help="a .csv file or a folder (csv), a folder (folders, masks)")
    p.add_argument("--format", choices=("csv", "folders", "masks"), default="csv",
                   help="csv (default): one row per image; folders: labeled images copied into a folder per"
                        " class; masks: the masks as PNGs with an index (details above)")
    add_json(p, "{format, out, images, left_out, skipped_missing}")
