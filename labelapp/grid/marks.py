"""The marks a grid tile can carry: which ones a tile shows, what each means in words.

One place decides the marks of a tile (:func:`tile_marks`); the delegate paints them,
the tile's tooltip lists them in words (:func:`tile_tooltip`) and the legend above the
grid (:mod:`labelapp.grid.legend`) shows each kind once with its meaning. A mark is shown
only where it helps to decide whether to look at the image:

- ``defect`` (red "⚠ defect", top left): a validated defect detector calls the image
  defective, its probability clearly above the run's threshold; ``defect_near`` (red
  outline, "⚠ defect?"): just above it, a borderline call; ``overruled`` (gray): the
  detector calls it defective but the classifier, the model to believe on this project,
  says OK. Below the threshold, or while the detector is not validated, no mark.
- ``mask`` ("M", top right): a mask with defect pixels; ``empty_mask`` ("∅"): an empty
  mask, annotated as free of defects.
- ``suggested`` ("★3", bottom left): the suggestions queue names the unlabeled image.
- ``unsure`` ("?", bottom right): the classifier's confidence on the unlabeled image is
  among the lowest tenth of its run (a relative mark: the classifier's confidence alone
  is about the same on most images of a young project, so its value says little).
- ``label`` (filled chip): the image's label; ``prediction`` (dashed chip): the class the
  classifier predicts for an unlabeled image; ``disagree`` ("≠ class", outlined chip):
  the classifier predicts another class than the label.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.catalog import MaskState
from labelapp.grid.tile import Tile

# A defect call whose odds are less than e times the threshold's counts as borderline:
# for a threshold of 0.2, probabilities from 0.2 to 0.40; for 0.5, from 0.5 to 0.73.
NEAR_THRESHOLD_LOGIT = 1.0


@dataclass(frozen=True)
class MarkKind:
    """One kind of mark: its place on the tile, a sample text, and its meaning."""

    key: str
    place: str  # "top_left", "top_right", "bottom_left", "bottom_right", "chip", "chip_right"
    sample: str
    meaning: str


KINDS: dict[str, MarkKind] = {kind.key: kind for kind in (
    MarkKind("defect", "top_left", "\u26a0 defect",
             "The defect detector calls the image defective: its defect probability is clearly above the"
             " threshold chosen on held-out images."),
    MarkKind("defect_near", "top_left", "\u26a0 defect?",
             "Called defective, but just above the threshold: a borderline call, worth a look."),
    MarkKind("overruled", "top_left", "\u26a0 defect",
             "The detector calls it defective, but the classifier, which told OK from defective better on"
             " this project's held-out labels, says OK."),
    MarkKind("mask", "top_right", "M", "Has a mask with defect pixels."),
    MarkKind("empty_mask", "top_right", "\u2205", "Has an empty mask: annotated as free of defects."),
    MarkKind("suggested", "bottom_left", "\u26053",
             "Suggested to label next, with its place in the queue (N opens the next)."),
    MarkKind("unsure", "bottom_right", "?",
             "The classifier is unsure: its confidence is among the lowest tenth of this run's predictions."),
    MarkKind("label", "chip", "crazing", "The label you gave (the bar under the image has its colour)."),
    MarkKind("prediction", "chip", "crazing", "Unlabeled: the class the classifier predicts."),
    MarkKind("disagree", "chip_right", "\u2260 crazing",
             "The classifier predicts another class than the label: a label mistake or a hard image."),
)}


@dataclass(frozen=True)
class Mark:
    """A mark on one tile: its kind and the text drawn."""

    kind: str
    text: str
    color: str | None = None  # the class colour of a chip
    short: str = ""  # a chip's shorter text (the class key) when the name does not fit

    @property
    def place(self) -> str:
        return KINDS[self.kind].place


def near_threshold(probability: float, threshold: float) -> bool:
    """``probability`` is at or above ``threshold`` by less than :data:`NEAR_THRESHOLD_LOGIT` in log-odds."""
    return _logit(probability) - _logit(threshold) < NEAR_THRESHOLD_LOGIT


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def tile_marks(tile: Tile) -> list[Mark]:
    """The marks ``tile`` shows, in painting order (:func:`mark_words` says each in words)."""
    marks = []
    if tile.detected:
        kind = ("overruled" if tile.overruled else "defect_near" if near_threshold(tile.defect, tile.defect_threshold)
                else "defect")
        marks.append(Mark(kind, KINDS[kind].sample))
    if tile.mask == MaskState.PIXELS:
        marks.append(Mark("mask", "M"))
    elif tile.mask == MaskState.EMPTY:
        marks.append(Mark("empty_mask", "\u2205"))
    if tile.suggestion:
        marks.append(Mark("suggested", f"\u2605{tile.suggestion}"))
    if tile.unsure:
        marks.append(Mark("unsure", "?"))
    if tile.label is not None:
        marks.append(Mark("label", tile.label.name, color=tile.label.color, short=tile.label.shortcut or ""))
        if tile.prediction is not None and tile.prediction.id != tile.label.id:
            marks.append(Mark("disagree", f"\u2260 {tile.prediction.name}", color=tile.prediction.color))
    elif tile.prediction is not None:
        marks.append(Mark("prediction", tile.prediction.name, color=tile.prediction.color))
    return marks


def mark_words(mark: Mark, tile: Tile) -> str:
    """What ``mark`` says about ``tile``'s image, in words."""
    kind, predicted = mark.kind, tile.prediction.name if tile.prediction is not None else ""
    if kind in ("defect", "defect_near", "overruled"):
        words = (f"defect probability {tile.defect:.2f} at or above the threshold {tile.defect_threshold:.2f}:"
                 " the defect detector calls it defective")
        return {"overruled": f"{words}, but {tile.disagreement}",
                "defect_near": f"{words}, just above the threshold (a borderline call)"}.get(kind, words)
    return {
        "mask": "a mask with defect pixels",
        "empty_mask": "an empty mask: annotated as free of defects",
        "suggested": f"suggested #{tile.suggestion} to label next (N opens the queue)",
        "unsure": f"the classifier is unsure: {tile.confidence:.0%} for {predicted}, among the least sure tenth"
                  f" of its predictions (below {tile.unsure_below:.0%})",
        "label": f"labeled {tile.label.name if tile.label is not None else ''}",
        "disagree": f"the classifier predicts {predicted} ({tile.confidence:.0%}), not the label: a label mistake"
                    " or a hard image",
        "prediction": f"unlabeled; the classifier predicts {predicted} ({tile.confidence:.0%})",
    }[kind]


