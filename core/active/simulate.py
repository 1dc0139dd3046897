"""The labeling simulator: plays the engineer on a folder whose answers are known.

It imports the folder once (the first-level sub-folder names each image's class; masks
found as the importer finds them), keeps those answers aside as the truth and removes
every label, then pretrains the encoder once. For every strategy and seed it copies
that project and repeats: ask the app for suggestions, reveal the true labels (and,
with the detector, the masks) of the suggested images, retrain with the real pipeline
(``retrain_job``, which also stores the next suggestions), and score the latest models
on a fixed held-out part that is never suggested. One CSV row per round and seed, and
a PNG of the learning curves of every strategy run with their spread over seeds.

Budgets are cumulative label counts, by default 1, 2, 3, 5, 8, 12, 16 and 20 labels per
class. Finished (strategy, seed) runs found in the CSV are not run again, so a long
simulation can be stopped and resumed.
"""

from __future__ import annotations

import csv
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.jobs.base import Progress, check_cancel, drain
from core.store import Project, RunKind, StoreError

logger = logging.getLogger(__name__)

ACTOR = "simulator"
PER_CLASS = (1, 2, 3, 5, 8, 12, 16, 20)
COMPARED = ("random", "typicality", "margin", "default")
OK_NAMES = {"ok", "good", "normal", "free", "mt_free", "defect-free", "defect_free", "no_defect", "nodefect", "none"}
COLUMNS = ("strategy", "seed", "round", "labels", "labels_per_class", "classes_seen", "accuracy", "macro_f1",
           "ap_defect", "ap_source", "seconds", "train_seconds", "suggest_seconds")
ROUNDS_CSV = "rounds.csv"
PLOT_PNG = "learning_curves.png"
HELD_OUT_SEED = 12345


@dataclass(frozen=True)
class SimulationConfig:
    images: Path
    out: Path
    strategies: tuple[str, ...] = COMPARED
    seeds: tuple[int, ...] = (0, 1, 2)
    budgets: tuple[int, ...] | None = None  # cumulative labels after each round, as given
    per_class: tuple[int, ...] = PER_CLASS  # else cumulative labels per class (x the number of classes)
    rounds: int | None = None  # else with per_round: per_round, 2 per_round, ... rounds x per_round
    per_round: int | None = None
    budget: int | None = None  # else 8 rounds growing geometrically from one label per class to this total
    held_out: float = 0.3
    ok_class: str | None = None  # None: a sub-folder named like OK / good / MT_Free, if any
    masks: str | None = None  # "auto" or a folder mirroring ``images`` (revealed with the labels)
    detector: bool = False  # also train the defect detector every round (slow on a CPU)
    pretrain: dict = field(default_factory=dict)  # PretrainRequest fields (epochs, size, encoder, method)
    classifier_epochs: int = 100
    workers: int = 1  # (strategy, seed) runs in parallel processes, one torch thread each
    keep_projects: bool = False
    again: bool = False  # run the strategies again even when the CSV has them (after changing one)


@dataclass(frozen=True)
class Truth:
    """The answers: class per image (by id), the OK class, masks kept aside, the held-out ids."""

    labels: dict[int, str]
    ok_class: str | None
    masks: dict[int, str]  # image id -> mask PNG kept in the work folder
    held_out: frozenset[int]

    @property
    def classes(self) -> list[str]:
        return sorted(set(self.labels.values()))


# -- preparing ---------------------------------------------------------------------------------
def guess_ok_class(names: Iterable[str]) -> str | None:
    found = [n for n in names if n.lower().replace(" ", "_") in OK_NAMES]
    return found[0] if len(found) == 1 else None


def held_out_split(labels: dict[int, str], fraction: float, seed: int = HELD_OUT_SEED) -> frozenset[int]:
    """A stratified ``fraction`` of the images per class (at least one of each class with two or more)."""
    rng = np.random.default_rng(seed)
    chosen: list[int] = []
    for name in sorted(set(labels.values())):
        members = sorted(i for i, c in labels.items() if c == name)
        k = int(round(fraction * len(members)))
        if len(members) >= 2:
            k = min(max(k, 1), len(members) - 1)
        chosen += rng.permutation(members)[:k].tolist()
    return frozenset(int(i) for i in chosen)


