"""The nearest-neighbour mask proposer (PatchCore-style, :mod:`models.patchcore`): the
honest comparator of ISU-GAN, learning from the OK images alone.

Its memory bank holds the patch features of the training OK images (at most
:data:`MAX_CANDIDATES` of them, drawn at random, thinned to a greedy coreset of
``coreset_share`` of them, between :data:`MIN_BANK` and :data:`MAX_BANK`). A patch's
distance to its nearest bank patch, stretched over the working image and smoothed, is
mapped to [0, 1) as ``d / (d + c)``, ``c`` the median distance to the bank of training
patches the coreset left out: a patch as far as a typical left-out OK patch scores 0.5.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator

import numpy as np

from core.jobs.base import Progress, check_cancel
from core.proposals.data import ProposerData
from core.proposals.request import ProposerRequest
from core.store import Project, RunKind

MAX_CANDIDATES = 60_000
MIN_BANK, MAX_BANK = 1_000, 5_000
SCALE_SAMPLE = 2_000


def load_encoder(project: Project):
    """The newest pretrained ShuffleNet encoder of the project and its run id, or (None, None)."""
    from core.jobs.runs import load_checkpoint
    from models.encoders import create_encoder

    for run in project.runs.finished(RunKind.PRETRAIN, with_checkpoint=True):
        try:
            checkpoint = load_checkpoint(project, run)
            config = checkpoint["config"]
            if config.get("encoder") != "shufflenet":
                continue
            encoder = create_encoder("shufflenet", in_channels=1, **config.get("encoder_kwargs", {}))
            encoder.load_state_dict(checkpoint["state_dict"])
            return encoder, run.id
        except (OSError, KeyError, RuntimeError, TypeError, ValueError):
            continue
    return None, None


def build_patchcore(project: Project, data: ProposerData, request: ProposerRequest, device: str,
                    cancel: threading.Event | None = None) -> Generator[Progress, None, dict]:
    """Builds the memory bank from the training OK images; returns the same dict as
    :func:`core.training.isugan.train_gan`."""
    import torch

    from models.patchcore import PatchFeatures, PatchMemory, PixelPatches, greedy_coreset

    began = time.perf_counter()
    encoder, encoder_run = load_encoder(project)
    # without a pretrained encoder, the image's own pixels (a randomly weighted network's
    # features are no better than chance: models.patchcore.pixels)
    features = (PatchFeatures(encoder, seed=request.seed) if encoder is not None else PixelPatches()).to(device)
    rows = []
    ok_ids = data.ok_train.tolist()
    for k, image_id in enumerate(ok_ids):
        check_cancel(cancel)
        cells = features(_tensor(data.store.image(int(image_id)), device))[0]
        rows.append(cells.flatten(1).T.cpu())
        yield Progress(phase="nearest-neighbour proposer: OK patches", step=k + 1, total=len(ok_ids))
    patches = torch.cat(rows)
    generator = torch.Generator().manual_seed(request.seed)
    if len(patches) > MAX_CANDIDATES:
        patches = patches[torch.randperm(len(patches), generator=generator)[:MAX_CANDIDATES]]
    size = int(np.clip(request.coreset_share * len(patches), min(MIN_BANK, len(patches)), MAX_BANK))
    yield Progress(phase="nearest-neighbour proposer: coreset", step=0, total=0,
                   message=f"choosing {size} of {len(patches)} OK patches")
    chosen = greedy_coreset(patches, size, seed=request.seed)
    memory = PatchMemory(patches[chosen].to(device))
    left = torch.ones(len(patches), dtype=torch.bool)
    left[chosen] = False
    sample = patches[left][:SCALE_SAMPLE]
    scale = float(memory.nearest(sample.to(device)).median()) if len(sample) else 1.0
    scale = max(scale, 1e-6)

    def mapper(image: np.ndarray) -> tuple[np.ndarray, None]:
        from models.patchcore import distance_map

        cells = features(_tensor(image, device))[0]
        height, width = cells.shape[1:]
        distance = memory.nearest(cells.flatten(1).T).view(height, width).cpu().numpy()
        stretched = distance_map(distance, image.shape[0], image.shape[1])
        return (stretched / (stretched + scale)).astype(np.float32), None

    summary = {"bank": int(size), "patches": int(len(patches)), "distance_scale": scale,
               "encoder_run": encoder_run, "train_seconds": round(time.perf_counter() - began, 1),
               "encoder": "pretrained" if encoder_run else "pixels (no pretrained ShuffleNet encoder)"}
    state = {"features": {k: v.cpu() for k, v in features.state_dict().items()}, "bank": memory.bank.cpu(),
             "scale": torch.tensor(scale)}
    return {"mapper": mapper, "summary": summary, "state": state, "config": {"encoder_run": encoder_run},
            "resume_file": None}


def _tensor(image: np.ndarray, device: str):
    import torch

    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0)[None, None].to(device)
