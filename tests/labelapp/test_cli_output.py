"""What the command line writes, read as a new user and a script read it: a pipe closed
early, the CSV a spreadsheet opens, what an export left out, each command's help, the
progress bars, and the action an error names."""

from __future__ import annotations

import argparse
import io
import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.store import NeedsTrainingError, Project, RunKind
from labelapp.cli.parser import BROKEN_PIPE_EXIT, build_parser, main
from labelapp.cli.progress import Bars

HEATMAP_COLUMNS = "image,heatmap,defect_probability,threshold,defective"


def cli(*args: object, stdout: int | None = subprocess.PIPE, unbuffered: bool = False) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # as a user runs it: stdout buffered
    env.update({"PYTHONPATH": os.getcwd(), **({"PYTHONUNBUFFERED": "1"} if unbuffered else {})})
    return subprocess.run([sys.executable, "-m", "labelapp", *map(str, args)], stdout=stdout, stderr=subprocess.PIPE,
                          text=True, timeout=120, env=env)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 demo images at 48 px, no labels, no runs."""
    from core.demo_project import create_demo_project

    root = tmp_path_factory.mktemp("cli-output") / "p"
    create_demo_project(root, n_images=6, size=48, workers=1)
    return root


@pytest.fixture()
def detector_project(segdec_project: Path, tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(segdec_project, root)
    return root


# -- a reader that goes away ------------------------------------------------------------------------
@pytest.mark.parametrize(("args", "unbuffered"), [
    (("status", "{p}"), False), (("status", "{p}"), True), (("status", "{p}", "--json"), False),
    (("--help",), False), (("export-labels", "--help"), False), (("suggest", "{p}", "--json"), False)])
def test_a_reader_that_went_away_ends_the_command_quietly(small: Path, args: tuple[str, ...],
                                                          unbuffered: bool) -> None:
    """stdout is a pipe whose reader is gone before the first write (what `| head -4` is
    once head has its lines): no traceback, the exit status of a SIGPIPE, whether the
    write fails at a print (unbuffered) or at the final flush, after help or an error."""
    read, write = os.pipe()
    os.close(read)
    try:
        result = cli(*(a.format(p=small) for a in args), stdout=write, unbuffered=unbuffered)
    finally:
        os.close(write)
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr  # nor "Exception ignored"
    assert result.returncode == BROKEN_PIPE_EXIT == 141


def test_status_piped_into_head(small: Path) -> None:
    result = subprocess.run(["bash", "-c", f'"{sys.executable}" -m labelapp status "{small}" | head -2;'
                                           ' echo "status=${PIPESTATUS[0]}" >&2'],
                            capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert result.stdout.splitlines() == [str(small.absolute()), "  images           6"]
    assert "Traceback" not in result.stderr and "Error" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] in ("status=0", "status=141")  # 0: head read before closing


# -- the CSV of defect probabilities ----------------------------------------------------------------------
def test_the_defect_probability_csv_has_stable_columns_plain_newlines_and_the_threshold(
        detector_project: Path, tmp_path: Path, validate_detector, capsys) -> None:
    assert main(["export-heatmaps", str(detector_project), "--out", str(tmp_path / "raw")]) == 0
    data = (tmp_path / "raw" / "defect_probabilities.csv").read_bytes()
    assert b"\r" not in data
    lines = data.decode().splitlines()
    assert lines[0] == HEATMAP_COLUMNS and len(lines) == 1 + 42
    assert all(line.endswith(",,") for line in lines[1:])  # not validated: no threshold, nothing defective

    with Project.open(detector_project) as project:
        threshold = validate_detector(project)
        probability = project.predictions.defect_probabilities(project.runs.latest(RunKind.SEGDEC).id)
        path_of = {image.path: image.id for image in project.images.list()}
    assert main(["export-heatmaps", str(detector_project), "--out", str(tmp_path / "validated")]) == 0
    lines = (tmp_path / "validated" / "defect_probabilities.csv").read_bytes().decode().splitlines()
    assert lines[0] == HEATMAP_COLUMNS  # the same names whatever the threshold
    rows = [line.split(",") for line in lines[1:]]
    assert {row[3] for row in rows} == {f"{threshold:.6f}"}  # its own column, every row
    for image, _heatmap, p, _threshold, defective in rows:
        assert float(p) == pytest.approx(probability[path_of[image]], abs=1e-6)
        assert defective == str(int(probability[path_of[image]] >= threshold))
    assert {row[4] for row in rows} == {"0", "1"}
    capsys.readouterr()


# -- what an export left out --------------------------------------------------------------------------------
def test_export_heatmaps_says_how_many_images_have_none_and_why(detector_project: Path, tmp_path: Path,
                                                                capsys) -> None:
    from core.demo import write_dataset

    later = write_dataset(tmp_path / "later", n_images=3, seed=5, size=64, layout="flat", workers=1)
    assert main(["import", str(detector_project), str(later.root / "images"), "--workers", "1", "--json"]) == 0
    capsys.readouterr()
    assert main(["export-heatmaps", str(detector_project), "--out", str(tmp_path / "heat")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"wrote 42 heat maps of run 1 and defect_probabilities.csv to {tmp_path / 'heat'}"
    assert lines[1] == (f"  3 images have no heat map: imported after run 1 started (`labelapp train"
                        f" {detector_project}` trains a detector that covers them)")
    assert main(["export-heatmaps", str(detector_project), "--out", str(tmp_path / "heat"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["images"] == 42 and data["without_heatmap"] == {"imported_after_the_run": 3, "not_predicted": 0}


def test_export_labels_says_what_a_format_leaves_out(small: Path, tmp_path: Path, capsys) -> None:
    root = tmp_path / "p"
    shutil.copytree(small, root)
    with Project.open(root) as project:
        first = project.images.list()[0]
        project.labels.set(first.id, project.classes.ok_class(), actor="t", source="test")
    assert main(["export-labels", str(root), str(tmp_path / "folders"), "--format", "folders"]) == 0
    assert capsys.readouterr().out.strip() == (
        f"exported 1 image as folders to {tmp_path / 'folders'}; 5 unlabeled images left out")
    assert main(["export-labels", str(root), str(tmp_path / "masks"), "--format", "masks"]) == 0
    assert capsys.readouterr().out.strip().endswith("; 6 images without a mask left out")


# -- the action an error names --------------------------------------------------------------------------------
def test_each_interface_names_its_own_way_to_train(small: Path, capsys) -> None:
    from labelapp.widgets.errors import error_text

    assert main(["export-heatmaps", str(small), "--out", str(small / "heat")]) == 2
    err = capsys.readouterr().err
    assert err.strip() == ("labelapp: error: no defect-detector run yet (it needs labeled OK and defective images);"
                           f" run `labelapp train {small}` first")
    error = pickle.loads(pickle.dumps(NeedsTrainingError("no finished classifier run", needs=RunKind.CLASSIFIER)))
    assert error.needs is RunKind.CLASSIFIER  # it crosses from the training process as itself
    assert error_text(error) == "no finished classifier run; press Retrain (Ctrl+R) first"


# -- help -------------------------------------------------------------------------------------------------------
def _commands() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_every_command_describes_itself_and_every_option() -> None:
    commands = _commands()
    assert len(commands) == 15
    for name, parser in commands.items():
        assert parser.description and len(parser.description) > 80, name
        for action in parser._actions:
            if not isinstance(action, argparse._HelpAction):
                assert action.help and len(action.help) > 10, (name, action.dest)
        parser.format_help()  # every %-escape and metavar formats


def test_export_help_names_every_format_and_column() -> None:
    from core.export.heatmaps import CSV_COLUMNS as HEATMAP_CSV
    from core.export.labels import CSV_COLUMNS as LABELS_CSV

    commands = _commands()
    text = " ".join(commands["export-labels"].format_help().split())
    for word in ("csv (default):", "folders:", "masks:", "index.csv", "classes.csv", *LABELS_CSV, "coco:", "yolo:",
                 "voc:", "labelme:", "image_labels", "data.yaml"):
        assert word in text
    text = commands["export-heatmaps"].format_help()
    assert all(column in text for column in HEATMAP_CSV) and "defect_probabilities.csv" in text


# -- progress ----------------------------------------------------------------------------------------------
class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bars_follow_one_another_with_the_right_units() -> None:
    screen = Terminal()
    bars = Bars(quiet=False, stream=screen)
    for phase, unit, total in (("generate", "image", 3), ("pretraining", "batch", 2), ("defect detector", "", 1000)):
        for done in range(0, total + 1, max(1, total // 2)):
            bars.update(phase, done, total, unit)
    bars.close()
    text = screen.getvalue()
    assert "\x1b[A" not in text  # no bar moves the cursor up to redraw over another
    assert "3/3" in text and "image/s" in text and "batch/s" in text and "img" not in text
    assert "defect detector: 100%" in text and "/1000" not in text  # a share of a budget: a percentage

    log = io.StringIO()  # not a terminal: one line per finished phase, no carriage returns
    bars = Bars(quiet=False, stream=log)
    phases = (("decoding images", "image", 40), ("pretraining", "batch", 1), ("suggestions", "step", 1))
    for phase, unit, total in phases:
        bars.update(phase, total, total, unit)
    bars.close()
    lines = log.getvalue().splitlines()
    assert [line.rsplit(",", 1)[0] for line in lines] == [
        "decoding images: 40 of 40 images", "pretraining: 1 of 1 batch", "suggestions: 1 of 1 step"]
    assert "\r" not in log.getvalue()
    quiet = io.StringIO()
    Bars(quiet=True, stream=quiet).update("x", 1, 2, "image")
    assert quiet.getvalue() == ""
