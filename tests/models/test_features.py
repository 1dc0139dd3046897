"""Texture statistics and the feature extractor: shapes, invariances, what they tell apart."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from models.encoders import create_encoder
from models.features import FeatureExtractor, TextureStats, block_weight
from models.features.texture import _soft_histogram


def stripes(angle: float, size: int = 64, period: float = 6.0) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32),
                            indexing="ij")
    phase = (xx * math.cos(angle) + yy * math.sin(angle)) * (2 * math.pi / period)
    return (0.5 + 0.3 * torch.sin(phase))[None, None]


def test_soft_histogram_sums_to_one_and_splits_between_neighbours() -> None:
    x = torch.tensor([[0.0, 0.5, 1.0, 7.0]])
    hist = _soft_histogram(x, 0.0, 2.0, 5)  # centres 0, .5, 1, 1.5, 2; 7 clamps to the last
    assert torch.allclose(hist, torch.tensor([[0.25, 0.25, 0.25, 0.0, 0.25]]))
    angles = torch.tensor([[math.pi / 2 - 1e-4, -math.pi / 2 + 1e-4]])  # the same orientation, both ends
    circular = _soft_histogram(angles, -math.pi / 2, math.pi / 2, 4, circular=True)
    assert circular[0, 0] > 0.99 and torch.isclose(circular.sum(), torch.tensor(1.0))


def test_texture_is_blind_to_brightness_and_contrast_but_sees_orientation() -> None:
    stats = TextureStats()
    image = stripes(0.3)
    base = stats(image)
    assert base.shape == (1, stats.dim) and torch.isfinite(base).all()
    brighter = stats(0.2 + 0.5 * image)
    assert torch.allclose(base, brighter, atol=1e-3)
    turned = stats(stripes(0.3 + math.pi / 2))
    assert (turned - base).abs().max() > 1.0  # the orientation histogram moved


def test_feature_extractor_concatenates_weighted_embedding_and_texture() -> None:
    torch.manual_seed(0)
    extractor = FeatureExtractor(create_encoder("shufflenet", in_channels=1), size=48, encoder_weight=3.0)
    pixels = (torch.rand(4, 1, 64, 64) * 255).to(torch.uint8)
    with torch.no_grad():
        features = extractor(pixels)
        embedding, texture = extractor.parts(pixels)
    assert torch.allclose(embedding.norm(dim=1), torch.ones(4), atol=1e-5)
    assert torch.allclose(features, torch.cat([3.0 * embedding, texture], dim=1))


@pytest.mark.parametrize("share", [0.3, 1.0])
def test_block_weight_gives_the_embedding_its_share_of_the_spread(share: float) -> None:
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(200, 16)) * 0.1
    texture = rng.normal(size=(200, 40)) * 5
    w = block_weight(embeddings, texture, share)

    def spread(x: np.ndarray) -> float:
        return float(np.linalg.norm(x - x.mean(0), axis=1).mean())

    assert spread(embeddings * w) == pytest.approx(share * spread(texture), rel=1e-6)
