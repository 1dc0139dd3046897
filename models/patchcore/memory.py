"""The memory bank of OK patches: a greedy k-center coreset, and nearest-neighbour distances."""

from __future__ import annotations

import torch
from torch import Tensor

CORESET_DIMS = 32  # PatchCore measures the coreset's distances in a lower random projection


def greedy_coreset(features: Tensor, count: int, *, seed: int = 0) -> Tensor:
    """Indices of ``count`` rows of ``features`` (N, D) chosen greedily, each the farthest
    from those chosen so far (k-center; PatchCore's approximate version).

    Returns:
        ``(count,)`` int64 indices (all rows when ``count >= N``).
    """
    n = features.shape[0]
    if count >= n:
        return torch.arange(n)
    generator = torch.Generator().manual_seed(seed)
    dims = min(CORESET_DIMS, features.shape[1])
    projection = torch.randn(features.shape[1], dims, generator=generator) / dims ** 0.5
    reduced = features.float() @ projection
    chosen = torch.empty(count, dtype=torch.int64)
    chosen[0] = int(torch.randint(n, (1,), generator=generator))
    nearest = torch.linalg.vector_norm(reduced - reduced[chosen[0]], dim=1)
    for k in range(1, count):
        chosen[k] = int(torch.argmax(nearest))
        nearest = torch.minimum(nearest, torch.linalg.vector_norm(reduced - reduced[chosen[k]], dim=1))
    return chosen


class PatchMemory:
    """OK patch features (M, D) and the distance of any patch to the nearest of them."""

    def __init__(self, bank: Tensor) -> None:
        self.bank = bank.float().contiguous()

    def nearest(self, features: Tensor, chunk: int = 4096) -> Tensor:
        """Distance of each row of ``features`` (N, D) to its nearest bank row: ``(N,)``."""
        out = []
        for start in range(0, features.shape[0], chunk):
            part = features[start:start + chunk].float()
            out.append(torch.cdist(part, self.bank).min(dim=1).values)
        return torch.cat(out) if out else torch.zeros(0)
