"""Suggestions for a project: builds the pool from the store, runs a strategy or the
default schedule, and stores the ranked suggestions with their reasons.

The geometry is the classifier's own features (``[w * embedding, texture statistics]``
of the latest pretraining run), reduced by PCA to :data:`DIMS` dimensions and cached in
``cache/`` per pretraining run. The probabilities are the latest classifier run's.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.active.strategies import STRATEGY_FUNCTIONS, Pick, Pool, interleave
from core.active.worth_a_mask import load_worth_a_mask
from core.jobs.base import Progress
from core.store import NeedsTrainingError, Project, RunKind
from core.store.suggestions import Suggestion

MASK_STRATEGY = "mask"  # defective images to draw a mask on (the detector's "worth a mask"); never stored
DIMS = 32
DEFAULT_COUNT = 200  # suggestions stored per refresh: a labeling session's worth
COLD_START_PER_CLASS = 2  # a schedule without @K is cold until this many labels per class

STRATEGIES = ("default", *STRATEGY_FUNCTIONS, MASK_STRATEGY)
_DESCRIPTIONS = {
    "default": "typical images unlike everything labeled until the classes have 3 labels each; then images the "
               "classifier is undecided about, mixed with undecided images of the classes with the fewest labels "
               "and new-looking images",
    "random": "images drawn at random (the baseline)",
    "typicality": "the most typical image of each large cluster without labels (cold start)",
    "kcenter": "the images farthest from everything labeled",
    "coverage": "typical images farthest from everything labeled (cold start: finds the classes)",
    "novelty": "new-looking images: unlike every labeled image, in a group of their own (a class nobody labeled yet)",
    "margin": "images the classifier is undecided about between its two best classes",
    "entropy": "images whose predicted probabilities are spread over many classes",
    "least_confidence": "images whose best class has the lowest probability",
    "badge": "uncertain images that are also unlike each other (BADGE)",
    "balance": "likely members of the classes with the fewest labels",
    MASK_STRATEGY: "defective images whose mask would teach the defect detector most",
}


def describe(strategy: str) -> str:
    """One line on what ``strategy`` picks."""
    return _DESCRIPTIONS[strategy]


@dataclass(frozen=True)
class SuggestRequest:
    project_root: Path
    strategy: str = "default"
    n: int = DEFAULT_COUNT
    exclude: frozenset[int] = field(default_factory=frozenset)  # image ids never to suggest (held out)
    seed: int = 0


# -- the pool ----------------------------------------------------------------------------------
def reduced_features(project: Project, pretrain_run, dims: int = DIMS) -> tuple[np.ndarray, np.ndarray]:
    """(ids, PCA-reduced features) of a pretraining run, cached in ``cache/``."""
    from core.training.pretrain import load_features

    path = project.cache_dir / f"suggest-features-{pretrain_run.id}-{dims}.npz"
    ids_path = project.runs_dir / str(pretrain_run.id) / "ids.npy"
    if path.exists():
        try:
            with np.load(path) as stored:
                if np.array_equal(stored["ids"], np.load(ids_path)):
                    return stored["ids"], stored["x"]
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache file is recomputed
    ids, features = load_features(project, pretrain_run)
    x = pca(features, dims)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, ids=ids, x=x)
    os.replace(tmp, path)
    return ids, x


def pca(features: np.ndarray, dims: int, fit_rows: int = 20_000, seed: int = 0) -> np.ndarray:
    """Centred projection on the first ``dims`` principal axes (fitted on a sample)."""
    from sklearn.decomposition import PCA

    features = np.asarray(features, dtype=np.float32)
    dims = int(min(dims, features.shape[1], max(1, len(features) - 1)))
    rng = np.random.default_rng(seed)
    sample = features if len(features) <= fit_rows else features[rng.choice(len(features), fit_rows, replace=False)]
    model = PCA(n_components=dims, svd_solver="randomized" if dims < min(sample.shape) // 2 else "full",
                random_state=seed).fit(sample)
    return model.transform(features).astype(np.float32)


def _not_covered(project: Project) -> str:
    """Why no features cover every image, and what places them."""
    from core.training.embed_new import extendable_run, missing_images

    encoder = extendable_run(project)
    if encoder is None:
        return "no pretrained encoder covers the images yet"
    missing = len(missing_images(project, encoder))
    return (f"{missing:,} new image{' is' if missing == 1 else 's are'} not embedded yet (a retrain embeds them"
            " with the current encoder, without pretraining again)")


def build_pool(project: Project, exclude: Iterable[int] = ()) -> Pool:
    """Every image of the project with its reduced features, labels and the latest
    classifier's probabilities. Raises NeedsTrainingError without a pretrained encoder."""
    from core.training.classify import latest_pretrain_run

    pretrain = latest_pretrain_run(project)
    if pretrain is None:
        raise NeedsTrainingError(_not_covered(project), needs=RunKind.PRETRAIN)
    ids, x = reduced_features(project, pretrain)
    position = {int(i): k for k, i in enumerate(ids.tolist())}
    classes = project.classes.list()
    class_index = {c.id: k for k, c in enumerate(classes)}
    label = np.full(len(ids), -1, dtype=np.int64)
    for image_id, class_id in project.labels.class_by_image().items():
        if image_id in position:
            label[position[image_id]] = class_index.get(class_id, -1)
    labeled = label >= 0
    candidate = ~labeled
    for image_id in exclude:
        if int(image_id) in position:
            candidate[position[int(image_id)]] = False
    pool = Pool(ids=ids, x=x, labeled=labeled, candidate=candidate, label=label,
                class_names=[c.name for c in classes])
    run_id = project.predictions.latest_run(RunKind.CLASSIFIER)
    if run_id is not None:
        run_classes = project.runs.get(run_id).config.get("classes", [])
        if run_classes and all(c in class_index for c in run_classes):
            stored_ids, p = project.predictions.probability_matrix(run_id)
            if len(stored_ids):
                where = np.array([position.get(int(i), -1) for i in stored_ids.tolist()])
                if (where >= 0).sum() >= candidate.sum() and p.shape[1] == len(run_classes):
                    probabilities = np.full((len(ids), p.shape[1]), 1.0 / p.shape[1], dtype=np.float32)
                    probabilities[where[where >= 0]] = p[where >= 0]
                    pool.probabilities = probabilities
                    pool.prob_classes = np.array([class_index[c] for c in run_classes])
                    pool.run_id = run_id
    return pool


