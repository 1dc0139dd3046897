"""One (strategy, seed) run: on a copy of the prepared project, round after round, ask the app
for suggestions, reveal the true labels (and, with the detector, the masks) of the
suggested images, retrain with the real pipeline (``retrain_job``, which also stores the
next suggestions), and score the latest models on the held-out part."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.active.simulator.config import ACTOR, SimulationConfig, budgets_for
from core.active.simulator.evaluation import evaluate, labeling_scores
from core.active.simulator.truth import Truth
from core.jobs.base import check_cancel, drain
from core.store import Project

logger = logging.getLogger(__name__)


def run_one(config: SimulationConfig, base: Path, truth: Truth, strategy: str, seed: int,
            on_row: Callable[[dict], None], cancel: threading.Event | None = None) -> None:
    """Plays one strategy with one seed through every budget, calling ``on_row`` per round."""
    from core.active.suggest import SuggestRequest, refresh_suggestions
    from core.training.classify import ClassifyRequest
    from core.training.pipeline import retrain_job
    from core.training.pretrain import PretrainRequest
    from core.training.segdec import SegDecRequest

    root = config.out / "work" / f"{strategy}-{seed}"
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(base, root)
    budgets = budgets_for(config, len(truth.classes))
    exclude = truth.held_out
    hidden = frozenset(i for i, c in truth.labels.items() if c == config.hide_class)
    started = time.perf_counter()
    suggested = [s.image_id for s in refresh_suggestions(root, strategy=strategy, n=budgets[0],
                                                         exclude=exclude | hidden, seed=seed)]
    suggest_seconds = time.perf_counter() - started
    try:
        for round_index in range(len(budgets)):
            check_cancel(cancel)
            round_started = time.perf_counter()
            with Project.open(root) as project:
                rng = np.random.default_rng([seed, round_index])
                wrong = _to_flip(project, truth, suggested, config.flip, rng)
                _reveal(project, truth, suggested, config.detector, wrong, rng)
                labeled = project.labels.count()
            last = round_index == len(budgets) - 1
            request = False if last else SuggestRequest(
                project_root=root, strategy=strategy, n=budgets[round_index + 1] - labeled,
                exclude=exclude | hidden if round_index + 1 < config.hide_rounds else exclude,
                seed=seed * 1000 + round_index + 1)
            retrain_started = time.perf_counter()
            result = drain(retrain_job(
                PretrainRequest(project_root=root, **config.pretrain),
                ClassifyRequest(project_root=root, epochs=config.classifier_epochs, seed=seed),
                cancel, segdec=SegDecRequest(project_root=root, seed=seed, threads=1) if config.detector else None,
                suggest=request))
            retrain_seconds = time.perf_counter() - retrain_started
            if result.cancelled:
                return
            train_seconds = result.seconds  # the jobs' own time; the rest of the retrain chose suggestions
            with Project.open(root) as project:
                scores = {**evaluate(project, truth), **labeling_scores(project, truth, config)}
                suggested = [] if last else [s.image_id for s in project.suggestions.list(limit=request.n)]
            on_row({"strategy": strategy, "seed": seed, "round": round_index + 1, "labels": labeled,
                    "labels_per_class": round(labeled / len(truth.classes), 2), **scores,
                    "seconds": round(time.perf_counter() - round_started + suggest_seconds, 2),
                    "train_seconds": round(train_seconds, 2),
                    "suggest_seconds": round(suggest_seconds + retrain_seconds - train_seconds, 2)})
            suggest_seconds = 0.0
            if not suggested and not last:
                logger.warning("%s seed %d: no suggestions left after %d labels", strategy, seed, labeled)
                return
    finally:
        if not config.keep_projects:
            shutil.rmtree(root, ignore_errors=True)


def _to_flip(project: Project, truth: Truth, image_ids: list[int], share: float,
             rng: np.random.Generator) -> set[int]:
    """Which of the images about to be revealed get a wrong label, so that ``share`` of
    all labels is wrong."""
    if share <= 0 or not image_ids:
        return set()
    names = {c.id: c.name for c in project.classes.list()}
    labels = project.labels.class_by_image()
    wrong_now = sum(names[c] != truth.labels.get(i) for i, c in labels.items())
    count = min(len(image_ids), max(0, int(round(share * (len(labels) + len(image_ids)))) - wrong_now))
    return {int(i) for i in rng.choice(image_ids, size=count, replace=False)}


def _reveal(project: Project, truth: Truth, image_ids: list[int], with_masks: bool, wrong: set[int] = frozenset(),
            rng: np.random.Generator | None = None) -> None:
    """Labels the images with their true class; those in ``wrong`` with a random other class."""
    classes = {c.name: c for c in project.classes.list()}

    def answer(image_id: int) -> int:
        name = truth.labels[image_id]
        if image_id in wrong:
            name = str(rng.choice([c for c in truth.classes if c != name]))
        return classes[name].id

    changes = [(i, answer(i)) for i in image_ids if i in truth.labels and i not in truth.held_out]
    if len(changes) < len(image_ids):
        raise AssertionError("a suggestion was held out or unknown: the simulation would leak the test set")
    project.labels.apply(changes, actor=ACTOR, source="simulate")
    if with_masks:
        for image_id, _ in changes:
            if image_id in truth.masks:
                project.masks.save(image_id, np.load(truth.masks[image_id]), actor=ACTOR, source="simulate")
