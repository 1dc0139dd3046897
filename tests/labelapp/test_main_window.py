"""The first project window on a real project built in a temporary folder."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import QFileDialog, QLabel, QTableWidget

from core.importing import ImportOptions, import_folder
from core.store import ClassKind, NewImage, Project
from labelapp.app import create_main_window
from labelapp.image_list_model import PLACEHOLDER_COLOR, ImageListModel
from labelapp.main_window import MainWindow

ACTOR = "test"
# class sub-folder (None: the folder root, unlabeled) -> gray levels of its images
GRAYS: dict[str | None, tuple[int, ...]] = {
    "ok": (200, 210, 220),
    "scratch": (40, 50),
    "inclusion": (90,),
    None: (130, 140),
}
NO_THUMBNAIL = "elsewhere/no_thumbnail.png"


@dataclass(frozen=True)
class SampleProject:
    path: Path
    name: str


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleProject:
    """9 images: 3 ok, 2 scratch, 1 inclusion (class made by the import), 2 unlabeled,
    1 without a cached thumbnail; 2 masks (1 non-empty) and 1 run."""
    root = tmp_path_factory.mktemp("sample")
    source = root / "source"
    for folder, grays in GRAYS.items():
        target = source / folder if folder else source
        target.mkdir(parents=True, exist_ok=True)
        for gray in grays:
            PILImage.new("L", (64, 48), color=gray).save(target / f"{folder or 'loose'}_{gray}.png")
    project = Project.create(root / "steel-line-3")
    project.classes.add("ok", kind=ClassKind.OK, actor=ACTOR, source="test")
    project.classes.add("scratch", kind=ClassKind.DEFECT, actor=ACTOR, source="test")
    report = import_folder(project, source, ImportOptions(labels_from_folders=True, workers=1))
    assert report.added == 8 and report.classes_created == ["inclusion"]
    project.images.add_many([NewImage(path=NO_THUMBNAIL, hash="f" * 32, width=100, height=50, channels=1,
                                      bit_depth=8, mode="L", gray=True, file_size=1, mtime=0.0)])
    scratch = project.images.find("scratch_40.png")
    mask = np.zeros((48, 64), dtype=np.uint8)
    mask[10:20, 10:30] = project.classes.get("scratch").id
    project.masks.save(scratch.id, mask, actor=ACTOR, source="test")
    project.masks.save(project.images.find("ok_200.png").id, np.zeros_like(mask), actor=ACTOR, source="test")
    project.runs.start(method="segdec", config={}, label_snapshot={}, seed=0)
    name = project.name
    project.close()
    return SampleProject(path=root / "steel-line-3", name=name)


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, settings: QSettings, sample: SampleProject) -> MainWindow:
    win = MainWindow(settings=settings)
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.project_opened, timeout=5000):
        assert win.open_project(sample.path)
    return win


def row_of(model: ImageListModel, file_name: str) -> int:
    names = [model.data(model.index(r, 0), Qt.ItemDataRole.DisplayRole) for r in range(model.rowCount())]
    return names.index(file_name)


def center_color(pixmap: QPixmap) -> QColor:
    image = pixmap.toImage()
    return image.pixelColor(image.width() // 2, image.height() // 2)


def test_window_title_names_the_project(window: MainWindow, sample: SampleProject) -> None:
    assert window.windowTitle() == f"labelapp — {sample.name}"
    assert window.project is not None and window.project.root == sample.path


def test_model_has_one_row_per_image(window: MainWindow) -> None:
    assert window.model.rowCount() == 9
    assert window.view.model() is window.model
    captions = {window.model.data(window.model.index(r, 0)) for r in range(9)}
    assert {"ok_200.png", "scratch_40.png", "loose_130.png", "no_thumbnail.png"} <= captions


def test_summary_dock_shows_the_counts(window: MainWindow) -> None:
    assert window.summary_dock.windowTitle() == "Project"
    assert window.summary_dock.isAncestorOf(window.findChild(QLabel, "summary_images"))
    texts = {key: window.findChild(QLabel, f"summary_{key}").text()
             for key in ("images", "labeled", "unlabeled", "ok", "defect", "masks", "runs")}
    assert texts == {
        "images": "9", "labeled": "6 (67 %)", "unlabeled": "3 (33 %)", "ok": "3", "defect": "3",
        "masks": "2 (1 non-empty)", "runs": "1",
    }
    table = window.findChild(QTableWidget, "summary_classes")
    rows = [tuple(table.item(r, c).text() for c in range(4)) for r in range(table.rowCount())]
    assert rows == [
        ("ok", "ok", "0", "3"), ("scratch", "defect", "1", "2"), ("inclusion", "defect", "2", "1"),
    ]
    assert not table.item(0, 0).icon().isNull()
    assert window.counts_label.text() == "9 images · 6 labeled"


def test_cached_thumbnail_is_decoded_and_framed_in_the_class_colour(window: MainWindow) -> None:
    model = window.model
    index = model.index(row_of(model, "scratch_40.png"), 0)
    tile = model.data(index, Qt.ItemDataRole.DecorationRole)
    assert isinstance(tile, QPixmap) and not tile.isNull()
    assert abs(center_color(tile).red() - 40) <= 4  # the JPEG of the gray-40 image
    scratch = QColor(window.project.classes.get("scratch").color)
    assert model.data(index, ImageListModel.ClassColorRole) == scratch
    image = tile.toImage()
    frame = [image.pixelColor(x, image.height() // 2) for x in range(image.width())]
    assert scratch in frame  # the border left and right of the thumbnail


def test_missing_thumbnail_shows_a_gray_placeholder(window: MainWindow) -> None:
    model = window.model
    index = model.index(row_of(model, "no_thumbnail.png"), 0)
    tile = model.data(index, Qt.ItemDataRole.DecorationRole)
    assert not tile.isNull()
    assert center_color(tile) == PLACEHOLDER_COLOR
    assert model.data(index, ImageListModel.ClassColorRole) is None


def test_shown_window_paints_the_grid(qtbot, window: MainWindow) -> None:
    window.resize(1000, 700)
    window.show()
    qtbot.waitExposed(window)
    assert window.view.isVisible() and window.summary_dock.isVisible()
    qtbot.waitUntil(lambda: window.view.visualRect(window.model.index(8, 0)).isValid())
    assert not window.grab().isNull()


def test_open_folder_without_project_shows_a_message(qtbot, tmp_path: Path, settings: QSettings,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "not-a-project"
    empty.mkdir()
    win = MainWindow(settings=settings)
    qtbot.addWidget(win)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(empty)))
    win.open_action.trigger()
    assert win.project is None
    assert win.windowTitle() == "labelapp"
    assert "no labelapp project" in win.message.text()
    assert "no labelapp project" in win.statusBar().currentMessage()
    assert win.recent.paths() == []


def test_failed_open_keeps_the_open_project(window: MainWindow, tmp_path: Path,
                                            sample: SampleProject) -> None:
    assert not window.open_project(tmp_path / "missing")
    assert window.project is not None and window.project.root == sample.path
    assert window.model.rowCount() == 9
    assert "no labelapp project" in window.statusBar().currentMessage()


def test_without_a_path_the_most_recent_project_opens(qtbot, settings: QSettings,
                                                       sample: SampleProject, tmp_path: Path) -> None:
    settings.setValue("recent_projects", [str(sample.path), str(tmp_path / "gone")])
    win = create_main_window(None, settings=settings)
    qtbot.addWidget(win)
    assert win.project is not None and win.project.root == sample.path
    win.recent_menu.aboutToShow.emit()
    entries = [a.text() for a in win.recent_menu.actions() if a.text()]
    assert entries[:2] == [str(sample.path), str(tmp_path / "gone")]
    assert not win.recent_menu.actions()[1].isEnabled()  # the folder no longer exists


def test_without_a_path_or_recent_project_the_window_is_empty(qtbot, settings: QSettings,
                                                             tmp_path: Path) -> None:
    settings.setValue("recent_projects", [str(tmp_path / "gone")])
    win = create_main_window(None, settings=settings)
    qtbot.addWidget(win)
    assert win.project is None and win.model.rowCount() == 0
    assert "Open Project" in win.message.text()


def test_closing_the_window_closes_the_project(window: MainWindow) -> None:
    with_project = window.project
    assert with_project is not None
    window.close()
    assert window.project is None and window.model.rowCount() == 0


def test_gui_modules_do_not_import_torch() -> None:
    code = "import sys, labelapp.app; sys.exit('torch' in sys.modules)"
    repo = Path(__file__).resolve().parents[2]
    assert subprocess.run([sys.executable, "-c", code], cwd=repo, check=False).returncode == 0