def tile_tooltip(tile: Tile, path: str) -> str:
    """The tile's tooltip: the file, then each mark in words, then what no mark says
    (the classifier's prediction and the detector's reading)."""
    lines = [path, f"{tile.width} \u00d7 {tile.height} px \u00b7 {tile.label.name if tile.label else 'unlabeled'}"]
    marks = tile_marks(tile)
    if marks:
        lines.append("Marks:")
        lines += [f"  {mark.text} \u2014 {mark_words(mark, tile)}" for mark in marks]
    lines += _unmarked(tile, {mark.kind for mark in marks})
    return "\n".join(lines)


def _unmarked(tile: Tile, shown: set[str]) -> list[str]:
    """What the models say that no mark on the tile shows."""
    lines = []
    if tile.prediction is not None and not shown & {"prediction", "disagree", "unsure"}:
        lines.append(f"Classifier: predicts {tile.prediction.name} ({tile.confidence:.0%})")
    if tile.defect is not None and not tile.defect_validated:
        lines.append(f"Defect detector: defect probability {tile.defect:.2f} (detector not validated yet: no call)")
    elif tile.defect is not None and not tile.detected:
        lines.append(f"Defect detector: defect probability {tile.defect:.2f} below the threshold"
                     f" {tile.defect_threshold:.2f}: not defective")
    if tile.disagreement and "overruled" not in shown:
        lines.append(f"Models disagree: {tile.disagreement}")
    return lines
