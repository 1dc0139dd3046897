"""New images placed with the current encoder, without pretraining again.

Images arrive every day; the newest pretraining run covers only the images it saw.
:func:`embed_new_images_job` decodes the images it lacks (those alone, at the run's cache
size), runs its encoder and texture statistics over them once, and records a new run of
kind pretrain whose folder holds the features of every current image: the earlier ones
copied, the new ones computed, the encoder's checkpoint shared (a hard link, else a
copy). Its config names the run it ``extends`` and the ``images_added``; its metrics are
the pretraining's, with its own ``seconds``. :func:`core.training.classify.latest_pretrain_run`
finds it, so the classifier, the suggestions and the map use it as they would a fresh
pretraining. A pretraining from scratch happens only when no encoder exists or when the
user asks for it (``retrain_job(pretrain_again=True)``).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.jobs.base import Progress
from core.jobs.runs import RunRecorder, load_checkpoint
from core.jobs.snapshot import LabelSnapshot, take_snapshot
from core.media.pixel_cache import decode_images
from core.store import NeedsTrainingError, Project, Run, RunKind

FEATURE_FILES = ("ids.npy", "embeddings.npy", "texture.npy")


@dataclass(frozen=True)
class EmbedNewRequest:
    project_root: Path
    workers: int | None = None  # decoding processes; None: every core
    threads: int | None = None  # torch threads; None: every core
    device: str = "auto"  # where the encoder runs ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class EmbedNewResult:
    run: Run | None  # the new run; the encoder's run when no image was missing; None: cancelled
    cancelled: bool
    seconds: float
    added: int = 0  # images embedded


def extendable_run(project: Project) -> Run | None:
    """The newest finished pretraining run whose encoder and features can be extended
    (a checkpoint and the three feature files), or None."""
    for run in project.runs.finished(RunKind.PRETRAIN, with_checkpoint=True):
        folder = project.runs_dir / str(run.id)
        if all((folder / name).exists() for name in FEATURE_FILES):
            return run
    return None


def missing_images(project: Project, run: Run) -> np.ndarray:
    """The current images (ascending ids) that ``run``'s features do not cover."""
    covered = np.load(project.runs_dir / str(run.id) / "ids.npy")
    return np.setdiff1d(project.images.ids(), covered)


def embed_new_images_job(request: EmbedNewRequest, cancel: threading.Event | None = None, *,
                         snapshot: LabelSnapshot | None = None) -> Generator[Progress, None, EmbedNewResult]:
    """Extends the newest extendable pretraining run to every current image (a job: opens
    its own project connection). Raises NeedsTrainingError when there is no encoder."""
    import torch

    from core.jobs.device import resolve_device
    from core.training.model_io import build_feature_extractor
    from core.training.pretrain import _embed

    device = resolve_device(request.device)
    started = time.perf_counter()
    torch.set_num_threads(request.threads or max(1, os.cpu_count() or 1))
    with Project.open(request.project_root) as project:
        base = extendable_run(project)
        if base is None:
            raise NeedsTrainingError("no pretrained encoder to embed new images with", needs=RunKind.PRETRAIN)
        missing = missing_images(project, base)
        if len(missing) == 0:
            return EmbedNewResult(run=base, cancelled=False, seconds=time.perf_counter() - started)
        checkpoint = load_checkpoint(project, base)
        config = checkpoint["config"]
        config_run = {**base.config, "extends": base.id, "images_added": int(len(missing)), "device": device}
        with RunRecorder(project, method=base.method, config=config_run, snapshot=snapshot or take_snapshot(project),
                         seed=base.seed) as recorder:
            pixels = yield from decode_images(project, missing, int(config["cache_size"]), workers=request.workers,
                                              cancel=cancel)
            encoder = build_feature_extractor(checkpoint).encoder
            what = f"{len(missing):,} new image{'' if len(missing) == 1 else 's'}"
            embeddings, texture = yield from _embed(encoder, pixels, int(config["size"]), cancel, device, what=what)
            ids, embeddings, texture = _union(project, base, pixels.ids, embeddings, texture)
            recorder.adopt_checkpoint(project.runs_dir / base.checkpoint)
            np.save(recorder.partial_dir / "embeddings.npy", embeddings)
            np.save(recorder.partial_dir / "texture.npy", texture)
            np.save(recorder.partial_dir / "ids.npy", ids)
            seconds = time.perf_counter() - started
            run = recorder.finish(metrics={**base.metrics, "images": int(len(ids)),
                                           "images_added": int(len(pixels.ids)), "extends": base.id,
                                           "failed": len(pixels.failed), "seconds": seconds})
            return EmbedNewResult(run=run, cancelled=False, seconds=seconds, added=int(len(pixels.ids)))
    return EmbedNewResult(run=None, cancelled=True, seconds=time.perf_counter() - started)


def _union(project: Project, base: Run, new_ids: np.ndarray, new_embeddings: np.ndarray,
           new_texture: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids, embeddings, texture) of every current image, ascending: the new rows and those
    of ``base`` (rows of images no longer in the project are dropped)."""
    folder = project.runs_dir / str(base.id)
    old_ids = np.load(folder / "ids.npy")
    old_embeddings, old_texture = np.load(folder / "embeddings.npy"), np.load(folder / "texture.npy")
    current = project.images.ids()
    keep = np.isin(old_ids, current)
    ids = np.concatenate([old_ids[keep], new_ids])
    order = np.argsort(ids, kind="stable")
    embeddings = np.concatenate([old_embeddings[keep], new_embeddings.astype(old_embeddings.dtype)])[order]
    texture = np.concatenate([old_texture[keep], new_texture.astype(old_texture.dtype)])[order]
    return ids[order], embeddings, texture
