"""Prediction with the seg-dec net on whole images of any size, large ones in tiles.

The images are gray uint8 arrays already at the detector's working scale. Each is
standardised by its own mean and spread, then padded at the bottom and right to a
multiple of 8 by repeating its last row and column (as
:class:`models.segdec.net.SegDecPredictor` does). Images up to :data:`TILE_PIXELS` go
through whole; larger ones (only with a *local* net, see ``SegDecConfig.local``) in
tiles of ``tile`` x ``tile`` pixels, each read with :data:`RECEPTIVE_RADIUS` pixels of
context on every side and trimmed back to its own cells, so the stitched feature volume
is the one the whole image would give; the decision subnet then runs once on it. Memory
is bounded by the tile and the feature volume (``features`` floats per 8x8 block).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import torch

from models.segdec.net import RECEPTIVE_RADIUS, STRIDE, SegDecNet, image_stats

TILE = 768  # side of a tile's own region, in working pixels (a multiple of 8)
TILE_PIXELS = 1536 * 1536  # images up to this many (padded) pixels go through whole
BATCH_PIXELS = 1 << 20  # same-sized images are batched up to about this many pixels


def padded(image: np.ndarray) -> np.ndarray:
    """``image`` (h, w) padded at the bottom and right to multiples of 8 (edge values)."""
    height, width = image.shape
    pad_h, pad_w = (-height) % STRIDE, (-width) % STRIDE
    if not (pad_h or pad_w):
        return image
    return np.pad(image, ((0, pad_h), (0, pad_w)), mode="edge")


def to_tensor(images: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """(B, h, w) uint8 -> (B, 1, h, w) float 0..1, channels-last (faster convolutions on CPUs)."""
    images = np.ascontiguousarray(images)
    if not images.flags.writeable:  # a read-only memory map
        images = images.copy()
    x = torch.from_numpy(images).to(device)[:, None].float().div_(255.0)
    return x.contiguous(memory_format=torch.channels_last)


def stats_of(images: list[np.ndarray], device: torch.device | str = "cpu") -> torch.Tensor:
    """(B, 2) :func:`models.segdec.net.image_stats` of whole uint8 images of any sizes."""
    return torch.cat([image_stats(to_tensor(np.asarray(image)[None], device)) for image in images])


@torch.no_grad()
def predict_image(net: SegDecNet, image: np.ndarray, *, tile: int = TILE, tile_pixels: int = TILE_PIXELS,
                  device: torch.device | str | None = None) -> tuple[float, np.ndarray]:
    """(defect probability, heat map float32 (ceil(h/8), ceil(w/8)) in 0..1) of one image."""
    device = device or next(net.parameters()).device
    stats = stats_of([image], device)
    x = padded(np.asarray(image, dtype=np.uint8))
    if x.size <= tile_pixels or not net.config.local:
        logit, seg = net(to_tensor(x[None], device), stats)
        return float(torch.sigmoid(logit)[0]), torch.sigmoid(seg)[0, 0].float().cpu().numpy()
    features, seg = _segment_tiled(net, x, stats, tile, device)
    logit = net.decide(features, seg)
    return float(torch.sigmoid(logit)[0]), torch.sigmoid(seg)[0, 0].float().cpu().numpy()


def _segment_tiled(net: SegDecNet, x: np.ndarray, stats: torch.Tensor, tile: int, device,
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """The segmentation subnet's outputs of the padded image ``x``, computed tile by tile."""
    if tile % STRIDE:
        raise ValueError(f"the tile side must be a multiple of {STRIDE}, not {tile}")
    height, width = x.shape
    cells_h, cells_w = height // STRIDE, width // STRIDE
    features = torch.empty(1, net.config.features, cells_h, cells_w, device=device)
    seg = torch.empty(1, 1, cells_h, cells_w, device=device)
    margin = RECEPTIVE_RADIUS
    for top in range(0, height, tile):
        for left in range(0, width, tile):
            y0, x0 = max(0, top - margin), max(0, left - margin)
            y1, x1 = min(height, top + tile + margin), min(width, left + tile + margin)
            f, s = net.segment(net.standardise(to_tensor(x[None, y0:y1, x0:x1], device), stats))
            cy, cx = (top - y0) // STRIDE, (left - x0) // STRIDE
            ch, cw = min(tile, height - top) // STRIDE, min(tile, width - left) // STRIDE
            rows, cols = slice(top // STRIDE, top // STRIDE + ch), slice(left // STRIDE, left // STRIDE + cw)
            features[:, :, rows, cols] = f[:, :, cy:cy + ch, cx:cx + cw]
            seg[:, :, rows, cols] = s[:, :, cy:cy + ch, cx:cx + cw]
    return features, seg


@torch.no_grad()
def predict_images(net: SegDecNet, images: Iterable[np.ndarray], *, batch_pixels: int = BATCH_PIXELS,
                   device: torch.device | str | None = None) -> Iterator[tuple[int, float, np.ndarray]]:
    """(position, probability, heat map) of every image, in order of ``images``.

    Consecutive images of one padded size go through as one batch (up to
    ``batch_pixels``); large images in tiles (:func:`predict_image`).
    """
    device = device or next(net.parameters()).device
    pending: list[tuple[int, np.ndarray, torch.Tensor]] = []

    def flush() -> Iterator[tuple[int, float, np.ndarray]]:
        if not pending:
            return
        stack = np.stack([image for _, image, _ in pending])
        logit, seg = net(to_tensor(stack, device), torch.cat([stats for _, _, stats in pending]))
        p = torch.sigmoid(logit).float().cpu().numpy()
        heat = torch.sigmoid(seg)[:, 0].float().cpu().numpy()
        for k, (position, _, _) in enumerate(pending):
            yield position, float(p[k]), heat[k]
        pending.clear()

    for position, image in enumerate(images):
        image = np.asarray(image, dtype=np.uint8)
        x = padded(image)
        if x.size > TILE_PIXELS:
            yield from flush()
            p, heat = predict_image(net, image, device=device)
            yield position, p, heat
            continue
        if pending and (pending[0][1].shape != x.shape or (len(pending) + 1) * x.size > batch_pixels):
            yield from flush()
        pending.append((position, x, stats_of([image], device)))
    yield from flush()


def heat_on_image_grid(heat: np.ndarray, height: int, width: int) -> np.ndarray:
    """A heat map of cells over the padded working image (``heat`` (ch, cw), each cell 8x8
    working pixels from the top left) resampled to (ch, cw) cells that tile exactly the
    ``height`` x ``width`` working image, so that stretching it over the image (cell
    centres on block centres) puts every value where it was computed."""
    heat = np.asarray(heat, dtype=np.float32)
    cells_h, cells_w = heat.shape
    rows = _linear_weights(cells_h, height)
    cols = _linear_weights(cells_w, width)
    return rows @ heat @ cols.T


def _linear_weights(cells: int, pixels: int) -> np.ndarray:
    """(cells, cells) linear interpolation matrix: output cell i samples the input cells at
    the working coordinate of its centre, (i + 0.5) * pixels / cells."""
    centre = (np.arange(cells) + 0.5) * pixels / cells / STRIDE - 0.5
    centre = np.clip(centre, 0.0, cells - 1)
    low = np.floor(centre).astype(int)
    high = np.minimum(low + 1, cells - 1)
    frac = (centre - low).astype(np.float32)
    weights = np.zeros((cells, cells), np.float32)
    weights[np.arange(cells), low] += 1.0 - frac
    weights[np.arange(cells), high] += frac
    return weights
