"""ISU-GAN (paper 003): shapes, the SSIM map against references, one real training step."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from models.isugan import (
    Discriminator,
    GanConfig,
    GanTrainConfig,
    GanTrainer,
    Generator,
    difference_map,
    repair_image,
    sample_crops,
    ssim_loss,
    ssim_map,
)
from models.isugan.blocks import Involution

TINY = {"ngf": 4, "ndf": 4, "residual_blocks": 1, "involution_group": 4}


@pytest.mark.parametrize("architecture", ["isugan", "cyclegan"])
def test_generator_and_discriminator_shapes_at_non_square_sizes(architecture: str) -> None:
    config = GanConfig.named(architecture, **TINY)
    generator, discriminator = Generator(config).eval(), Discriminator(config).eval()
    for height, width in ((32, 32), (48, 80), (64, 40)):
        x = torch.rand(2, 1, height, width) * 2 - 1
        y = generator(x)
        assert y.shape == x.shape and float(y.detach().abs().max()) <= 1.0
        assert discriminator(x).shape == (2, 1, height // 8 - 2, width // 8 - 2)
    with pytest.raises(ValueError, match="multiples of 8"):
        generator(torch.zeros(1, 1, 30, 32))


def test_the_plain_cyclegan_lacks_exactly_the_three_additions() -> None:
    isu, plain = Generator(GanConfig.named("isugan", **TINY)), Generator(GanConfig.named("cyclegan", **TINY))
    names = {type(m).__name__ for m in isu.modules()}
    assert {"SqueezeExcitation", "Involution"} <= names and hasattr(isu, "merge_shallow")
    plain_names = {type(m).__name__ for m in plain.modules()}
    assert not {"SqueezeExcitation", "Involution"} & plain_names and not hasattr(plain, "merge_shallow")
    assert GanConfig.named("cyclegan").architecture == "cyclegan" and GanConfig().architecture == "isugan"
    with pytest.raises(ValueError, match="architecture"):
        GanConfig.named("unet")


def test_involution_weights_each_pixel_with_its_own_kernel() -> None:
    torch.manual_seed(0)
    inv = Involution(8, kernel_size=3, reduction=2, group_channels=4)
    x = torch.randn(1, 8, 6, 7)
    y = inv(x)
    assert y.shape == x.shape
    # by hand at one pixel: the kernel from that pixel, shared by the 4 channels of a group
    kernel = inv.span(inv.reduce(x)).view(1, 2, 9, 6, 7)[0, :, :, 2, 3]  # (groups, k*k)
    patch = torch.nn.functional.pad(x, (1, 1, 1, 1))[0, :, 2:5, 3:6].reshape(8, 9)
    expected = (kernel.repeat_interleave(4, dim=0) * patch).sum(1)
    assert torch.allclose(y[0, :, 2, 3], expected, atol=1e-5)


def _reference_ssim(x: np.ndarray, y: np.ndarray, window: int, data_range: float) -> np.ndarray:
    """SSIM by its definition: population statistics of each reflection-padded window."""
    pad = window // 2
    xp, yp = np.pad(x, pad, mode="reflect"), np.pad(y, pad, mode="reflect")
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    out = np.zeros_like(x, dtype=np.float64)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            a, b = xp[i:i + window, j:j + window].ravel(), yp[i:i + window, j:j + window].ravel()
            cov = np.mean((a - a.mean()) * (b - b.mean()))
            out[i, j] = ((2 * a.mean() * b.mean() + c1) * (2 * cov + c2)) / (
                (a.mean() ** 2 + b.mean() ** 2 + c1) * (a.var() + b.var() + c2))
    return out


def test_ssim_map_equals_the_definition_and_torchmetrics() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((14, 19))
    y = np.clip(x + rng.normal(0, 0.1, x.shape), 0, 1)
    ours = ssim_map(torch.from_numpy(x)[None, None], torch.from_numpy(y)[None, None], window=9)[0, 0].numpy()
    assert ours.shape == x.shape
    np.testing.assert_allclose(ours, _reference_ssim(x, y, 9, 1.0), atol=1e-10)
    from torchmetrics.functional.image import structural_similarity_index_measure

    _, full = structural_similarity_index_measure(
        torch.from_numpy(y)[None, None], torch.from_numpy(x)[None, None], gaussian_kernel=False, kernel_size=9,
        data_range=1.0, return_full_image=True)
    np.testing.assert_allclose(ours, full[0, 0].numpy(), atol=1e-10)
    assert float(ssim_loss(torch.from_numpy(x)[None, None], torch.from_numpy(x)[None, None])) == pytest.approx(0.0)
    d = difference_map(torch.from_numpy(x)[None, None], torch.from_numpy(y)[None, None])
    assert float(d.min()) >= 0.0 and float(d.max()) <= 1.0


def test_one_real_training_step_changes_every_network() -> None:
    trainer = GanTrainer(GanConfig(**TINY), GanTrainConfig(steps=4, batch_size=2, crop=32, pool_size=2))
    before = {name: [p.detach().clone() for p in getattr(trainer, name).parameters()]
              for name in ("repair", "make", "d_ok", "d_defect")}
    rng = np.random.default_rng(0)
    ok = [rng.integers(90, 110, (40, 56), dtype=np.uint8)]
    defective = [np.where(np.arange(40)[:, None] % 10 < 3, 200, 100).astype(np.uint8) * np.ones((1, 56), np.uint8)]
    first = trainer.step(sample_crops(ok, 2, 32, rng), sample_crops(defective, 2, 32, rng))
    assert first.ssim_phase  # the first tenth of the steps measures cycle and identity by SSIM
    for _ in range(3):
        losses = trainer.step(sample_crops(ok, 2, 32, rng), sample_crops(defective, 2, 32, rng))
    assert not losses.ssim_phase and trainer.step_count == 4
    assert all(np.isfinite(v) for v in losses.named().values())
    for name, old in before.items():  # every weight (biases before an InstanceNorm get no gradient)
        weights = [(a, b) for a, b in zip(old, getattr(trainer, name).parameters(), strict=True) if a.dim() > 1]
        changed = sum(not torch.equal(a, b) for a, b in weights)
        assert changed == len(weights), f"{name}: {changed} of {len(weights)} weights changed"
    assert trainer.learning_rate(0) == 2e-4 and trainer.learning_rate(4) == 0.0  # linear decay to 0


def test_state_dict_round_trip_continues_identically() -> None:
    config, train = GanConfig(**TINY), GanTrainConfig(steps=6, batch_size=1, crop=32, pool_size=0)
    images = [np.random.default_rng(1).integers(0, 255, (36, 40), dtype=np.uint8)]

    def run(trainer: GanTrainer, rng: np.random.Generator, steps: int) -> float:
        loss = 0.0
        for _ in range(steps):
            loss = trainer.step(sample_crops(images, 1, 32, rng), sample_crops(images, 1, 32, rng)).cycle
        return loss

    straight, rng = GanTrainer(config, train), np.random.default_rng(0)
    run(straight, rng, 2)
    state, rng_state = copy.deepcopy(straight.state_dict()), rng.bit_generator.state  # as torch.save keeps it
    expected = run(straight, rng, 2)
    resumed, rng2 = GanTrainer(config, train), np.random.default_rng(5)
    resumed.load_state_dict(state)
    rng2.bit_generator.state = rng_state
    assert run(resumed, rng2, 2) == pytest.approx(expected, rel=1e-5)


def test_repair_lines_up_with_images_of_any_size() -> None:
    generator = Generator(GanConfig(**TINY)).eval()
    for shape in ((37, 61), (8, 8), (5, 30)):
        image = np.random.default_rng(0).integers(0, 255, shape, dtype=np.uint8)
        repaired = repair_image(generator, image)
        assert repaired.repair.shape == shape and repaired.repair.dtype == np.uint8
        assert repaired.difference.shape == shape and 0 <= repaired.difference.min() <= repaired.difference.max() <= 1


def test_crops_are_flipped_padded_and_scaled() -> None:
    rng = np.random.default_rng(0)
    crops = sample_crops([np.full((10, 12), 255, np.uint8)], 3, 16, rng)  # smaller than the crop: mirrored out
    assert crops.shape == (3, 1, 16, 16) and float(crops.min()) == float(crops.max()) == 1.0
    ramp = np.tile(np.arange(32, dtype=np.uint8), (32, 1))
    seen = {tuple(sample_crops([ramp], 1, 32, rng)[0, 0, 0, :2].tolist()) for _ in range(30)}
    assert len(seen) == 2  # left-right flips reverse the ramp; up-down flips keep it


def test_a_residual_generator_starts_as_the_identity() -> None:
    torch.manual_seed(0)
    x = torch.rand(1, 1, 32, 48) * 1.8 - 0.9
    residual = Generator(GanConfig(**TINY, residual=True)).eval()
    plain = Generator(GanConfig(**TINY)).eval()
    with torch.no_grad():
        assert float((residual(x) - x).abs().max()) < 1e-5
        assert float((plain(x) - x).abs().mean()) > 0.3  # draws the image anew
    trainer = GanTrainer(GanConfig(**TINY, residual=True), GanTrainConfig(steps=2, batch_size=1, crop=32))
    crops = torch.rand(1, 1, 32, 32) * 2 - 1
    trainer.step(crops, crops.flip(-1))
    trainer.step(crops, crops.flip(-1))
    assert float(trainer.repair.out.weight.detach().abs().sum()) > 0
    assert float(trainer.repair.down1[1].weight.grad.abs().sum()) > 0
