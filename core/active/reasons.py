"""The reason of a suggestion, in words: true of the image it is given for, whatever the
project looks like. "Undecided" only when the classifier is (:data:`UNDECIDED_MARGIN`),
label counts as they are (the classes' own, never "only" when others have as few), and
a batch's earlier picks named as suggestions, never as labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

UNDECIDED_MARGIN = 0.25  # "undecided" when the two likeliest classes are this close
UNSURE = 0.6  # a best guess below this is "only" that


def images(count: int) -> str:
    return "1 image" if count == 1 else f"{count} images"


def labels(count: int) -> str:
    return "1 label" if count == 1 else f"{count} labels"


def typicality_reason(size: int, labeled: int, picked: int) -> str:
    """The typical image of a cluster of ``size`` images holding ``labeled`` labels, of
    which ``picked`` images were suggested before it in this batch."""
    if labeled == 0:
        reason = f"typical of an unlabeled cluster of {images(size)}"
    else:
        reason = f"typical of a cluster of {images(size)} with {labels(labeled)}"
    return reason + (f"; suggestion {picked + 1} from it" if picked else "")


def kcenter_reason(ratio: float, after_picks: bool) -> str:
    """The farthest image from the labeled ones (and, ``after_picks``, the batch's earlier
    picks), ``ratio`` times the usual distance between neighbours."""
    nearest = "labeled or suggested image" if after_picks else "labeled image"
    return f"{ratio:.1f}× the usual distance between neighbours from the nearest {nearest} (the farthest left)"


def uncertainty_reason(kind: str, names: Sequence[str], top: np.ndarray) -> str:
    """Why an image is among the most uncertain (``top``: its likeliest classes'
    probabilities, ``names`` theirs): "undecided" / "only" when it is so, else its figures
    among the least certain left (a classifier sure of every image has no doubt to show)."""
    if kind == "margin" and len(names) > 1:
        figures = f"{top[0]:.2f} / {top[1]:.2f}"
        if top[0] - top[1] < UNDECIDED_MARGIN:
            return f"undecided between {names[0]} and {names[1]}: {figures}"
        return f"{names[0]} rather than {names[1]}, {figures}: among the smallest margins left"
    if kind == "entropy":
        spread = ", ".join(f"{name} {top[k]:.2f}" for k, name in enumerate(names))
        if top[0] < UNSURE:
            return f"the classifier spreads its belief: {spread}"
        return f"among the least certain left: {spread}"
    if top[0] < UNSURE:
        return f"the classifier's best guess, {names[0]}, has only {top[0]:.2f}"
    return f"the classifier's best guess, {names[0]} at {top[0]:.2f}, is among its least confident"


def badge_reason(name: str, margin: float) -> str:
    doubt = f"undecided ({name}? margin {margin:.2f})" if margin < UNDECIDED_MARGIN else \
        f"{name} by a margin of {margin:.2f}"
    return f"{doubt}, chosen to differ from the other picks"


def balance_reason(name: str, p: float, other: str, q: float, label_counts: Mapping[str, int]) -> str:
    """Likely ``name`` (``p``), "but close to" ``other`` (``q``) only when the two are
    within :data:`UNDECIDED_MARGIN` ("then" ``other`` otherwise), with the label counts of
    the classifier's classes: ``name``'s beside the most (or, when it has the most, the
    fewest) of another class; "every class has N" when they are equal."""
    have = label_counts[name]
    most = max(label_counts.items(), key=lambda item: item[1])  # the first of equals
    fewest = min(label_counts.items(), key=lambda item: item[1])
    runner_up = "but close to" if p - q < UNDECIDED_MARGIN else "then"
    head = f"likely {name} ({p:.2f}) {runner_up} {other} ({q:.2f})"
    if most[1] == fewest[1]:
        return f"{head}; every class has {labels(have)}"
    reference, count = most if have < most[1] else fewest
    return f"{head}; {name} has {labels(have)}, {reference} has {count}"
