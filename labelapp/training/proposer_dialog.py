"""The "Propose masks" dialog: which mask proposer to train, how long, for which images.

It shows the OK and defective labels the proposer would learn from and says, before
anything runs, how many more of each make proposals worth reviewing (the thresholds of
:mod:`core.proposals.request`); with too few to train at all, Start stays off. A
training of the chosen method that was interrupted (cancelled, or the window closed)
can be resumed from its checkpoint. The dialog only asks: Start emits the choice
(:class:`ProposerChoice`) and :mod:`labelapp.training.proposer_start` builds the job.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from core.proposals.request import PRESET_TRAIN, labels_advice, too_few
from labelapp.training.wording import duration

WARNING_COLOR = "#D55E00"
# (method, plain name, the paper's term and what it does)
METHOD_WORDS = (
    ("isugan", "Repair network (ISU-GAN)",
     "ISU-GAN (paper 003): a CycleGAN with SE attention, involution and skip connections learns to turn defective "
     "images into defect-free ones from the OK and defective labels alone. The proposal is where an image differs "
     "from its repair (SSIM map, Otsu's cut, a floor learned from OK images)."),
    ("cyclegan", "Repair network, plain (CycleGAN)",
     "The same repair network without SE attention, involution and skips: the plain-CycleGAN ablation of paper 003. "
     "A little faster per step."),
    ("patchcore", "Compare with OK patches (nearest neighbour)",
     "PatchCore-style nearest neighbours: every patch of an image is compared with the closest patch of the OK "
     "images; what matches none is proposed. Learns from the OK images alone (the defective ones set its threshold) "
     "and trains no network: about a minute. The preset does not apply."),
)
# Seconds per training step on a CPU with one thread (other jobs sharing a 2-core machine):
# benchmarks/proposals_bench.py --speed 3 --threads 1, ISU-GAN / CycleGAN.
CPU_S_PER_STEP = {"quick": {"isugan": 0.95, "cyclegan": 0.65}, "standard": {"isugan": 2.25, "cyclegan": 2.1},
                  "paper": {"isugan": 6.6, "cyclegan": 4.9}}
PRESET_WORDS = {
    "quick": ("Quick", "small networks (16 wide), 128 px crops, {steps} steps"),
    "standard": ("Standard", "twice as wide (32), 128 px crops, {steps} steps"),
    "paper": ("Paper's settings (for a GPU)", "paper 003: 64 wide, 9 residual blocks, 256 px crops, 100 epochs "
                                              "({steps} steps here)"),
}
SCOPE_WORDS = (
    ("defective", "The labeled defective images",
     "A proposal for every image labeled defective (and the held-out OK images, which should propose nothing)."),
    ("predicted", "…and those the defect detector calls defective",
     "Also the unlabeled images a validated defect detector calls defective, to review and label them faster."),
    ("all", "Every image", "A proposal for every image of the project: slower, and most OK images propose nothing."),
)


@dataclass(frozen=True)
class ProposerChoice:
    """What the user chose: a method of :data:`core.proposals.METHODS`, a preset, a scope,
    and whether to resume the interrupted training of that method."""

    method: str
    preset: str
    scope: str
    resume: bool


def preset_steps(preset: str, ok: int, defective: int) -> int:
    """The training steps of ``preset`` for these label counts (paper: 100 epochs of the larger side)."""
    steps = PRESET_TRAIN[preset]["steps"]
    return steps or 100 * max(ok, defective, 1)


def estimate(method: str, preset: str, ok: int, defective: int) -> str:
    """"about 30 min on a CPU": how long training takes (the measured seconds per step)."""
    if method == "patchcore":
        return "about a minute"
    seconds = CPU_S_PER_STEP[preset][method] * preset_steps(preset, ok, defective)
    return f"about {duration(seconds, coarse=True)} on a CPU, much less on a GPU"


class ProposerDialog(QDialog):
    """Asks for a mask-proposer run.

    ``ok`` / ``defective``: the labeled images of each kind; ``resumable``: method ->
    a line saying when its interrupted training stopped (methods without one absent);
    ``detector_note``: why the defect detector's calls cannot widen the scope, or "".

    Signals:
        start_requested(object): the :class:`ProposerChoice` to run.
    """

    start_requested = Signal(object)

    def __init__(self, ok: int, defective: int, *, resumable: dict[str, str] | None = None,
                 detector_note: str = "", method: str = "isugan", preset: str = "quick",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("proposer_dialog")
        self.setWindowTitle("Propose masks")
        self._ok, self._defective = ok, defective
        self._resumable = dict(resumable or {})
        self.method_box = QComboBox(objectName="proposer_method")
        for key, text, tip in METHOD_WORDS:
            self.method_box.addItem(text, key)
            self.method_box.setItemData(self.method_box.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.preset_box = QComboBox(objectName="proposer_preset")
        for key, (text, _what) in PRESET_WORDS.items():
            self.preset_box.addItem(text, key)
        self.scope_box = QComboBox(objectName="proposer_scope")
        for key, text, tip in SCOPE_WORDS:
            self.scope_box.addItem(text, key)
            self.scope_box.setItemData(self.scope_box.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.scope_box.setToolTip("Which images get a proposal to review in the Proposals dock")
        if detector_note:  # no validated detector: its calls add nothing
            self.scope_box.setItemData(1, f"{SCOPE_WORDS[1][2]} Now: {detector_note}", Qt.ItemDataRole.ToolTipRole)
        self.preset_label = QLabel(objectName="proposer_preset_note")
        self.preset_label.setWordWrap(True)
        self.counts_label = QLabel(objectName="proposer_counts")
        self.counts_label.setWordWrap(True)
        self.warning_label = QLabel(objectName="proposer_warning")
        self.warning_label.setWordWrap(True)
        self.warning_label.setStyleSheet(f"color: {WARNING_COLOR}")
        self.resume_box = QCheckBox(objectName="proposer_resume")
        self.resume_box.setChecked(True)
        self.resume_box.setToolTip("Continue the interrupted training from its last checkpoint when its settings are"
                                   " the same as these; off: train afresh")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.start_button = self.buttons.addButton("Start training", QDialogButtonBox.ButtonRole.AcceptRole)
        self.start_button.setObjectName("proposer_start")
        self._layout()
        self.method_box.setCurrentIndex(max(0, self.method_box.findData(method)))
        self.preset_box.setCurrentIndex(max(0, self.preset_box.findData(preset)))
        self.method_box.currentIndexChanged.connect(self._refresh)
        self.preset_box.currentIndexChanged.connect(self._refresh)
        self.buttons.accepted.connect(self._on_buttons_accepted)
        self.buttons.rejected.connect(self.reject)
        self._refresh()

    def _layout(self) -> None:
        intro = QLabel("A mask proposer learns from your OK and defective image labels where the defects are, and "
                       "proposes a mask for every defective image; review them in the Proposals dock (Enter "
                       "accepts, E edits, Backspace rejects).")
        intro.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Method", self.method_box)
        form.addRow("Preset", self.preset_box)
        form.addRow("", self.preset_label)
        form.addRow("Propose for", self.scope_box)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.counts_label)
        layout.addWidget(self.warning_label)
        layout.addWidget(self.resume_box)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(460)

    def method(self) -> str:
        return str(self.method_box.currentData())

    def choice(self) -> ProposerChoice:
        method = self.method()
        return ProposerChoice(method=method, preset=str(self.preset_box.currentData()),
                              scope=str(self.scope_box.currentData()),
                              resume=self.resume_box.isChecked() if method in self._resumable else True)

    @Slot()
    def _refresh(self) -> None:
        """The preset's words and time, the counts and the warning, the resume box: for the method chosen."""
        method, preset = self.method(), str(self.preset_box.currentData())
        ok, defective = self._ok, self._defective
        gan = method != "patchcore"
        self.preset_box.setEnabled(gan)
        for index in range(self.preset_box.count()):
            key = self.preset_box.itemData(index)
            what = PRESET_WORDS[key][1].format(steps=f"{preset_steps(key, ok, defective):,}")
            self.preset_box.setItemData(index, f"{what}: {estimate(method if gan else 'isugan', key, ok, defective)}",
                                        Qt.ItemDataRole.ToolTipRole)
        what = PRESET_WORDS[preset][1].format(steps=f"{preset_steps(preset, ok, defective):,}")
        self.preset_label.setText(f"{what}; {estimate(method, preset, ok, defective)}." if gan
                                  else f"No network to train: {estimate(method, preset, ok, defective)}.")
        self.counts_label.setText(f"Labeled: {ok} OK and {defective} defective image{'s' if defective != 1 else ''}.")
        blocked = too_few(ok, defective)
        advice = blocked or labels_advice(ok, defective, method)
        self.warning_label.setText(advice[:1].upper() + advice[1:] + "." if advice else "")
        self.warning_label.setVisible(bool(advice))
        self.start_button.setEnabled(blocked is None)
        self.start_button.setToolTip(blocked[:1].upper() + blocked[1:] if blocked else "")
        stopped = self._resumable.get(method)
        self.resume_box.setVisible(stopped is not None)
        self.resume_box.setText(f"Resume the interrupted training ({stopped})" if stopped else "")

    def warning(self) -> str:
        """The warning on screen ("" when none)."""
        return self.warning_label.text() if not self.warning_label.isHidden() else ""

    @Slot()
    def _on_buttons_accepted(self) -> None:
        if not self.start_button.isEnabled():
            return
        self.start_requested.emit(self.choice())
        self.accept()