def prepare(config: SimulationConfig, cancel: threading.Event | None = None,
            ) -> Generator[Progress, None, tuple[Path, Truth]]:
    """The base project (imported, truth put aside, no labels, encoder pretrained) in
    ``out/work/base``; reused when a previous simulation left it complete."""
    from core.importing import ImportOptions, import_folder
    from core.training.classify import latest_pretrain_run
    from core.training.pretrain import PretrainRequest, pretrain_job

    base = config.out / "work" / "base"
    truth_file = config.out / "work" / "truth.csv"
    if not (base / "project.sqlite").exists() or not truth_file.exists():
        if base.exists():
            shutil.rmtree(base)
        folders = sorted(p.name for p in Path(config.images).iterdir() if p.is_dir())
        if len(folders) < 2:
            raise StoreError(f"{config.images} needs one sub-folder per class (found {len(folders)})")
        ok = config.ok_class or guess_ok_class(folders)
        yield Progress(phase="import", step=0, total=1, message=f"importing {config.images}")
        with Project.create(base) as project:
            report = import_folder(project, config.images, ImportOptions(
                labels_from_folders=True, ok_class=ok, masks=config.masks, actor=ACTOR, source="simulate"))
            if report.failed:
                logger.warning("%d files could not be read and are left out", len(report.failed))
            _put_truth_aside(project, config.out / "work", truth_file, ok)
        yield Progress(phase="import", step=1, total=1)
    truth = _read_truth(truth_file, config.held_out)
    with Project.open(base) as project:
        pretrained = latest_pretrain_run(project) is not None
    if not pretrained:
        request = PretrainRequest(project_root=base, **config.pretrain)
        result = yield from pretrain_job(request, cancel)
        if result.cancelled:
            check_cancel(cancel)
    return base, truth


