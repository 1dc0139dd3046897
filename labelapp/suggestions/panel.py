"""The suggestions panel: the images worth labeling next, best first, each with its rank,
the strategy that picked it and the reason in words (:mod:`core.store.suggestions`).

The panel reads the open suggestions when a project opens and after each retrain or
Refresh (:meth:`SuggestionsPanel.reload`), and drops an image at once when it gets a
label (an undo that clears the label brings it back). Refresh recomputes the set with
the strategy chosen in the panel on a worker thread (:func:`core.active.suggest_job`);
the GUI stays responsive meanwhile.
"""

from __future__ import annotations

import html
import logging
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from core.active import MASK_STRATEGY, STRATEGIES, SuggestRequest, describe, suggest_job
from core.store import Project, StoreError
from core.store.suggestions import Suggestion
from labelapp.jobs.runner import JobRunner
from labelapp.shortcuts.keymap import ShortcutMap, display_text
from labelapp.suggestions.ranked_list import RankedImageList, summary_label
from labelapp.widgets.combos import keep_text_whole
from labelapp.widgets.errors import error_text

logger = logging.getLogger(__name__)
SHOWN = 200  # rows listed at once; N walks every open suggestion
STRATEGY_KEY = "suggestions/strategy"
NEXT_ACTION = "image.next_suggested"
STRATEGY_NAMES = {"default": "Default schedule", "random": "Random", "typicality": "Typicality (cold start)",
                  "kcenter": "K-center (coverage)", "margin": "Margin", "entropy": "Entropy",
                  "least_confidence": "Least confidence", "badge": "BADGE (uncertain and diverse)",
                  "balance": "Class balance"}
NOT_YET = "No suggestions yet: press Retrain (Ctrl+R)."
NEVER = f"{NOT_YET} After each retrain this list shows the images worth labeling next, best first, and why."
ALL_LABELED = "Every suggested image is labeled: Refresh for more."
LISTED = ("<b>{n}</b> image{s} to label next, best first · picked by {strategies} · computed {when}{run}. "
          "Double-click, Enter or <b>{key}</b> opens the next.")
BUSY = "Computing suggestions ({strategy})…"


