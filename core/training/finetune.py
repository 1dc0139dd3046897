"""The thorough classifier path: fine-tune the pretrained encoder on the labeled images
(paper 001, ``models.fewshot.finetune``), then re-embed every image.

Measured on X-SDD (benchmarks/fewlabel_bench.py --methods simclr --finetune, 3 seeds):
80.3 / 81.5 / 88.9 % at 5 / 10 / 20 labels per class against 79.0 / 82.7 / 91.2 % for the
fast path, at about 50 s instead of 5 s per retrain. The head is then fitted on the very
images the encoder was tuned on, whose embeddings are cleaner than anyone else's; that
likely costs the points at 10 and 20. So it is an option, off by default.
"""

from __future__ import annotations

import threading
from collections.abc import Generator

import numpy as np

from core.jobs.base import Eta, JobCancelled, Progress, check_cancel
from core.jobs.runs import RunRecorder, load_checkpoint
from core.media.pixel_cache import build_pixel_cache
from core.store import Project, Run

ENCODER_FILE = "encoder.pt"
EMBED_CHUNK = 256  # images per forward pass when re-embedding every image on the CPU


def finetune_features(project: Project, recorder: RunRecorder, pretrain: Run, ids: np.ndarray,
                      rows: list[tuple[int, int]], *, n_classes: int, steps: int, seed: int,
                      cancel: threading.Event | None,
                      device: str = "cpu") -> Generator[Progress, None, tuple[np.ndarray, float]]:
    """Fine-tunes a copy of ``pretrain``'s encoder on ``rows`` (position in ``ids``, class
    index) on ``device`` (resolved), saves it in the run's folder and returns (features of
    every image in ``ids`` order, the new embedding weight)."""
    import torch

    from core.jobs.device import describe_device, scaled_batch
    from core.training.model_io import build_feature_extractor
    from models.features import block_weight
    from models.fewshot.finetune import FinetuneCancelled, FinetuneConfig, finetune_steps

    checkpoint = load_checkpoint(project, pretrain)
    extractor = build_feature_extractor(checkpoint)
    cache = yield from build_pixel_cache(project, int(checkpoint["config"]["cache_size"]), cancel=cancel)
    order = cache.index_of(ids)
    pixels = torch.from_numpy(np.array(cache.pixels[order[[p for p, _ in rows]]]))[:, None]
    labels = torch.tensor([k for _, k in rows], dtype=torch.int64)
    config = FinetuneConfig(steps=steps)
    where = describe_device(device)
    eta = Eta()
    try:
        for step, loss in enumerate(finetune_steps(extractor.encoder, pixels, labels,
                                                   size=int(checkpoint["config"]["size"]), n_classes=n_classes,
                                                   config=config, seed=seed, cancel=cancel.is_set if cancel else None,
                                                   device=device),
                                    start=1):
            yield Progress(phase="fine-tuning", step=step, total=steps, unit="step", eta_s=eta(step / steps),
                           losses={"fine-tune loss": float(loss.total), "contrastive": float(loss.contrastive),
                                   "ArcFace": float(loss.arcface)},
                           message=f"fine-tuning the encoder on {len(labels)} labeled images on {where}")
    except FinetuneCancelled as exc:
        raise JobCancelled(str(exc)) from exc
    embeddings = []
    extractor.to(device)
    chunk = scaled_batch(EMBED_CHUNK, device, "embed")
    with torch.no_grad():
        for start in range(0, len(ids), chunk):
            check_cancel(cancel)
            part = order[start:start + chunk]
            pixels = torch.from_numpy(np.array(cache.pixels[part]))[:, None].to(device)
            embeddings.append(extractor.embed(pixels.float() / 255).cpu())
            yield Progress(phase="embedding", step=min(start + chunk, len(ids)), total=len(ids),
                           unit="image", message=f"embedding every image on {where}")
    extractor.cpu()
    embeddings = torch.cat(embeddings).numpy()
    texture = np.load(project.runs_dir / str(pretrain.id) / "texture.npy")
    weight = block_weight(embeddings, texture)
    recorder.save_checkpoint(extractor.encoder.state_dict(), config={**checkpoint["config"], "encoder_weight": weight,
                                                                     "finetuned_from": pretrain.id},
                             name=ENCODER_FILE)
    return np.concatenate([embeddings * weight, texture], axis=1), weight