# -- schedules ----------------------------------------------------------------------------------
# measured with `labelapp simulate` on X-SDD and generated data (issue 6 note): a cold start
# up to 2-3 labels per class, margin from about 8, balance keeps rare classes fed; issue 17:
# coverage finds more classes than typicality or random in the first rounds
# (benchmarks/cold_start_bench.py), novelty finds a class nobody has labeled sooner
DEFAULT_SCHEDULE = "coverage@3>margin+balance+novelty"


def parse_schedule(spec: str) -> tuple[list[str], list[str], int]:
    """``"cold@K>warm1+warm2"``: the strategies interleaved while the classes have fewer
    than K labels each on average (default :data:`COLD_START_PER_CLASS`) or there is no
    classifier, and after. Without ``>`` the same strategies throughout. Returns (cold,
    warm, K); raises ValueError for an unknown name."""
    cold_text, _, warm_text = spec.partition(">")
    cold_text, _, per_class = cold_text.partition("@")
    try:
        k = int(per_class) if per_class else COLD_START_PER_CLASS
    except ValueError:
        raise ValueError(f"not a number of labels per class in {spec!r}: {per_class!r}") from None
    cold = [s for s in cold_text.split("+") if s]
    warm = [s for s in (warm_text or cold_text).split("+") if s]
    for name in cold + warm:
        if name not in STRATEGY_FUNCTIONS:
            raise ValueError(f"unknown strategy {name!r}; choose from {', '.join(STRATEGIES)}")
    if not cold:
        raise ValueError(f"empty schedule {spec!r}")
    return cold, warm, k


def is_cold(pool: Pool, per_class: int = COLD_START_PER_CLASS) -> bool:
    """Too few labels for the classifier's doubts to mean much: no classifier yet, or
    fewer than ``per_class`` labels per class on average."""
    n_classes = max(2, len(pool.class_names))
    return pool.probabilities is None or pool.n_labeled < per_class * n_classes


