"""Contrastive pretraining of an encoder on every image of a project (paper 004).

The job decodes the images once into the pixel cache, trains SimCLR or NNCLR on
augmented pairs without labels, saves the encoder as a run (state_dict + config), and
embeds every image with it (``embeddings.npy`` + ``ids.npy`` in the run's folder): the
embeddings drive the few-label classifier, the suggestions and the map.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Generator, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from core.files import atomic_writer
from core.jobs.base import Eta, JobCancelled, Progress, check_cancel
from core.jobs.curves import CurveLog, logged, save_curves
from core.jobs.runs import RunRecorder
from core.jobs.snapshot import LabelSnapshot, take_snapshot
from core.media.pixel_cache import PixelCache, build_pixel_cache
from core.store import Project, Run, RunKind, StoreError

METHODS = ("simclr", "nnclr")
CPU_BATCH = 64  # source images per step on the CPU (benchmarks/encoder_speed.py)
EMBED_CHUNK = 256  # images per forward pass when embedding every image on the CPU
SSL_STATE = "ssl_state.pt"  # the whole contrastive model (projection head too), to train it further


@dataclass(frozen=True)
class PretrainRequest:
    """What to pretrain; defaults measured on 2 CPU cores (benchmarks/encoder_speed.py).

    ``batch_size`` None: :data:`CPU_BATCH` on the CPU, more on CUDA
    (:func:`core.jobs.device.scaled_batch`); a number is used as it is on any device.
    """

    project_root: Path
    method: str = "simclr"
    encoder: str = "shufflenet"
    size: int = 96
    epochs: int = 20
    batch_size: int | None = None  # None: CPU_BATCH on the CPU, scaled up on CUDA
    lr: float = 1e-3
    temperature: float = 0.1
    seed: int = 0
    workers: int | None = None
    encoder_kwargs: dict = field(default_factory=dict)
    max_samples: int = 150_000  # cap on images seen (epochs x images): 100k images get 1 epoch, not 20
    threads: int | None = None  # torch threads; None: every core (1 when other jobs share the machine)
    device: str = "auto"  # "auto" (CUDA when there is one, else the CPU), "cpu" or "cuda"

    def epochs_for(self, n_images: int) -> int:
        """Epochs actually run on ``n_images``: ``epochs``, fewer for large projects so the
        first retrain ends in minutes (``max_samples``), at least 1 when ``epochs`` > 0."""
        if self.epochs <= 0:
            return 0
        return max(1, min(self.epochs, self.max_samples // max(1, n_images)))

    def config(self) -> dict:
        data = asdict(self)
        data.pop("project_root")
        data.pop("workers")
        data.pop("threads")
        data.pop("device")
        return data

    def batch_for(self, device: str) -> int:
        """Source images per step on ``device`` (before capping at the project's size)."""
        from core.jobs.device import scaled_batch

        return self.batch_size if self.batch_size is not None else scaled_batch(CPU_BATCH, device, "pretrain")


@dataclass(frozen=True)
class PretrainResult:
    run: Run | None
    cancelled: bool
    seconds: float
    loss: float | None = None
    contrastive_accuracy: float | None = None


def pretrain_job(request: PretrainRequest, cancel: threading.Event | None = None, *,
                 snapshot: LabelSnapshot | None = None) -> Generator[Progress, None, PretrainResult]:
    """The pretraining job (opens its own project connection: run it on any thread); the
    run records ``snapshot`` (None: the current labels) though it trains on no label."""
    import torch

    from core.jobs.device import resolve_device

    if request.method not in METHODS:
        raise ValueError(f"unknown method {request.method!r}; choose from {', '.join(METHODS)}")
    device = resolve_device(request.device)
    started = time.perf_counter()
    torch.manual_seed(request.seed)
    torch.set_num_threads(request.threads or max(1, os.cpu_count() or 1))
    with Project.open(request.project_root) as project:
        if project.images.count() < 2:
            raise StoreError("pretraining needs at least two images in the project")
        try:
            cache = yield from build_pixel_cache(project, _cache_size(request.size), workers=request.workers,
                                                 cancel=cancel)
        except JobCancelled:
            return PretrainResult(run=None, cancelled=True, seconds=time.perf_counter() - started)
        config = {**request.config(), "batch_size": request.batch_for(device), "device": device}
        with RunRecorder(project, method=RunKind.PRETRAIN.method(request.method), config=config,
                         snapshot=snapshot or take_snapshot(project), seed=request.seed) as recorder:
            curves = CurveLog()
            model, stats = yield from logged(_train(request, cache, cancel, device), curves)
            embeddings, texture = yield from _embed(model.encoder, cache, request.size, cancel, device)
            model.cpu()
            with atomic_writer(recorder.partial_dir / SSL_STATE, "wb") as handle:  # the background pretraining's start
                torch.save({"model": {k: v.contiguous() for k, v in model.state_dict().items()}}, handle)
            from models.features import block_weight

            weight = block_weight(embeddings, texture)
            recorder.save_checkpoint(model.encoder.state_dict(), config={
                "encoder": request.encoder, "encoder_kwargs": request.encoder_kwargs, "in_channels": 1,
                "size": request.size, "mean": [0.5], "std": [0.25], "cache_size": cache.size,
                "encoder_weight": weight})
            np.save(recorder.partial_dir / "embeddings.npy", embeddings)
            np.save(recorder.partial_dir / "texture.npy", texture)
            np.save(recorder.partial_dir / "ids.npy", cache.ids)
            save_curves(recorder, curves)
            run = recorder.finish(metrics={"loss": stats[0], "contrastive_accuracy": stats[1],
                                           "images": int(len(cache.ids)), "encoder_weight": weight,
                                           "epochs": request.epochs_for(len(cache.ids)),
                                           "seconds": time.perf_counter() - started})
            return PretrainResult(run=run, cancelled=False, seconds=time.perf_counter() - started,
                                  loss=stats[0], contrastive_accuracy=stats[1])
    return PretrainResult(run=None, cancelled=True, seconds=time.perf_counter() - started)


def _cache_size(size: int) -> int:
    """Cached a third larger than the input, so random crops do not upsample; a multiple
    of 16 (the texture statistics' thumbnail)."""
    return max(64, int(round(size * 4 / 3 / 16)) * 16)


def _build_model(request: PretrainRequest, n_images: int):
    from models.encoders import create_encoder
    from models.ssl import NNCLR, SimCLR, queue_size_for

    encoder = create_encoder(request.encoder, in_channels=1, **request.encoder_kwargs)
    if request.method == "nnclr":
        return NNCLR(encoder, queue_size=queue_size_for(n_images), temperature=request.temperature)
    return SimCLR(encoder, temperature=request.temperature)


def _train(request: PretrainRequest, cache: PixelCache, cancel: threading.Event | None, device: str = "cpu"):
    """Trains on ``device``; the augmentations run on the CPU (their random numbers come
    from one CPU generator, so a seed gives the same views on every device)."""
    import torch

    from core.jobs.device import describe_device
    from models.ssl import TwoViewAugment, ssl_epoch

    where = describe_device(device)
    model = _build_model(request, len(cache.ids)).to(device)
    augment = TwoViewAugment(size=request.size)
    optimizer = torch.optim.Adam(model.parameters(), lr=request.lr, weight_decay=1e-6)
    batch = min(request.batch_for(device), len(cache.ids))
    steps_per_epoch = max(1, len(cache.ids) // batch)
    epochs = request.epochs_for(len(cache.ids))
    total = steps_per_epoch * epochs
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total))
    rng = np.random.default_rng(request.seed)
    generator = torch.Generator().manual_seed(request.seed)
    eta, step, last = Eta(), 0, (float("nan"), 0.0)
    for epoch in range(epochs):
        batches = (_to_device(augment(torch.from_numpy(np.array(cache.pixels[np.sort(idx)]))[:, None], generator),
                              device)
                   for idx in _batches(rng, len(cache.ids), batch))
        for stats in ssl_epoch(model, batches, optimizer, cancel=cancel.is_set if cancel else None):
            schedule.step()
            step += 1
            last = (stats.loss, stats.accuracy)
            yield Progress(phase="pretraining", step=step, total=total, unit="batch",
                           losses={"contrastive loss": stats.loss}, metrics={"contrastive accuracy": stats.accuracy},
                           eta_s=eta(step / total), epoch=step / steps_per_epoch,
                           message=f"pretraining {request.method} on {where} · epoch {epoch + 1}/{epochs} · "
                                   f"{stats.images_per_s:.0f} images/s")
        check_cancel(cancel)
    return model, last


