"""The defect detector's part of the editor: the latest seg-dec run and the verdict (read
once per run), the run's heat map of the image shown on the canvas (under the mask), the
image's defect probability in the line under it, and the heat-map controls of the tool bar.
"""

from __future__ import annotations

from collections.abc import Callable

from core.store import Project, Run, RunKind, StoreError
from core.training.trust import Verdict, detector_trust, which_to_believe
from labelapp.editor.canvas import Canvas
from labelapp.editor.document import ImageDocument
from labelapp.editor.heatmap import NO_RUN_TIP, DefectReading, HeatmapLayer, read_defect
from labelapp.editor.info_lines import InfoLines, defect_info_html, disagreement
from labelapp.editor.toolbar import EditorToolBar


class DefectView:
    """What the latest defect-detector run says about the image shown, on the editor's
    canvas, info lines and tool bar; ``message`` takes lines for the status area."""

    def __init__(self, canvas: Canvas, toolbar: EditorToolBar, info: InfoLines, *, opacity: float,
                 message: Callable[[str], None]) -> None:
        self._canvas, self._toolbar, self._info = canvas, toolbar, info
        self._message = message
        self.run: Run | None = None  # the latest finished seg-dec run
        self.verdict: Verdict | None = None
        self.reading: DefectReading | None = None  # of the image shown
        self.opacity = opacity  # the heat map's at its hottest

    def reload(self, project: Project | None, doc: ImageDocument | None) -> None:
        """Re-reads the latest defect-detector run and the verdict, then shows ``doc``'s
        heat map and defect probability."""
        self.run, self.verdict = None, None
        if project is not None:
            try:
                self.run = project.runs.latest(RunKind.SEGDEC)
                self.verdict = which_to_believe(project)
            except StoreError as exc:
                self._message(f"Cannot read the defect detector's runs: {exc}")
        trust = detector_trust(self.run)
        self._info.legend.set_threshold(trust.threshold, "" if trust.validated else "not validated")
        self.sync_controls()
        self.show(project, doc)

    def set_visible(self, visible: bool) -> None:
        self._canvas.set_heatmap_visible(bool(visible))
        self.sync_controls()

    def toggle(self) -> None:
        """Switches the heat map on or off; says why there is none to show."""
        if self.run is None:
            self._message(f"No heat map: {NO_RUN_TIP[0].lower()}{NO_RUN_TIP[1:]}.")
            return
        self.set_visible(not self._canvas.heatmap_visible())
        if self._canvas.heatmap_visible() and self._canvas.document() is not None and self._canvas.heatmap() is None:
            self._message(f"Defect detector run #{self.run.id} has no heat map of this image "
                          "(imported after the run).")

    def set_opacity(self, value: float) -> None:
        self.opacity = max(0.0, min(1.0, float(value)))
        layer = self._canvas.heatmap()
        if layer is not None:
            layer.set_opacity(self.opacity)
            self._canvas.update()
        self.sync_controls()

    def sync_controls(self) -> None:
        self._toolbar.set_heatmap(None if self.run is None else self.run.id,
                                  visible=self._canvas.heatmap_visible(), opacity=self.opacity)

    def show(self, project: Project | None, doc: ImageDocument | None) -> None:
        """Reads ``doc``'s defect probability and heat map (about 0.3 ms: a few rows of a
        memmap) and puts them on the canvas and under it (None: nothing)."""
        run, reading = self.run, None
        if doc is not None and project is not None and run is not None:
            reading = read_defect(project, run, doc.image_id)
        self.reading = reading
        if reading is not None and reading.heat is not None:
            self._canvas.set_heatmap(HeatmapLayer(reading.heat, doc.width, doc.height, self.opacity))
        else:
            self._canvas.set_heatmap(None)
        note, overruled = (None, False) if reading is None else disagreement(
            project, self.verdict, doc.image_id, reading.probability)
        tip = "" if reading is None else reading.trust.why[:1].upper() + reading.trust.why[1:]
        self._info.show_defect(None if reading is None else defect_info_html(reading, note, overruled=overruled),
                               tip + (f"\n{self.verdict.sentence}" if self.verdict is not None and tip else ""))