class SuggestionsPanel(QWidget):
    """The dock's widget: a header, the strategy chooser with Refresh, and the list.

    Signals:
        image_requested(object): image id to open (double-click or Enter on a row).
        refreshed(object): the number of suggestions a Refresh stored (after :meth:`reload`).
        message(str): a line for the status area (a Refresh finished or failed).
    """

    image_requested = Signal(object)
    refreshed = Signal(object)
    message = Signal(str)

    def __init__(self, settings: QSettings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings if settings is not None else QSettings()
        self._project: Project | None = None
        self._entries: list[Suggestion] = []  # the open suggestions, best first
        self._ranks: dict[int, int] = {}  # image id -> rank in the current set, kept after it is labeled
        self._created_at: str | None = None
        self._runner: JobRunner | None = None
        self._busy_strategy: str | None = None  # the strategy a Refresh computes (None: none running)
        self._refresh_root: Path | None = None  # the project it computes for
        self._error = ""
        self.summary = summary_label("suggestions_summary")
        self.strategy_combo = QComboBox(objectName="suggestions_strategy")
        self.strategy_combo.setToolTip("The strategy Refresh and the next retrain use")
        for name in (s for s in STRATEGIES if s != MASK_STRATEGY):
            self.strategy_combo.addItem(STRATEGY_NAMES.get(name, name), name)
            self.strategy_combo.setItemData(self.strategy_combo.count() - 1, describe(name).capitalize(),
                                            Qt.ItemDataRole.ToolTipRole)
        chosen = self.strategy_combo.findData(str(self._settings.value(STRATEGY_KEY, "default")))
        self.strategy_combo.setCurrentIndex(max(0, chosen))
        keep_text_whole(self.strategy_combo)  # the dock may be narrow: its width follows the entry shown
        self.refresh_button = QPushButton("Refresh", objectName="suggestions_refresh")
        self.refresh_button.setToolTip("Compute the suggestions again with this strategy, from the current "
                                       "labels and the latest models (takes a few seconds)")
        self.list = RankedImageList("suggestions_list", "Double-click or Enter: open the image in the editor")
        self._layout()
        self.strategy_combo.activated.connect(self._on_strategy_combo_activated)
        self.refresh_button.clicked.connect(self.refresh)
        self.list.image_activated.connect(self.image_requested)
        self._show_summary()

    def _layout(self) -> None:
        controls = QHBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        controls.addWidget(QLabel("Strategy"))
        controls.addWidget(self.strategy_combo, 1)
        controls.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.summary)
        layout.addLayout(controls)
        layout.addWidget(self.list, 1)

    # -- project ---------------------------------------------------------------------------------
    def set_project(self, project: Project | None) -> None:
        self._project = project
        self._ranks, self._error = {}, ""
        self.list.forget_thumbnails()
        self.reload()

    def reload(self) -> None:
        """Reads the open suggestions again (a project opened, a retrain or Refresh stored a
        new set, or labels changed under the list)."""
        project = self._project
        entries: list[Suggestion] = []
        created_at = None
        if project is not None:
            try:
                entries = project.suggestions.list()
                created_at = project.suggestions.created_at()
            except StoreError as exc:
                logger.warning("cannot read the suggestions: %s", exc)
        if created_at != self._created_at:
            self._ranks = {}
        self._created_at = created_at
        self._entries = entries
        self._ranks.update({s.image_id: s.rank for s in entries})
        self._fill()
        self._show_summary()

    def _fill(self) -> None:
        """Lists the first :data:`SHOWN` entries, keeping the current row's image current."""
        current = self.current_image_id()
        shown = self._entries[:SHOWN]
        self._read_thumbnails([s.image_id for s in shown])
        self.list.clear()
        for suggestion in shown:
            self._add(suggestion)
        if current is not None:
            self.select(current)

    def _read_thumbnails(self, image_ids: list[int]) -> None:
        if self._project is not None:
            self.list.read_thumbnails(self._project, image_ids)

    def _add(self, s: Suggestion) -> None:
        name = self.list.name(s.image_id)
        about = describe(s.strategy) if s.strategy in STRATEGIES else s.strategy
        self.list.add_image(s.image_id, f"#{s.rank} · {name}\n{_capitalised(s.reason)}",  # the strategy: in the tip
                            f"{name}: suggested #{s.rank} by {s.strategy} ({about})\n{s.reason}")

    def _show_summary(self) -> None:
        if self._project is None:
            text = ""
        elif self._created_at is None:
            text = NEVER
        elif not self._entries:
            text = ALL_LABELED
        else:
            strategies = " + ".join(dict.fromkeys(s.strategy for s in self._entries))
            runs = {s.run_id for s in self._entries if s.run_id is not None}
            more = len(self._entries) - self.list.count()
            n = len(self._entries)
            text = LISTED.format(n=n, s="" if n == 1 else "s", strategies=html.escape(strategies),
                                 when=_when(self._created_at),
                                 run=f" from run #{max(runs)}" if runs else "", key=html.escape(self._next_key()))
            if more > 0:
                text += f" The first {self.list.count()} are listed; N goes on through {more} more."
        if self._busy_strategy is not None:
            text = f"<i>{html.escape(BUSY.format(strategy=self._busy_strategy))}</i><br>{text}"
        elif self._error:
            text = f"<span style='color:#c0392b'>{html.escape(self._error)}</span><br>{text}"
        self.summary.setText(text)

    def _next_key(self) -> str:
        return display_text(ShortcutMap(self._settings).keys(NEXT_ACTION)) or "the Next suggested key"

    # -- queries ---------------------------------------------------------------------------------
    def strategy(self) -> str:
        """The strategy chosen in the panel ("default": the default schedule)."""
        return str(self.strategy_combo.currentData())

    def image_ids(self) -> list[int]:
        """Every open suggestion's image id, best first (listed or not)."""
        return [s.image_id for s in self._entries]

    def listed_ids(self) -> list[int]:
        """The image ids of the rows, in order."""
        return self.list.listed_ids()

    def current_image_id(self) -> int | None:
        return self.list.current_image_id()

    def next_after(self, image_id: int | None) -> int | None:
        """The open suggestion after ``image_id`` in rank order (also when ``image_id`` was
        labeled since), wrapping round to the best; the best when ``image_id`` is not in
        the current set. Never ``image_id`` itself; None when no other is open."""
        others = [s for s in self._entries if s.image_id != image_id]
        if not others:
            return None
        rank = self._ranks.get(image_id) if image_id is not None else None
        if rank is not None:
            after = next((s for s in others if s.rank > rank), None)
            if after is not None:
                return after.image_id
        return others[0].image_id

    def is_empty_set(self) -> bool:
        """Whether no suggestions were ever computed for the project."""
        return self._created_at is None

    def is_busy(self) -> bool:
        """Whether a Refresh is computing."""
        return self._runner is not None and self._runner.is_running()

    # -- commands --------------------------------------------------------------------------------
    def select(self, image_id: object) -> None:
        """Makes ``image_id``'s row current when listed; else no row is current."""
        if image_id is None or not self.list.select_image(int(image_id)):  # type: ignore[call-overload]
            self.list.setCurrentRow(-1)

    @Slot()
    def refresh(self) -> None:
        """Computes the suggestions again with the chosen strategy, on a worker thread."""
        project = self._project
        if project is None or self.is_busy():
            return
        request = SuggestRequest(project_root=project.root, strategy=self.strategy())
        runner = JobRunner(lambda cancel: suggest_job(request, cancel), self)
        runner.finished.connect(self._on_runner_finished)
        runner.failed.connect(self._on_runner_failed)
        self._runner = runner
        self._busy_strategy = STRATEGY_NAMES.get(request.strategy, request.strategy)
        self._refresh_root = project.root
        self._error = ""
        self.refresh_button.setEnabled(False)
        self._show_summary()
        runner.start()

    def shutdown(self) -> None:
        """Waits for a Refresh in progress and stops the thumbnail loader (call from the
        window's closeEvent)."""
        if self._runner is not None:
            self._runner.cancel()
            self._runner.wait()
        self.list.shutdown()

    # -- changes ---------------------------------------------------------------------------------
    @Slot(object)
    def on_labels_changed(self, image_ids: object) -> None:
        """Drops images labeled now; reads the list again when a cleared label re-opens one."""
        project = self._project
        if project is None or self._created_at is None:
            return
        changed = [int(i) for i in image_ids]  # type: ignore[attr-defined]
        open_ids = set(self.image_ids())
        try:
            labeled = [i for i in changed if i in open_ids and project.labels.get(i) is not None]
            reopened = any(i not in open_ids and i in self._ranks and project.labels.get(i) is None
                           for i in changed)
        except StoreError as exc:
            logger.warning("cannot read labels: %s", exc)
            return
        if reopened:
            self.reload()
        elif labeled:
            self._drop(labeled)

    def _drop(self, image_ids: list[int]) -> None:
        drop = set(image_ids)
        self._entries = [s for s in self._entries if s.image_id not in drop]
        self.list.remove_images(drop)
        following = self._entries[self.list.count():SHOWN]  # rows that move up into the listed part
        self._read_thumbnails([s.image_id for s in following])
        for suggestion in following:
            self._add(suggestion)
        self._show_summary()

    # -- slots -----------------------------------------------------------------------------------
    @Slot(int)
    def _on_strategy_combo_activated(self, _position: int) -> None:
        self._settings.setValue(STRATEGY_KEY, self.strategy())

    @Slot(object)
    def _on_runner_finished(self, stored: object) -> None:
        strategy, root = self._end_refresh()
        if self._project is None or self._project.root != root:
            return  # the project changed meanwhile: its panel reads its own suggestions
        count = len(stored) if isinstance(stored, list) else 0
        self.reload()
        self.message.emit(f"{count} suggestions computed ({strategy}).")
        self.refreshed.emit(count)

    @Slot(object)
    def _on_runner_failed(self, exc: object) -> None:
        _strategy, root = self._end_refresh()
        if self._project is None or self._project.root != root:
            return
        self._error = f"Cannot compute suggestions: {error_text(exc)}"
        self._show_summary()
        self.message.emit(self._error)

    def _end_refresh(self) -> tuple[str | None, Path | None]:
        """Forgets the finished Refresh; returns its strategy and project folder."""
        runner, self._runner = self._runner, None
        done = (self._busy_strategy, self._refresh_root)
        self._busy_strategy = self._refresh_root = None
        self.refresh_button.setEnabled(True)
        if runner is not None:
            runner.deleteLater()
        self._show_summary()
        return done


def _when(created_at: str) -> str:
    """``14:02`` today, else ``3 Mar 14:02`` (local time)."""
    try:
        moment = datetime.fromisoformat(created_at).astimezone()
    except ValueError:
        return created_at
    if moment.date() == datetime.now().astimezone().date():
        return moment.strftime("%H:%M")
    return f"{moment.day} {moment.strftime('%b %H:%M')}"


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]