def _to_device(views, device: str):
    """The pair of views on ``device`` (the very tensors on the CPU)."""
    view_a, view_b = views
    return view_a.to(device, non_blocking=True), view_b.to(device, non_blocking=True)


def _batches(rng: np.random.Generator, n: int, batch: int) -> Iterator[np.ndarray]:
    order = rng.permutation(n)
    for start in range(0, n - batch + 1, batch):  # whole batches only: the contrastive loss wants them
        yield order[start:start + batch]


def _embed(encoder, cache: PixelCache, size: int, cancel: threading.Event | None, device: str = "cpu",
           what: str = "every image"):
    """Unit-length embeddings and texture statistics of every cached image (``what``: the
    words the progress uses for them)."""
    import torch

    from core.jobs.device import describe_device, scaled_batch
    from models.features import FeatureExtractor

    extractor = FeatureExtractor(encoder, size=size).to(device)
    embeddings, texture = [], []
    chunk = scaled_batch(EMBED_CHUNK, device, "embed")
    where = describe_device(device)
    with torch.no_grad():
        for start in range(0, len(cache.ids), chunk):
            check_cancel(cancel)
            pixels = torch.from_numpy(np.array(cache.pixels[start:start + chunk]))[:, None].to(device)
            e, t = extractor.parts(pixels)
            embeddings.append(e.cpu().numpy().astype(np.float32))
            texture.append(t.cpu().numpy().astype(np.float32))
            yield Progress(phase="embedding", step=min(start + chunk, len(cache.ids)), total=len(cache.ids),
                           unit="image", message=f"embedding {what} on {where}")
    return np.concatenate(embeddings), np.concatenate(texture)


def load_embeddings(project: Project, run: Run) -> tuple[np.ndarray, np.ndarray]:
    """(image ids, L2-normalised embeddings) saved by a pretraining run."""
    folder = project.runs_dir / str(run.id)
    return np.load(folder / "ids.npy"), np.load(folder / "embeddings.npy")


def load_features(project: Project, run: Run) -> tuple[np.ndarray, np.ndarray]:
    """(image ids, classifier features ``[w * embedding, texture]``) of a pretraining run:
    what ``models.features.FeatureExtractor`` computes from the same pixels."""
    folder = project.runs_dir / str(run.id)
    weight = float(run.metrics.get("encoder_weight", 1.0))
    embeddings = np.load(folder / "embeddings.npy")
    texture_path = folder / "texture.npy"
    if not texture_path.exists():  # a run from before texture statistics: the embedding alone
        return np.load(folder / "ids.npy"), embeddings
    return np.load(folder / "ids.npy"), np.concatenate([embeddings * weight, np.load(texture_path)], axis=1)
