"""Training ISU-GAN (paper 003) or its plain-CycleGAN ablation on a project's OK and
defective images, resumable, with live losses and a preview strip.

The GAN trains on random crops of the labeled images at the working scale
(:mod:`core.proposals.data`). Every ``checkpoint_every_s`` seconds, when cancelled, and
when training ends, the whole training state (four networks, optimiser moments, step,
crop sampler) goes to ``cache/proposer/<method>-<key>.pt``, the key naming the settings
and the scale: a later run of the same settings continues from it (``resume``) and the
file is removed when a run finishes. Every ``preview_every_s`` seconds a
:class:`~core.jobs.base.Preview` shows image -> repair -> difference -> mask for a few
labeled images, with the repair MSE of the OK ones as a curve point (paper 003, Table 3).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Generator
from pathlib import Path

import numpy as np

from core.files import atomic_writer
from core.jobs.base import JobCancelled, Preview, Progress, check_cancel
from core.proposals.data import ProposerData
from core.proposals.masks import cut_level, image_score, learn_floor, propose_mask
from core.proposals.request import ProposerRequest
from core.store import Project

logger = logging.getLogger(__name__)
PREVIEW_COLUMNS = ("image", "repair", "difference", "mask")
PREVIEW_SIDE = 160  # preview tiles are at most this many pixels along their long side
PREVIEW_DEFECTIVE, PREVIEW_OK = 3, 1


def resume_file(project: Project, request: ProposerRequest, net: dict, train: dict, scale: float) -> Path:
    """Where training of these settings keeps its resume checkpoint."""
    key = json.dumps({"method": request.method, "net": net, "train": train, "scale": round(scale, 6)}, sort_keys=True)
    digest = hashlib.blake2b(key.encode(), digest_size=6).hexdigest()
    return project.cache_dir / "proposer" / f"{request.method}-{digest}.pt"


def gan_mapper(generator, device: str):
    """The proposer's :data:`~core.proposals.propose.Mapper` of a repair generator."""
    from models.isugan import repair_image

    generator.eval()

    def mapper(image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        repaired = repair_image(generator, np.asarray(image), device=device)
        return repaired.difference, repaired.repair

    return mapper


def train_gan(project: Project, data: ProposerData, request: ProposerRequest, device: str,
              cancel: threading.Event | None = None) -> Generator[Progress, None, dict]:
    """Trains (or continues) the GAN; returns ``{"mapper", "summary", "state", "config",
    "resume_file"}``: the repair generator's mapper, figures for the run's metrics, its
    weights and settings for the run's checkpoint, and the resume file to remove once
    the run is finished."""
    import torch

    from models.isugan import GanConfig, GanTrainConfig, GanTrainer, sample_crops

    net = GanConfig.named(request.method, **request.net_config())
    train = GanTrainConfig(**request.train_config(len(data.ok_train), len(data.defect_train)))
    if train.crop % 8:
        raise ValueError(f"the crop side must be a multiple of 8, not {train.crop}")
    trainer = GanTrainer(net, train, device)
    rng = np.random.default_rng(train.seed)
    path = resume_file(project, request, net.to_dict(), train.to_dict(), data.geometry.scale)
    spent, resumed_from = 0.0, 0
    if request.resume and path.exists():
        try:
            saved = torch.load(path, map_location=device, weights_only=True)
            trainer.load_state_dict(saved["state"])
            rng.bit_generator.state = saved["rng"]
            spent, resumed_from = float(saved["seconds"]), trainer.step_count
        except (OSError, KeyError, RuntimeError, TypeError, ValueError):
            logger.warning("cannot resume from %s; training afresh", path, exc_info=True)
            trainer = GanTrainer(net, train, device)
            rng = np.random.default_rng(train.seed)

    def save() -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {"state": trainer.state_dict(), "rng": rng.bit_generator.state,
                 "seconds": spent + time.perf_counter() - began}
        with atomic_writer(path, "wb") as handle:
            torch.save(state, handle)

    ok_images = [data.store.image(int(i)) for i in data.ok_train]
    defect_images = [data.store.image(int(i)) for i in data.defect_train]
    shown = _preview_ids(data)
    phase = "training ISU-GAN" if request.method == "isugan" else "training CycleGAN"
    began = last_saved = time.perf_counter()
    last_preview = began - request.preview_every_s / 2  # the first pictures come soon
    losses = None
    try:
        while trainer.step_count < train.steps:
            check_cancel(cancel)
            trainer.train_mode(True)
            losses = trainer.step(sample_crops(ok_images, train.batch_size, train.crop, rng),
                                  sample_crops(defect_images, train.batch_size, train.crop, rng))
            step, now = trainer.step_count, time.perf_counter()
            preview, metrics = None, {}
            if now - last_preview >= request.preview_every_s or step == train.steps:
                preview, metrics = make_preview(trainer.repair, data, shown, step, device)
                last_preview = time.perf_counter()
            if now - last_saved >= request.checkpoint_every_s:
                save()
                last_saved = time.perf_counter()
            done = step - resumed_from
            eta = (now - began) / done * (train.steps - step) if done else None
            yield Progress(phase=phase, step=step, total=train.steps, losses=losses.named(), metrics=metrics,
                           eta_s=eta, preview=preview,
                           message=f"{phase} · step {step} of {train.steps}"
                                   + (f" (continued from step {resumed_from})" if resumed_from else "")
                                   + (" · SSIM losses" if losses.ssim_phase else ""))
    except JobCancelled:
        save()  # the next run of the same settings continues from here
        raise
    save()  # cancelled while proposing: the next run goes straight to proposing
    seconds = spent + time.perf_counter() - began
    summary = {"steps": train.steps, "resumed_from_step": resumed_from, "train_seconds": round(seconds, 1),
               "final_losses": losses.named() if losses else {}}
    config = {"net": net.to_dict(), "train": train.to_dict()}
    state = {k: v.cpu() for k, v in trainer.repair.state_dict().items()}
    return {"mapper": gan_mapper(trainer.repair, device), "summary": summary, "state": state, "config": config,
            "resume_file": path}


def _preview_ids(data: ProposerData) -> tuple[list[int], list[int]]:
    """(defective ids, OK ids) shown in the preview: held-out ones first."""
    defective = [*data.defect_calib.tolist(), *data.defect_train.tolist()][:PREVIEW_DEFECTIVE]
    ok = [*data.ok_calib.tolist(), *data.ok_train.tolist()][:PREVIEW_OK]
    return [int(i) for i in defective], [int(i) for i in ok]


def make_preview(generator, data: ProposerData, shown: tuple[list[int], list[int]], step: int, device: str,
                 share: float = 0.001) -> tuple[Preview, dict]:
    """The preview strip of ``shown`` images and the OK images' repair MSE (0-255 scale)."""
    mapper = gan_mapper(generator, device)
    defective, ok = shown
    made = {i: mapper(data.store.image(i)) for i in defective + ok}
    ok_scores = [image_score(made[i][0], share) for i in ok]
    floor = learn_floor(np.array(ok_scores), 1.0) if ok_scores else 0.0
    rows = []
    for image_id in defective + ok:
        image = np.asarray(data.store.image(image_id))
        difference, repair = made[image_id]
        mask = propose_mask(difference, cut_level(difference, floor), share)
        tiles = (image, repair, (np.clip(difference, 0, 1) * 255).astype(np.uint8))
        rows.append((*(_shrink(t) for t in tiles), _shrink(mask.astype(np.uint8) * 255, nearest=True)))
    generator.train()
    mse = [float(np.mean((np.asarray(data.store.image(i), np.float64) - made[i][1]) ** 2)) for i in ok]
    metrics = {"repair MSE (OK)": float(np.mean(mse))} if mse else {}
    note = f"mask: Otsu's cut, at least the OK image's level {floor:.2f}" if ok else "mask: Otsu's cut"
    return Preview(step=step, columns=PREVIEW_COLUMNS, image_ids=tuple(defective + ok), tiles=tuple(rows),
                   note=note), metrics


def _shrink(tile: np.ndarray, nearest: bool = False) -> np.ndarray:
    height, width = tile.shape
    factor = PREVIEW_SIDE / max(height, width)
    if factor >= 1:
        return np.ascontiguousarray(tile)
    from PIL import Image as PILImage

    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    resample = PILImage.Resampling.NEAREST if nearest else PILImage.Resampling.BILINEAR
    return np.asarray(PILImage.fromarray(tile).resize(size, resample))