def _put_truth_aside(project: Project, work: Path, truth_file: Path, ok: str | None) -> None:
    """Writes the imported labels (and copies of the masks) to the work folder, then
    removes them from the project: the simulation starts with nothing labeled."""
    names = {c.id: c.name for c in project.classes.list()}
    masks_dir = work / "truth-masks"
    masks_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for image_id, label in sorted(project.labels.all().items()):
        mask_file = ""
        mask = project.masks.load(image_id)  # an empty mask is an answer too ("no defect pixels")
        if mask is not None:
            mask_file = str(masks_dir / f"{image_id}.npy")
            np.save(mask_file, mask)
        rows.append((image_id, names[label.class_id], mask_file))
    for image_id in list(project.masks.all()):
        project.masks.save(image_id, None, actor=ACTOR, source="simulate")
    project.labels.apply([(image_id, None) for image_id, _c, _m in rows], actor=ACTOR, source="simulate")
    tmp = truth_file.with_suffix(".tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("image_id", "class", "mask", "ok_class"))
        for image_id, name, mask_file in rows:
            writer.writerow((image_id, name, mask_file, ok or ""))
    os.replace(tmp, truth_file)


def _read_truth(path: Path, held_out: float) -> Truth:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    labels = {int(r["image_id"]): r["class"] for r in rows}
    masks = {int(r["image_id"]): r["mask"] for r in rows if r["mask"]}
    ok = next((r["ok_class"] for r in rows if r["ok_class"]), None)
    return Truth(labels=labels, ok_class=ok, masks=masks, held_out=held_out_split(labels, held_out))


# -- one (strategy, seed) run -----------------------------------------------------------------
def budgets_for(config: SimulationConfig, n_classes: int) -> list[int]:
    """Cumulative label counts after each round."""
    if config.budgets:
        return sorted({int(b) for b in config.budgets})
    if config.rounds and config.per_round:
        return [config.per_round * (k + 1) for k in range(config.rounds)]
    if config.budget:
        first = min(n_classes, config.budget)
        return sorted({int(round(b)) for b in np.geomspace(first, config.budget, 8)})
    return sorted({int(k) * n_classes for k in config.per_class})


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
    started = time.perf_counter()
    suggested = [s.image_id for s in refresh_suggestions(root, strategy=strategy, n=budgets[0], exclude=exclude,
                                                         seed=seed)]
    suggest_seconds = time.perf_counter() - started
    try:
        for round_index in range(len(budgets)):
            check_cancel(cancel)
            round_started = time.perf_counter()
            with Project.open(root) as project:
                _reveal(project, truth, suggested, config.detector)
                labeled = project.labels.count()
            last = round_index == len(budgets) - 1
            request = False if last else SuggestRequest(
                project_root=root, strategy=strategy, n=budgets[round_index + 1] - labeled, exclude=exclude,
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
                scores = evaluate(project, truth)
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


def _reveal(project: Project, truth: Truth, image_ids: list[int], with_masks: bool) -> None:
    classes = {c.name: c for c in project.classes.list()}
    changes = [(i, classes[truth.labels[i]].id) for i in image_ids if i in truth.labels and i not in truth.held_out]
    if len(changes) < len(image_ids):
        raise AssertionError("a suggestion was held out or unknown: the simulation would leak the test set")
    project.labels.apply(changes, actor=ACTOR, source="simulate")
    if with_masks:
        for image_id, _ in changes:
            if image_id in truth.masks:
                project.masks.save(image_id, np.load(truth.masks[image_id]), actor=ACTOR, source="simulate")


def evaluate(project: Project, truth: Truth) -> dict:
    """Accuracy and macro-F1 of the latest classifier on the held-out images (every truth
    class counts, a class never predicted scores F1 0), and the AP of "defective" when an
    OK class exists: from the defect detector when one was trained, else 1 - p(OK)."""
    from sklearn.metrics import average_precision_score, f1_score

    held = sorted(truth.held_out)
    names = {c.id: c.name for c in project.classes.list()}
    by_name = {v: k for k, v in names.items()}
    y = np.array([truth.labels[i] for i in held])
    labeled = {names[label.class_id] for label in project.labels.all().values()}
    run_id = project.predictions.latest_run(RunKind.CLASSIFIER)
    p_ok = None
    if run_id is not None and len(labeled) >= 2:
        run_classes = project.runs.get(run_id).config["classes"]
        stored_ids, stored = project.predictions.probability_matrix(run_id)
        p = stored[np.searchsorted(stored_ids, held)]
        predicted = np.array([names[run_classes[k]] for k in p.argmax(axis=1)])
        if truth.ok_class in by_name and by_name[truth.ok_class] in run_classes:
            p_ok = p[:, run_classes.index(by_name[truth.ok_class])]
    else:  # one class labeled: everything is that class
        predicted = np.full(len(held), next(iter(labeled)) if labeled else "")
    out = {"classes_seen": len(labeled), "accuracy": round(float((predicted == y).mean()), 4),
           "macro_f1": round(float(f1_score(y, predicted, labels=truth.classes, average="macro", zero_division=0)), 4),
           "ap_defect": "", "ap_source": ""}
    if truth.ok_class:
        defective = (y != truth.ok_class).astype(int)
        detector_run = project.predictions.latest_run(RunKind.SEGDEC)
        if detector_run is not None:
            probability = project.predictions.defect_probabilities(detector_run)
            score, source = np.array([probability[i] for i in held]), "detector"
        elif p_ok is not None:
            score, source = 1.0 - p_ok, "classifier"
        else:
            score, source = np.ones(len(held)), "none"
        out["ap_defect"] = round(float(average_precision_score(defective, score)), 4)
        out["ap_source"] = source
    return out


# -- the whole simulation ----------------------------------------------------------------------
def done_runs(path: Path, n_rounds: int) -> set[tuple[str, int]]:
    """(strategy, seed) pairs with every round in the CSV."""
    if not path.exists():
        return set()
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    counts: dict[tuple[str, int], int] = {}
    for r in rows:
        key = (r["strategy"], int(r["seed"]))
        counts[key] = counts.get(key, 0) + 1
    return {k for k, v in counts.items() if v >= n_rounds}


class _CsvWriter:
    """Appends rows (flushed each time: a stopped simulation keeps what it measured);
    rows of an unfinished (strategy, seed) from an earlier attempt are dropped first."""

    def __init__(self, path: Path, finished: set[tuple[str, int]]) -> None:
        self.path = path
        kept = []
        if path.exists():
            with open(path, newline="") as f:
                kept = [r for r in csv.DictReader(f) if (r["strategy"], int(r["seed"])) in finished]
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, COLUMNS)
            writer.writeheader()
            writer.writerows(kept)
        self._lock = threading.Lock()

    def __call__(self, row: dict) -> None:
        with self._lock, open(self.path, "a", newline="") as f:
            csv.DictWriter(f, COLUMNS).writerow(row)


def _worker(args: tuple) -> list[dict]:
    config, base, truth, strategy, seed = args
    import torch

    torch.set_num_threads(1)
    rows: list[dict] = []
    run_one(config, base, truth, strategy, seed, rows.append)
    return rows


def simulate(config: SimulationConfig, cancel: threading.Event | None = None,
             ) -> Generator[Progress, None, Path]:
    """Runs every strategy and seed; returns the CSV path (the PNG lies beside it)."""
    from core.active.suggest import MASK_STRATEGY, check_strategy

    for s in config.strategies:
        if s == MASK_STRATEGY:
            raise ValueError("the simulator compares label suggestions; 'mask' suggests masks")
        check_strategy(s)
    config.out.mkdir(parents=True, exist_ok=True)
    base, truth = yield from prepare(config, cancel)
    n_rounds = len(budgets_for(config, len(truth.classes)))
    csv_path = config.out / ROUNDS_CSV
    finished = done_runs(csv_path, n_rounds)
    if config.again:
        finished = {(s, seed) for s, seed in finished if s not in config.strategies}
    write = _CsvWriter(csv_path, finished)
    todo = [(s, seed) for s in config.strategies for seed in config.seeds if (s, seed) not in finished]
    total = len(todo)
    yield Progress(phase="simulating", step=0, total=total,
                   message=f"{total} runs of {n_rounds} rounds ({len(finished)} already in {csv_path.name})")
    if config.workers > 1 and total > 1:
        import multiprocessing
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=config.workers, mp_context=context) as pool:
            pending = {pool.submit(_worker, (config, base, truth, s, seed)): (s, seed) for s, seed in todo}
            done = 0
            while pending:
                finished_now, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in finished_now:
                    s, seed = pending.pop(future)
                    for row in future.result():
                        write(row)
                    done += 1
                    yield Progress(phase="simulating", step=done, total=total, message=f"{s} seed {seed} done")
                if cancel is not None and cancel.is_set():
                    for future in pending:
                        future.cancel()
                    check_cancel(cancel)
    else:
        for done, (s, seed) in enumerate(todo, start=1):
            run_one(config, base, truth, s, seed, write, cancel)
            yield Progress(phase="simulating", step=done, total=total, message=f"{s} seed {seed} done")
    folder = Path(config.images).resolve()
    title = folder.parent.name if folder.name.lower() in ("images", "data", "train") else folder.name
    plot_learning_curves(csv_path, config.out / PLOT_PNG, title=title)
    return csv_path


