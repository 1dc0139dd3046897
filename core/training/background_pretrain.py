"""Pretraining that goes on in the background: the newest encoder keeps learning while the project is idle.

The first retrain pretrains the encoder for a few epochs so that it ends in minutes
(:mod:`core.training.pretrain`); its loss is still falling then. This job continues the
newest pretrained encoder (:func:`core.training.embed_new.extendable_run`) with the same
method, network and input size: the whole contrastive model and its Adam state when a
run of this job stored them (``ssl_state.pt``); the model with a fresh Adam at the run's
learning rate (constant from then on) when a pretraining run stored it; else the encoder
with a fresh projection head.

It trains in chunks of ``chunk_steps`` steps. After each chunk it writes a resume point
(``cache/background-pretrain.pt``: model, optimizer, epochs, losses; cheap), so that a
pause loses at most the step under way: the cancel flag is checked between steps, and
a cancelled job saves the resume point and returns ``stopped="paused"``. The next start
continues from the resume point when it belongs to the newest encoder's chain, else
from the newest encoder.

Every ``checkpoint_minutes`` of training (at a chunk boundary; the training before a
pause counts, so that frequent retrains cannot keep it from ever saving one) it embeds
every image with the encoder and records a new finished pretraining run of the same
method: config
``continues`` (the run it continued), metrics ``epochs`` (all of them), ``loss`` (the
mean since the last checkpoint), ``loss_history`` (one ``[epochs, loss]`` per checkpoint
of the chain); only the newest checkpoint keeps ``ssl_state.pt``. The texture statistics
are taken from the run it continues (they do not depend on the encoder); only images
that run lacks get theirs computed. So
:func:`core.training.classify.latest_pretrain_run` finds the newest checkpoint and the
next retrain uses it. The embedding is cancellable; the run is recorded only once
everything is computed (a pause never leaves a cancelled run behind).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from core.files import atomic_writer
from core.jobs.base import JobCancelled, Progress
from core.jobs.runs import RunRecorder, TrainingBusyError, load_checkpoint
from core.jobs.snapshot import take_snapshot
from core.media.pixel_cache import PixelCache, build_pixel_cache
from core.store import Project, Run
from core.training.embed_new import extendable_run
from core.training.encoder_status import describe_encoder, on_battery
from core.training.pretrain import CPU_BATCH, SSL_STATE, PretrainRequest

logger = logging.getLogger(__name__)
RESUME_FILE = "background-pretrain.pt"  # in the project's cache folder
STATE_FILE = SSL_STATE  # in a run's folder: the whole contrastive model (and, from this job, its optimizer)
PHASE = "background pretraining"
CHECKPOINT_PHASE = "encoder checkpoint saved"
EMBED_STEP = 64  # images per forward pass of a checkpoint's embedding: a pause waits for one (a second on one thread)


@dataclass(frozen=True)
class BackgroundPretrainRequest:
    """How the background pretraining runs.

    ``minutes`` None: until cancelled (the window's); a number: stop after that long with a
    last checkpoint (the command line's). ``checkpoint_minutes`` 0: a checkpoint after
    every chunk (tests)."""

    project_root: Path
    checkpoint_minutes: float = 5.0
    minutes: float | None = None
    chunk_steps: int = 8  # steps between resume points
    threads: int = 1  # torch threads: one, so that the window and other programs keep the rest
    device: str = "cpu"
    workers: int | None = 1  # decoding processes when the pixel cache must be built again
    check_battery: bool = True


@dataclass(frozen=True)
class BackgroundPretrainResult:
    """``stopped``: "paused" (cancelled), "time up", "no encoder", "on battery", "busy"
    (another process trains on the project)."""

    runs: tuple[Run, ...]
    stopped: str
    epochs: float
    loss: float | None
    seconds: float
    line: str = ""  # the panel's line at the end ("encoder: 34 epochs, loss 2.91, improving")

    @property
    def run(self) -> Run | None:
        return self.runs[-1] if self.runs else None


@dataclass
class _Chain:
    """The training state carried from chunk to chunk (and through the resume point)."""

    base: Run  # the run the state continues (the newest checkpoint of the chain)
    model: Any
    optimizer: Any
    epochs: float
    steps: int  # steps since the chain began (seeds the batch order)
    history: list[list[float]]
    losses: list[float]  # since the last checkpoint
    accuracies: list[float]
    trained_s: float = 0.0  # seconds trained since the last checkpoint, pauses left out


def background_pretrain_job(request: BackgroundPretrainRequest, cancel: threading.Event | None = None,
                            ) -> Generator[Progress, None, BackgroundPretrainResult]:
    """The job (opens its own project connection; run it in the training process)."""
    import torch

    started = time.monotonic()
    torch.set_num_threads(max(1, request.threads))

    def stop(why: str, chain: _Chain | None = None, runs: tuple[Run, ...] = ()) -> BackgroundPretrainResult:
        epochs = chain.epochs if chain else 0.0
        loss = None
        if chain is not None:  # the mean since the last checkpoint, else the last checkpoint's
            loss = float(np.mean(chain.losses)) if chain.losses else (chain.history[-1][1] if chain.history else None)
        line = describe_encoder(epochs, loss, chain.history) if chain else ""
        return BackgroundPretrainResult(runs=runs, stopped=why, epochs=epochs, loss=loss,
                                        seconds=time.monotonic() - started, line=line)

    if request.check_battery and on_battery():
        return stop("on battery")
    with Project.open(request.project_root) as project:
        base = extendable_run(project)
        if base is None:
            return stop("no encoder")
        config = load_checkpoint(project, base)["config"]
        try:
            cache = yield from build_pixel_cache(project, int(config["cache_size"]), workers=request.workers,
                                                 cancel=cancel)
        except JobCancelled:
            return stop("paused")
        chain = _restore(project, base, len(cache.ids), request.device)
        batch = int(base.config.get("batch_size") or CPU_BATCH)
        batch = min(batch if request.device != "cpu" else min(batch, CPU_BATCH), len(cache.ids))  # short steps
        size = int(config["size"])
        runs: list[Run] = []
        while True:
            chunk_started = time.monotonic()
            yield from _train_chunk(chain, cache, request, batch, size, cancel, started)
            chain.trained_s += time.monotonic() - chunk_started
            _save_resume(project, chain)
            if cancel is not None and cancel.is_set():
                return stop("paused", chain, tuple(runs))
            time_up = request.minutes is not None and time.monotonic() - started >= request.minutes * 60
            if time_up or chain.trained_s >= request.checkpoint_minutes * 60:  # counted across pauses
                try:
                    run = yield from _checkpoint(project, chain, cache, config, request, cancel)
                except JobCancelled:
                    return stop("paused", chain, tuple(runs))
                except TrainingBusyError:
                    return stop("busy", chain, tuple(runs))
                runs.append(run)
                yield Progress(phase=CHECKPOINT_PHASE, step=run.id, total=0, epoch=chain.epochs,
                               message=describe_encoder(chain.epochs, run.metrics.get("loss"), chain.history))
            if time_up:
                return stop("time up", chain, tuple(runs))
            if request.check_battery and on_battery():
                return stop("on battery", chain, tuple(runs))


def resume_path(project: Project) -> Path:
    return project.cache_dir / RESUME_FILE


def _lineage(project: Project, run: Run) -> list[int]:
    """``run`` and the runs it extends with the same encoder (new images embedded), newest first."""
    chain, seen = [run.id], {run.id}
    while isinstance(extends := run.config.get("extends"), int) and extends not in seen:
        seen.add(extends)
        chain.append(extends)
        run = project.runs.get(extends)
    return chain


def _request_of(project_root: Path, base: Run) -> PretrainRequest:
    names = {f.name for f in fields(PretrainRequest)} - {"project_root", "batch_size", "workers", "threads", "device"}
    return PretrainRequest(project_root=project_root, **{k: v for k, v in base.config.items() if k in names})


def _restore(project: Project, base: Run, n_images: int, device: str) -> _Chain:
    """The state to go on from: the resume point when it continues ``base``'s encoder, else
    the state ``base`` stored, else ``base``'s encoder with a fresh head and optimizer."""
    import torch

    from core.training.pretrain import _build_model

    request = _request_of(project.root, base)
    model = _build_model(request, n_images).to(device).to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=request.lr, weight_decay=1e-6)
    lineage = _lineage(project, base)
    state = None
    resume = resume_path(project)
    if resume.exists():
        state = torch.load(resume, map_location=device, weights_only=True)
        if int(state.get("base_run", -1)) not in lineage:
            state = None
    for run_id in lineage if state is None else ():
        stored = project.runs_dir / str(run_id) / STATE_FILE
        if stored.exists():
            state = torch.load(stored, map_location=device, weights_only=True)
            break
    epochs = float(base.metrics.get("epochs") or 0.0)
    loss = base.metrics.get("loss")
    history = [[epochs, float(loss)]] if isinstance(loss, int | float) else []
    try:
        if state is None:
            raise KeyError("no stored state")
        model.load_state_dict(state["model"])
        if "optimizer" in state:  # a pretraining run stores the model only: a fresh Adam then
            optimizer.load_state_dict(state["optimizer"])
    except (RuntimeError, ValueError, KeyError):  # none, or another network (NNCLR's queue grew, say)
        logger.info("going on from the encoder alone, with a fresh projection head and optimizer")
        model.encoder.load_state_dict(load_checkpoint(project, base)["state_dict"])
        state = {}
    return _Chain(base=base, model=model, optimizer=optimizer, epochs=float(state.get("epochs", epochs)),
                  steps=int(state.get("steps", 0)),
                  history=[list(map(float, p)) for p in state.get("history", history)],
                  losses=[float(x) for x in state.get("losses", [])],
                  accuracies=[float(x) for x in state.get("accuracies", [])],
                  trained_s=float(state.get("trained_s", 0.0)))


def _state(chain: _Chain) -> dict[str, Any]:
    return {"base_run": chain.base.id, "model": _contiguous(chain.model.state_dict()),
            "optimizer": chain.optimizer.state_dict(), "epochs": chain.epochs, "steps": chain.steps,
            "history": chain.history, "losses": chain.losses, "accuracies": chain.accuracies,
            "trained_s": chain.trained_s}


def _contiguous(state_dict: dict[str, Any]) -> dict[str, Any]:
    return {k: v.contiguous() for k, v in state_dict.items()}


def _save(path: Path, data: dict[str, Any]) -> None:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_writer(path, "wb") as handle:
        torch.save(data, handle)


def _save_resume(project: Project, chain: _Chain) -> None:
    _save(resume_path(project), _state(chain))


def _batches(seed: int, start_step: int, n: int, batch: int) -> Iterator[np.ndarray]:
    """Whole batches of a fresh permutation per epoch, from step ``start_step`` of the chain
    (the order depends on the seed and the epoch only, so a resumed chain goes on with it)."""
    per_epoch = max(1, n // batch)
    first_epoch, skip = divmod(start_step, per_epoch)
    for epoch in itertools.count(first_epoch):
        order = np.random.default_rng([seed, epoch]).permutation(n)
        for k in range(skip if epoch == first_epoch else 0, per_epoch):
            yield order[k * batch:(k + 1) * batch]


def _train_chunk(chain: _Chain, cache: PixelCache, request: BackgroundPretrainRequest, batch: int, size: int,
                 cancel: threading.Event | None, started: float) -> Generator[Progress, None, None]:
    import torch

    from models.ssl import TwoViewAugment, ssl_epoch

    n = len(cache.ids)
    seed = int(chain.base.seed or 0)
    augment = TwoViewAugment(size=size)
    generator = torch.Generator().manual_seed(seed * 1_000_003 + chain.steps)
    indices = itertools.islice(_batches(seed, chain.steps, n, batch), request.chunk_steps)
    views = (augment(torch.from_numpy(np.array(cache.pixels[np.sort(idx)]))[:, None], generator) for idx in indices)
    for stats in ssl_epoch(chain.model, views, chain.optimizer, cancel=cancel.is_set if cancel else None):
        chain.steps += 1
        chain.epochs += batch / n
        chain.losses.append(float(stats.loss))
        chain.accuracies.append(float(stats.accuracy))
        yield _progress(chain, request, started)


def _progress(chain: _Chain, request: BackgroundPretrainRequest, started: float) -> Progress:
    loss = float(np.mean(chain.losses[-20:]))
    step, total = 0, 0
    if request.minutes:  # a share of the time budget, for the command line's bar
        step, total = min(1000, int((time.monotonic() - started) / (request.minutes * 60) * 1000)), 1000
    return Progress(phase=PHASE, step=step, total=total, losses={"contrastive loss": chain.losses[-1]},
                    epoch=chain.epochs,
                    message=describe_encoder(chain.epochs, loss, chain.history))


def _checkpoint(project: Project, chain: _Chain, cache: PixelCache, config: dict, request: BackgroundPretrainRequest,
                cancel: threading.Event | None) -> Generator[Progress, None, Run]:
    """Embeds every image with the encoder as it is now and records a pretraining run."""
    from models.features import block_weight

    started = time.monotonic()
    embeddings, texture = yield from _features(project, chain, cache, int(config["size"]), cancel, request.device)
    weight = block_weight(embeddings, texture)
    loss = float(np.mean(chain.losses)) if chain.losses else None
    accuracy = float(np.mean(chain.accuracies)) if chain.accuracies else None
    history = [*chain.history, [chain.epochs, loss]]
    base = chain.base
    run_config = {**{k: v for k, v in base.config.items() if k not in ("extends", "images_added")},
                  "continues": base.id, "device": request.device, "checkpoint_minutes": request.checkpoint_minutes}
    with RunRecorder(project, method=base.method, config=run_config, snapshot=take_snapshot(project),
                     seed=base.seed) as recorder:
        _save(recorder.partial_dir / STATE_FILE, {**_state(chain), "history": history, "losses": [],
                                                  "accuracies": [], "trained_s": 0.0})
        encoder = _contiguous({k: v.cpu() for k, v in chain.model.encoder.state_dict().items()})
        recorder.save_checkpoint(encoder, config={**config, "cache_size": cache.size, "encoder_weight": weight})
        np.save(recorder.partial_dir / "embeddings.npy", embeddings)
        np.save(recorder.partial_dir / "texture.npy", texture)
        np.save(recorder.partial_dir / "ids.npy", cache.ids)
        run = recorder.finish(metrics={
            "loss": loss, "contrastive_accuracy": accuracy, "images": int(len(cache.ids)), "encoder_weight": weight,
            "epochs": chain.epochs, "continues": base.id, "loss_history": history,
            "steps": chain.steps, "seconds": time.monotonic() - started})
    if "continues" in base.config:  # only the newest checkpoint keeps the state to go on from (5 MB each)
        (project.runs_dir / str(base.id) / STATE_FILE).unlink(missing_ok=True)
    chain.base, chain.history, chain.losses, chain.accuracies, chain.trained_s = run, history, [], [], 0.0
    _save_resume(project, chain)  # the resume point now belongs to the new run
    return run


def _features(project: Project, chain: _Chain, cache: PixelCache, size: int, cancel: threading.Event | None,
              device: str) -> Generator[Progress, None, tuple[np.ndarray, np.ndarray]]:
    """(embeddings of every cached image, texture statistics): those of the run the chain
    continues where it has them, computed for the images it lacks."""
    import torch

    from core.jobs.base import check_cancel
    from models.features import FeatureExtractor

    folder = project.runs_dir / str(chain.base.id)
    old_ids, old_texture = np.load(folder / "ids.npy"), np.load(folder / "texture.npy")
    extractor = FeatureExtractor(chain.model.encoder, size=size).to(device)  # puts the encoder in eval mode
    n = len(cache.ids)
    embeddings = np.zeros((n, 0), np.float32)
    texture = np.zeros((n, old_texture.shape[1]), old_texture.dtype)
    order = np.argsort(old_ids, kind="stable")
    position = order[np.searchsorted(old_ids[order], cache.ids).clip(0, max(0, len(old_ids) - 1))]
    known = old_ids[position] == cache.ids if len(old_ids) else np.zeros(n, bool)
    texture[known] = old_texture[position[known]]
    parts = []
    with torch.no_grad():
        for start in range(0, n, EMBED_STEP):
            check_cancel(cancel)
            stop = min(n, start + EMBED_STEP)
            x = torch.from_numpy(np.array(cache.pixels[start:stop]))[:, None].to(device).float() / 255.0
            parts.append(extractor.embed(x).cpu().numpy().astype(np.float32))
            missing = ~known[start:stop]
            if missing.any():
                texture[start:stop][missing] = extractor.texture(x[torch.from_numpy(missing)]).cpu().numpy()
            yield Progress(phase="embedding every image with the newer encoder", step=stop, total=n, unit="image")
    chain.model.train()
    embeddings = np.concatenate(parts) if parts else embeddings
    return embeddings, texture
