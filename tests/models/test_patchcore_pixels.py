"""The nearest-neighbour proposer's pixel-patch descriptors (models.patchcore.pixels)."""

import numpy as np
import pytest
import torch

from models.patchcore import PatchMemory, PixelPatches, greedy_coreset


def texture(seed: int, height: int = 96, width: int = 120) -> torch.Tensor:
    """A vertically streaked surface like a ground tile, in [0, 1]."""
    rng = np.random.default_rng(seed)
    columns = rng.normal(0.5, 0.08, width)
    image = columns[None, :] + rng.normal(0, 0.03, (height, width))
    return torch.from_numpy(np.clip(image, 0, 1).astype(np.float32))[None, None]


@pytest.mark.parametrize("size", [(8, 8), (13, 29), (96, 120), (130, 41)])
def test_one_vector_per_cell_for_any_size(size):
    out = PixelPatches()(torch.rand(1, 1, *size))
    assert out.shape == (1, 272, -(-size[0] // 8), -(-size[1] // 8))
    assert torch.isfinite(out).all()


def test_brightness_and_contrast_of_a_shot_do_not_change_the_descriptors():
    image = texture(0)
    features = PixelPatches()
    assert torch.allclose(features(image), features(0.5 * image + 0.2), atol=1e-4)


def test_a_small_dark_spot_is_the_farthest_patch_from_ok_patches():
    features = PixelPatches()
    bank = torch.cat([features(texture(seed))[0].flatten(1).T for seed in range(1, 7)])
    memory = PatchMemory(bank[greedy_coreset(bank, 400)])
    image = texture(99)
    image[0, 0, 50:55, 70:75] = 0.05  # a 5 px blowhole in cell (6, 8)
    cells = features(image)[0]
    distance = memory.nearest(cells.flatten(1).T).view(cells.shape[1:])
    row, col = divmod(int(distance.argmax()), distance.shape[1])
    assert abs(row - 6) <= 1 and abs(col - 8) <= 1
    clean = memory.nearest(features(texture(99))[0].flatten(1).T)
    assert distance.max() > 1.5 * clean.max()