def run_schedule(pool: Pool, spec: str, n: int, rng: np.random.Generator) -> list[Pick]:
    cold, warm, per_class = parse_schedule(spec)
    names = cold if is_cold(pool, per_class) else warm
    return interleave([STRATEGY_FUNCTIONS[name](pool, n, rng) for name in names], n)


def select(pool: Pool, strategy: str, n: int, seed: int = 0) -> list[Pick]:
    """Up to ``n`` picks of ``strategy`` ("default" = :data:`DEFAULT_SCHEDULE`, or a
    schedule such as ``"typicality>margin+balance"``), best first."""
    rng = np.random.default_rng(seed)
    if strategy == "default":
        return run_schedule(pool, DEFAULT_SCHEDULE, n, rng)
    if strategy in STRATEGY_FUNCTIONS:
        return STRATEGY_FUNCTIONS[strategy](pool, n, rng)
    return run_schedule(pool, strategy, n, rng)


def check_strategy(strategy: str) -> None:
    """Raises ValueError unless ``strategy`` is a known name or a valid schedule."""
    if strategy not in STRATEGIES:
        parse_schedule(strategy)


def _to_suggestions(pool: Pool, picks: list[Pick]) -> list[Suggestion]:
    run_id = pool.run_id
    return [Suggestion(image_id=int(pool.ids[p.index]), rank=rank, score=p.score, strategy=p.strategy,
                       reason=p.reason, run_id=run_id) for rank, p in enumerate(picks, start=1)]


def mask_suggestions(project: Project, n: int = DEFAULT_COUNT) -> list[Suggestion]:
    """The latest defect detector's "worth a mask" ranking as suggestions (empty without one)."""
    run = project.runs.latest(RunKind.SEGDEC)
    if run is None:
        return []
    entries = load_worth_a_mask(project, run)[:n]
    return [Suggestion(image_id=int(e["image_id"]), rank=k, score=float(e["score"]), strategy=MASK_STRATEGY,
                       reason=e["reason"], run_id=run.id) for k, e in enumerate(entries, start=1)]


def compute_suggestions(project: Project, strategy: str = "default", n: int = DEFAULT_COUNT,
                        exclude: Iterable[int] = (), seed: int = 0) -> list[Suggestion]:
    """Suggestions of ``strategy`` for ``project`` (not stored)."""
    if strategy == MASK_STRATEGY:
        excluded = {int(i) for i in exclude}
        return [s for s in mask_suggestions(project, n + len(excluded)) if s.image_id not in excluded][:n]
    pool = build_pool(project, exclude)
    return _to_suggestions(pool, select(pool, strategy, n, seed))


def refresh_suggestions(project_root: Path | str, *, strategy: str = "default", n: int = DEFAULT_COUNT,
                        exclude: Iterable[int] = (), seed: int = 0) -> list[Suggestion]:
    """Computes and stores the suggestions of ``strategy`` (opens its own connection: call
    it on any thread); returns them. ``mask`` returns the latest defect detector's ranking
    and stores nothing (the Worth a mask list reads the run's own file)."""
    with Project.open(project_root) as project:
        if strategy == MASK_STRATEGY:
            return mask_suggestions(project, n)
        suggestions = compute_suggestions(project, strategy, n, exclude, seed)
        project.suggestions.replace(suggestions)
        return suggestions


def suggest_job(request: SuggestRequest, cancel: threading.Event | None = None,
                ) -> Generator[Progress, None, list[Suggestion]]:
    """The last step of a retrain: fresh suggestions for the labels and models as they are."""
    started = time.perf_counter()
    yield Progress(phase="suggestions", step=0, total=1, unit="step",
                   message=f"choosing images to label next ({request.strategy})")
    stored = refresh_suggestions(request.project_root, strategy=request.strategy, n=request.n,
                                 exclude=request.exclude, seed=request.seed)
    yield Progress(phase="suggestions", step=1, total=1, unit="step",
                   message=f"{len(stored)} suggestions in {time.perf_counter() - started:.1f} s")
    return stored
