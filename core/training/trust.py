"""Whether the defect detector's calls mean anything, and which model to believe.

Two rules, both read from what the runs recorded (no image is scored again):

:func:`detector_trust` says whether a defect-detector run is validated well enough for
its threshold to decide "defective". Only then do the grid, the editor and the CLI call
an image defective; otherwise they show the probability and say why it is not trusted.

:func:`which_to_believe` compares, on labeled images neither model was trained on, how
well the classifier (its out-of-fold predictions, collapsed to OK / defective) and the
detector (its held-out validation images, at its threshold) tell OK from defective, and
names the one to believe where they disagree on an image. An unvalidated detector never
wins. The result is computed once per run change; :meth:`Verdict.note` is what a tile
or the editor says for one image.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.store import Project, Run, RunKind, RunStatus, StoreError

# At least this many OK and this many defective images held out of training. The
# threshold is the point between the held-out OK and defective scores: with fewer than
# five of a kind one image moves the AP by 0.2 or more, and an OK set that stays below
# the threshold still leaves up to 45 % of new OK images above it (the one-sided 95 %
# bound for 0 of 5), so a warning would be a guess. Five is the smallest set where a
# single image no longer decides everything; more is better.
MIN_HELD_OUT = 5
# The held-out ranking must beat chance: a one-sided Mann-Whitney test at 5 % (normal
# approximation). A best-F1 threshold on a detector that ranks at chance calls nearly
# every image defective (the demo project's first retrain: 599 of 600 tiles).
CHANCE_Z = 1.645
DEFAULT_FRACTION = 0.2  # the detector holds out a fifth of the labels when a run does not say
WILSON_Z = 1.645  # the lower end of a 90 % interval, to weigh a figure by how many images it rests on

CLASSIFIER = "classifier"
DETECTOR = "detector"


@dataclass(frozen=True)
class DetectorTrust:
    """What a defect-detector run's validation allows.

    Attributes:
        run_id: the run, None when there is none.
        status: "none" (no run), "unvalidated" (nothing held out), "too_few" (fewer than
            :data:`MIN_HELD_OUT` of a kind held out), "chance" (held-out ranking no
            better than chance) or "validated".
        why: a sentence: what the validation was and what it allows.
        advice: what to do about it ("" when validated).
        threshold: the decision threshold to use; None unless validated.
    """

    run_id: int | None
    status: str
    why: str
    advice: str
    threshold: float | None

    @property
    def validated(self) -> bool:
        return self.status == "validated"

    @property
    def short(self) -> str:
        """A few words for a list or a status line."""
        return {"none": "no defect detector", "unvalidated": "not validated (too few labels)",
                "too_few": "not validated (too few held-out images)",
                "chance": "not validated (no better than chance)"}.get(self.status, "validated")

    def calls_defective(self, probability: float | None) -> bool:
        """The detector calls the image defective (a validated run only)."""
        return self.threshold is not None and probability is not None and probability >= self.threshold


@dataclass(frozen=True)
class Ability:
    """How well one model told OK from defective on labeled images it was not trained on.

    ``ok_right`` of ``ok_n`` OK images called OK, ``defective_right`` of ``defective_n``
    defective images called defective; ``validated`` False when there are too few of a
    kind (``why`` says so) or the run kept no such figures.
    """

    model: str
    run_id: int | None
    ok_right: int
    ok_n: int
    defective_right: int
    defective_n: int
    validated: bool
    why: str

    @property
    def balanced_accuracy(self) -> float:
        """The mean of the share of OK images and of defective images it got right."""
        if not self.ok_n or not self.defective_n:
            return float("nan")
        return (self.ok_right / self.ok_n + self.defective_right / self.defective_n) / 2

    @property
    def lower_bound(self) -> float:
        """A cautious balanced accuracy: the mean of the two shares' Wilson lower bounds
        (fewer images, lower bound), so a figure on 10 images does not beat one on 50 by luck."""
        return (_wilson_lower(self.ok_right, self.ok_n) + _wilson_lower(self.defective_right, self.defective_n)) / 2

    @property
    def images(self) -> int:
        return self.ok_n + self.defective_n

    def figure(self, *, only: bool = False) -> str:
        """``94% of 48 held-out labels`` (``only``: ``of only 48``)."""
        return f"{self.balanced_accuracy:.0%} of {'only ' if only else ''}{self.images} held-out labels"


@dataclass(frozen=True)
class Verdict:
    """Which model to believe where the classifier and the detector disagree.

    Attributes:
        trusted: :data:`CLASSIFIER`, :data:`DETECTOR`, or None when neither is validated.
        classifier, detector: their measured abilities (None: no such run).
        detector_trust: the detector's trust (its threshold decides its calls).
        sentence: the rule and both figures, in words.
    """

    trusted: str | None
    classifier: Ability | None
    detector: Ability | None
    detector_trust: DetectorTrust
    sentence: str

    def disagrees(self, classifier_defective: bool | None, probability: float | None) -> bool:
        """The classifier's class (OK or a defect) and the detector's call differ. Only a
        validated detector makes a call; no class prediction, no disagreement."""
        if classifier_defective is None or probability is None or not self.detector_trust.validated:
            return False
        return classifier_defective != self.detector_trust.calls_defective(probability)

    def overrules_detector(self, classifier_defective: bool | None, probability: float | None) -> bool:
        """They disagree and the classifier is the one to believe."""
        return self.trusted == CLASSIFIER and self.disagrees(classifier_defective, probability)

    def note(self, classifier_defective: bool) -> str:
        """What to show on an image where they disagree (the classifier's side given)."""
        classifier = "defective" if classifier_defective else "OK"
        detector = "OK" if classifier_defective else "defective"
        head = f"classifier says {classifier}, detector {detector}"
        if self.trusted is None:
            return f"{head}: neither is validated yet"
        return f"{head}: trust the {self.trusted} ({self._figures()})"

    def _figures(self) -> str:
        winner = self.classifier if self.trusted == CLASSIFIER else self.detector
        loser = self.detector if self.trusted == CLASSIFIER else self.classifier
        text = f"right on {winner.figure()}" if winner is not None and winner.validated else "validated"
        if loser is None:
            return f"{text}; there is no {_other(self.trusted)} yet"
        if not loser.validated:
            return f"{text}; the {loser.model} is not validated"
        # a higher figure on fewer images can lose: say so
        only = loser.balanced_accuracy > winner.balanced_accuracy
        return f"{text}, the {loser.model} on {loser.figure(only=only)}"


def detector_trust(run: Run | None) -> DetectorTrust:
    """Whether ``run`` (a finished defect-detector run, or None) may call images defective."""
    if run is None or run.status is not RunStatus.DONE:
        return DetectorTrust(None, "none", "no defect detector yet", "train it (needs OK and defective labels)", None)
    metrics = run.metrics or {}
    fraction = float((run.config or {}).get("validation_fraction") or DEFAULT_FRACTION)
    labels_needed = math.ceil(MIN_HELD_OUT / fraction)
    validation = metrics.get("validation")
    if not isinstance(validation, Mapping):
        return DetectorTrust(
            run.id, "unvalidated",
            f"not validated: too few labels to hold any back (about {labels_needed} OK and {labels_needed}"
            f" defective labels give {MIN_HELD_OUT} of each)",
            "label more OK and defective images", None)
    n, defective = int(validation.get("n", 0)), int(validation.get("defective", 0))
    ok = n - defective
    short = [f"{count} {kind}" for count, kind in ((ok, "OK"), (defective, "defective")) if count < MIN_HELD_OUT]
    if short:
        kinds = " and ".join(k for c, k in ((ok, "OK"), (defective, "defective")) if c < MIN_HELD_OUT)
        return DetectorTrust(
            run.id, "too_few",
            f"not validated: only {' and '.join(short)} images held out, at least {MIN_HELD_OUT} of each needed"
            f" (about {labels_needed} labels of each kind)",
            f"label more {kinds} images", None)
    auroc = _number(validation.get("auroc"))
    z = _chance_z(auroc, ok, defective)
    if not z >= CHANCE_Z:
        return DetectorTrust(
            run.id, "chance",
            f"not validated: on its {n} held-out images it ranks defective above OK no better than chance"
            f" (AUROC {auroc:.2f})",
            "label more images, masks help; or retrain", None)
    threshold = float(metrics.get("threshold", validation.get("threshold", 0.5)))
    return DetectorTrust(
        run.id, "validated",
        f"validated on {n} held-out images ({ok} OK, {defective} defective): AP {_number(validation.get('ap')):.2f},"
        f" AUROC {auroc:.2f}, threshold {threshold:.2f}",
        "", threshold)


def detector_ability(run: Run | None, trust: DetectorTrust | None = None) -> Ability | None:
    """The detector's held-out figures at its threshold (None without a run)."""
    if run is None:
        return None
    trust = trust if trust is not None else detector_trust(run)
    validation = (run.metrics or {}).get("validation")
    if not isinstance(validation, Mapping) or "fp" not in validation or "fn" not in validation:
        return Ability(DETECTOR, run.id, 0, 0, 0, 0, False, trust.why)
    n, defective = int(validation.get("n", 0)), int(validation.get("defective", 0))
    ok = n - defective
    return Ability(DETECTOR, run.id, ok - int(validation["fp"]), ok, defective - int(validation["fn"]), defective,
                   trust.validated, trust.why)


def classifier_ability(run: Run | None, defect_class: Mapping[int, bool]) -> Ability | None:
    """The classifier's out-of-fold predictions collapsed to OK / defective.

    Args:
        run: a finished classifier run (None: no classifier).
        defect_class: class id -> whether the class is a defect (False: OK).
    """
    if run is None:
        return None
    validation = (run.metrics or {}).get("validation")
    class_ids = (run.config or {}).get("classes")
    if not isinstance(validation, Mapping) or not isinstance(class_ids, list):
        return Ability(CLASSIFIER, run.id, 0, 0, 0, 0, False, "not validated: too few labels to cross-validate")
    try:
        kinds = [defect_class[int(c)] for c in class_ids]
        confusion = [[int(v) for v in row] for row in validation["confusion"]]
    except (KeyError, TypeError, ValueError):
        return Ability(CLASSIFIER, run.id, 0, 0, 0, 0, False, "its validation names classes the project no longer has")
    if len(confusion) != len(kinds) or any(len(row) != len(kinds) for row in confusion):
        return Ability(CLASSIFIER, run.id, 0, 0, 0, 0, False, "its validation does not fit its classes")
    counts = {True: [0, 0], False: [0, 0]}  # defective? -> [right, of]
    for truth, row in zip(kinds, confusion, strict=True):
        for predicted, count in zip(kinds, row, strict=True):
            counts[truth][1] += count
            counts[truth][0] += count if predicted == truth else 0
    (ok_right, ok_n), (defective_right, defective_n) = counts[False], counts[True]
    few = [f"{c} {k}" for c, k in ((ok_n, "OK"), (defective_n, "defective")) if c < MIN_HELD_OUT]
    why = (f"not validated: only {' and '.join(few)} labels cross-validated, at least {MIN_HELD_OUT} of each needed"
           if few else f"cross-validated on {ok_n + defective_n} labels ({ok_n} OK, {defective_n} defective)")
    return Ability(CLASSIFIER, run.id, ok_right, ok_n, defective_right, defective_n, not few, why)


def judge(classifier: Ability | None, detector: Ability | None, trust: DetectorTrust) -> Verdict:
    """The verdict from both abilities: the validated model with the higher cautious
    balanced accuracy (:attr:`Ability.lower_bound`) wins; a tie goes to the classifier,
    whose figure rests on every label rather than a held-out fifth. An unvalidated
    detector never wins."""
    usable_classifier = classifier is not None and classifier.validated
    usable_detector = detector is not None and detector.validated and trust.validated
    if usable_classifier and usable_detector:
        trusted = DETECTOR if detector.lower_bound > classifier.lower_bound else CLASSIFIER
    elif usable_classifier or usable_detector:
        trusted = CLASSIFIER if usable_classifier else DETECTOR
    else:
        trusted = None
    verdict = Verdict(trusted, classifier, detector, trust, "")
    if trusted is None:
        sentence = ("Neither the classifier nor the defect detector is validated yet: "
                    "label more OK and defective images.")
    else:
        sentence = (f"Where the classifier and the defect detector disagree, trust the {trusted}: "
                    f"{verdict._figures()}. (Right: the share of labeled OK and of labeled defective images it"
                    " was not trained on that it called right, averaged.)")
    return Verdict(trusted, classifier, detector, trust, sentence)


def which_to_believe(project: Project) -> Verdict:
    """The verdict for the latest classifier and defect-detector runs of ``project`` (the
    runs whose predictions the grid and the editor show)."""
    classifier_id = project.predictions.latest_run(RunKind.CLASSIFIER)
    detector_id = project.predictions.latest_run(RunKind.SEGDEC)
    try:
        classifier_run = project.runs.get(classifier_id) if classifier_id is not None else None
        detector_run = project.runs.get(detector_id) if detector_id is not None else None
    except StoreError:
        classifier_run = detector_run = None
    defect_class = {c.id: not c.is_ok for c in project.classes.list()}
    trust = detector_trust(detector_run)
    return judge(classifier_ability(classifier_run, defect_class), detector_ability(detector_run, trust), trust)


def _other(model: str | None) -> str:
    return DETECTOR if model == CLASSIFIER else CLASSIFIER


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else float("nan")


def _chance_z(auroc: float, ok: int, defective: int) -> float:
    """How far ``auroc`` lies above 0.5 in standard errors of a chance ranking (Mann-Whitney)."""
    if not math.isfinite(auroc) or ok < 1 or defective < 1:
        return float("nan")
    return (auroc - 0.5) / math.sqrt((ok + defective + 1) / (12.0 * ok * defective))


def _wilson_lower(right: int, n: int, z: float = WILSON_Z) -> float:
    if n <= 0:
        return 0.0
    p = right / n
    centre = p + z * z / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - margin) / (1 + z * z / n)
