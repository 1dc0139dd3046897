"""The labeling simulator: plays the engineer on a folder whose answers are known. This
module runs the whole of it: every strategy and seed, one after the other or in parallel
processes (one torch thread each), then the plot of the learning curves.

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

import threading
from collections.abc import Generator
from pathlib import Path

from core.active.simulator.config import SimulationConfig, budgets_for
from core.active.simulator.plot import PLOT_PNG, plot_learning_curves
from core.active.simulator.results import ROUNDS_CSV, CsvWriter, done_runs
from core.active.simulator.rounds import run_one
from core.active.simulator.truth import prepare
from core.jobs.base import Progress, check_cancel
from core.jobs.worker import exit_with_parent


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
    write = CsvWriter(csv_path, finished)
    todo = [(s, seed) for s in config.strategies for seed in config.seeds if (s, seed) not in finished]
    total = len(todo)
    yield Progress(phase="simulating", step=0, total=total, unit="run",
                   message=f"{total} runs of {n_rounds} rounds ({len(finished)} already in {csv_path.name})")
    if config.workers > 1 and total > 1:
        import multiprocessing
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=config.workers, mp_context=context, initializer=exit_with_parent) as pool:
            pending = {pool.submit(_worker, (config, base, truth, s, seed)): (s, seed) for s, seed in todo}
            done = 0
            while pending:
                finished_now, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in finished_now:
                    s, seed = pending.pop(future)
                    for row in future.result():
                        write(row)
                    done += 1
                    yield Progress(phase="simulating", step=done, total=total, unit="run",
                                   message=f"{s} seed {seed} done")
                if cancel is not None and cancel.is_set():
                    for future in pending:
                        future.cancel()
                    check_cancel(cancel)
    else:
        for done, (s, seed) in enumerate(todo, start=1):
            run_one(config, base, truth, s, seed, write, cancel)
            yield Progress(phase="simulating", step=done, total=total, unit="run", message=f"{s} seed {seed} done")
    folder = Path(config.images).resolve()
    title = folder.parent.name if folder.name.lower() in ("images", "data", "train") else folder.name
    plot_learning_curves(csv_path, config.out / PLOT_PNG, title=title)
    return csv_path
