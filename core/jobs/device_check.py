"""Do a CPU and another device give the same answers? Forward passes of the networks the
jobs train, on the same weights and pixels, compared number by number.

Used by ``tests/core/test_device.py`` (on a machine with CUDA) and
``benchmarks/gpu_check.py``. The tolerances are first guesses, not measured here (no GPU
on the development machine): cuDNN convolutions run in TF32 by default on Ampere and
newer, about 3 significant digits, so a probability may move in its third decimal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PROBABILITY_TOLERANCE = 1e-2  # largest difference in a defect probability or heat-map cell (0..1)
COSINE_TOLERANCE = 1e-3  # largest 1 - cosine between an image's two embeddings


@dataclass(frozen=True)
class Agreement:
    """Largest differences between the CPU and ``device`` on one network."""

    network: str
    device: str
    max_abs_diff: float  # probabilities / heat cells (detector), texture features (encoder)
    max_cosine_gap: float = 0.0  # 1 - cosine of embeddings (encoder); 0 for the detector

    @property
    def agrees(self) -> bool:
        return self.max_abs_diff <= PROBABILITY_TOLERANCE and self.max_cosine_gap <= COSINE_TOLERANCE


def detector_agreement(device: str, *, width: str = "narrow", sides: tuple[tuple[int, int], ...] = ((256, 256),
                       (200, 328)), seed: int = 0) -> Agreement:
    """The seg-dec net (random weights, eval mode) on random images of ``sides``, whole."""
    import torch

    from models.segdec import SegDecConfig, SegDecNet, predict_images

    torch.manual_seed(seed)
    net = SegDecNet(SegDecConfig.named(width)).eval()
    rng = np.random.default_rng(seed)
    images = [rng.integers(0, 256, size=side, dtype=np.uint8) for side in sides for _ in range(2)]
    on_cpu = list(predict_images(net, images, device="cpu"))
    net.to(device)
    try:
        there = list(predict_images(net, images, device=device))
    finally:
        net.cpu()
    worst = 0.0
    for (_, p_cpu, heat_cpu), (_, p_dev, heat_dev) in zip(on_cpu, there, strict=True):
        worst = max(worst, abs(p_cpu - p_dev), float(np.max(np.abs(heat_cpu - heat_dev))))
    return Agreement(network=f"seg-dec ({width})", device=device, max_abs_diff=worst)


def encoder_agreement(device: str, *, encoder: str = "shufflenet", size: int = 96, cache_size: int = 128,
                      count: int = 8, seed: int = 0) -> Agreement:
    """An encoder (random weights) in the classifier's feature extractor on random pixels."""
    import torch

    from models.encoders import create_encoder
    from models.features import FeatureExtractor

    torch.manual_seed(seed)
    extractor = FeatureExtractor(create_encoder(encoder, in_channels=1), size=size).eval()
    pixels = torch.from_numpy(np.random.default_rng(seed).integers(0, 256, size=(count, 1, cache_size, cache_size),
                                                                   dtype=np.uint8))
    with torch.no_grad():
        e_cpu, t_cpu = extractor.parts(pixels)
        extractor.to(device)
        try:
            e_dev, t_dev = (part.cpu() for part in extractor.parts(pixels.to(device)))
        finally:
            extractor.cpu()
    cosine = torch.nn.functional.cosine_similarity(e_cpu, e_dev, dim=1)
    return Agreement(network=f"encoder ({encoder})", device=device,
                     max_abs_diff=float((t_cpu - t_dev).abs().max()), max_cosine_gap=float((1 - cosine).max()))
