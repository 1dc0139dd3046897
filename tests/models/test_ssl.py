"""SSL building blocks: augmentation, SimCLR / NNCLR, the training-step generator."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from PIL import Image

from models.encoders import create_encoder
from models.ssl import NNCLR, SimCLR, SSLOutput, TwoViewAugment, prepare_images, queue_size_for, ssl_epoch

SIZE = 48


def _textures(n: int = 64, size: int = SIZE, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Even indices: sinusoidal stripes (random period, phase, orientation); odd: bright dots."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    images = []
    for i in range(n):
        if i % 2 == 0:
            period = 4 + 4 * torch.rand(1, generator=g).item()
            phase = 2 * math.pi * torch.rand(1, generator=g).item()
            coord = xx if torch.rand(1, generator=g).item() < 0.5 else yy
            img = 0.5 + 0.4 * torch.sin(2 * math.pi * coord / period + phase)
        else:
            img = torch.full((size, size), 0.3)
            for y, x in torch.randint(2, size - 2, (25, 2), generator=g).tolist():
                img[y - 1 : y + 2, x - 1 : x + 2] = 0.9
        img = img + 0.05 * torch.randn(size, size, generator=g)
        images.append((img.clamp(0, 1) * 255).to(torch.uint8))
    return torch.stack(images).unsqueeze(1), torch.arange(n) % 2


@pytest.fixture(scope="module")
def textures() -> tuple[torch.Tensor, torch.Tensor]:
    return _textures()


def _same_minus_cross_similarity(model: SimCLR | NNCLR, images: torch.Tensor, labels: torch.Tensor) -> float:
    emb = model.embed(prepare_images(images, size=SIZE))
    sim = emb @ emb.T
    same = (labels[:, None] == labels[None, :]) & ~torch.eye(len(labels), dtype=torch.bool)
    cross = labels[:, None] != labels[None, :]
    return (sim[same].mean() - sim[cross].mean()).item()


def _make(method: str, encoder_name: str = "shufflenet") -> SimCLR | NNCLR:
    encoder = create_encoder(encoder_name, in_channels=1)
    return SimCLR(encoder) if method == "simclr" else NNCLR(encoder, queue_size=64)


# --- augmentation -------------------------------------------------------------------------


def test_augment_gives_two_different_views_of_the_same_shape(textures: tuple[torch.Tensor, torch.Tensor]) -> None:
    images, _ = textures
    view_a, view_b = TwoViewAugment(size=32, blur_prob=0.5)(images[:8], generator=torch.Generator().manual_seed(0))
    assert view_a.shape == view_b.shape == (8, 1, 32, 32)
    assert view_a.dtype == torch.float32
    assert torch.isfinite(view_a).all()
    assert (view_a - view_b).abs().mean() > 0.05


def test_augment_keeps_gray_images_gray() -> None:
    gray = (torch.rand(4, 1, 80, 60) * 255).to(torch.uint8).expand(-1, 3, -1, -1)
    view_a, _ = TwoViewAugment(size=40, blur_prob=1.0)(gray)
    assert view_a.shape == (4, 3, 40, 40)
    torch.testing.assert_close(view_a[:, 0], view_a[:, 1])
    torch.testing.assert_close(view_a[:, 0], view_a[:, 2])


def test_augment_is_reproducible_with_a_generator(textures: tuple[torch.Tensor, torch.Tensor]) -> None:
    images, _ = textures
    augment = TwoViewAugment(size=32)
    first = augment(images[:4], generator=torch.Generator().manual_seed(3))
    second = augment(images[:4], generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(first, second)


def test_augment_accepts_pil_images_of_different_sizes() -> None:
    pil = [Image.fromarray(np.full((50, 70), 128, dtype=np.uint8)), Image.fromarray(np.zeros((64, 64), np.uint8))]
    view_a, view_b = TwoViewAugment(size=32)(pil)
    assert view_a.shape == view_b.shape == (2, 1, 32, 32)
    assert prepare_images(pil, size=32).shape == (2, 1, 32, 32)


# --- SimCLR / NNCLR ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["simclr", "nnclr"])
def test_one_step_gives_a_finite_loss(method: str, textures: tuple[torch.Tensor, torch.Tensor]) -> None:
    torch.manual_seed(0)
    model = _make(method, "convnet")
    view_a, view_b = TwoViewAugment(size=SIZE)(textures[0][:8])
    out = model(view_a, view_b)
    assert isinstance(out, SSLOutput)
    assert out.loss.dim() == 0 and torch.isfinite(out.loss)
    assert out.z_a.shape == out.z_b.shape == (8, 128)
    out.loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


@pytest.mark.parametrize(("method", "min_gap"), [("simclr", 0.03), ("nnclr", 0.01)])
def test_thirty_steps_learn_the_two_textures(
    method: str, min_gap: float, textures: tuple[torch.Tensor, torch.Tensor]
) -> None:
    images, labels = textures
    torch.manual_seed(0)
    model = _make(method)
    gap_before = _same_minus_cross_similarity(model, images, labels)
    augment = TwoViewAugment(size=SIZE)
    gen = torch.Generator().manual_seed(1)

    def batches():
        for _ in range(30):
            idx = torch.randperm(len(images), generator=gen)[:32]
            yield augment(images[idx], generator=gen)

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    stats = list(ssl_epoch(model, batches(), optimizer))
    assert [s.step for s in stats] == list(range(1, 31))
    losses = [s.loss for s in stats]
    assert np.mean(losses[-5:]) < np.mean(losses[:5]) - 0.5
    assert all(0.0 <= s.accuracy <= 1.0 and s.images_per_s > 0 and s.batch_size == 32 for s in stats)
    gap_after = _same_minus_cross_similarity(model, images, labels)
    assert gap_after > min_gap
    assert gap_after > gap_before + min_gap


def test_cancel_stops_between_steps(textures: tuple[torch.Tensor, torch.Tensor]) -> None:
    images, _ = textures
    augment = TwoViewAugment(size=32)
    pulled: list[int] = []

    def batches():
        for i in range(10):
            pulled.append(i)
            yield augment(images[:8])

    model = _make("simclr", "convnet")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    seen = []
    for stats in ssl_epoch(model, batches(), optimizer, cancel=lambda: len(seen) >= 2, channels_last=False):
        seen.append(stats)
    assert len(seen) == 2
    assert pulled == [0, 1]


@pytest.mark.parametrize("method", ["simclr", "nnclr"])
def test_state_dict_round_trip_restores_outputs(method: str, textures: tuple[torch.Tensor, torch.Tensor]) -> None:
    images, _ = textures
    torch.manual_seed(0)
    model = _make(method)
    augment = TwoViewAugment(size=32)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    list(ssl_epoch(model, (augment(images[i : i + 8]) for i in range(0, 16, 8)), optimizer))  # moves BN stats
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    torch.manual_seed(1)
    restored = _make(method)
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    x = prepare_images(images[:6], size=SIZE)
    torch.testing.assert_close(restored.embed(x), model.embed(x), atol=1e-5, rtol=1e-5)
    model.eval()
    restored.eval()
    with torch.no_grad():
        h = model.encoder(x)
        torch.testing.assert_close(restored.projection_head(h), model.projection_head(h), atol=1e-5, rtol=1e-5)


def test_embed_is_unit_length_and_restores_train_mode(textures: tuple[torch.Tensor, torch.Tensor]) -> None:
    model = _make("simclr")
    model.train()
    emb = model.embed(prepare_images(textures[0][:5], size=SIZE))
    assert emb.shape == (5, model.encoder.feature_dim)
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(5))
    assert model.encoder.training


def test_queue_size_follows_the_paper_and_shrinks_for_small_projects() -> None:
    assert queue_size_for(50_000) == 10_000
    assert queue_size_for(1_000) == 1_000
    assert queue_size_for(10) == 256