# -- reading the results -----------------------------------------------------------------------
def read_rounds(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def summary_table(path: Path, metric: str = "accuracy") -> tuple[list[str], list[tuple[float, dict]]]:
    """(strategies, [(labels per class, {strategy: (mean, std, runs)})]) over seeds, per budget."""
    rows = [r for r in read_rounds(path) if r[metric] != ""]
    strategies = list(dict.fromkeys(r["strategy"] for r in rows))
    budgets = sorted({float(r["labels_per_class"]) for r in rows})
    table = []
    for b in budgets:
        cells = {}
        for s in strategies:
            values = [float(r[metric]) for r in rows if r["strategy"] == s and float(r["labels_per_class"]) == b]
            if values:
                cells[s] = (float(np.mean(values)), float(np.std(values)), len(values))
        table.append((b, cells))
    return strategies, table


def plot_learning_curves(path: Path, png: Path, title: str = "") -> Path:
    """One panel per metric (accuracy, macro-F1, AP of defective when present): the mean
    over seeds per strategy, with a band from the lowest to the highest seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_rounds(path)
    metrics = ["accuracy", "macro_f1"] + (["ap_defect"] if any(r["ap_defect"] for r in rows) else [])
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 4.2), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        strategies, table = summary_table(path, metric)
        for s in strategies:
            xs, mean, low, high = [], [], [], []
            for b, _cells in table:
                values = [float(r[metric]) for r in rows
                          if r["strategy"] == s and float(r["labels_per_class"]) == b and r[metric] != ""]
                if values:
                    xs.append(b)
                    mean.append(np.mean(values))
                    low.append(min(values))
                    high.append(max(values))
            style = {"linewidth": 2.4} if s == "default" else {"linewidth": 1.4}
            line, = ax.plot(xs, mean, marker="o", markersize=3, label=s, **style)
            ax.fill_between(xs, low, high, color=line.get_color(), alpha=0.15, linewidth=0)
        ax.set_xscale("log")
        ax.set_xlabel("labels per class")
        ax.set_ylabel({"accuracy": "accuracy", "macro_f1": "macro-F1", "ap_defect": "AP (defective)"}[metric])
        ax.grid(True, alpha=0.3)
        ticks = sorted({b for b, _ in table})
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{t:g}" for t in ticks], fontsize=8)
        ax.minorticks_off()
    axes[0][0].legend(fontsize=8, loc="lower right")
    seeds = len({r["seed"] for r in rows})
    fig.suptitle(f"{title}: learning curves (mean over {seeds} seeds, band = lowest to highest seed)".strip(": "))
    fig.tight_layout()
    tmp = png.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, png)
    return png
