"""Training and prediction speed of the defect detector on this machine's CPU.

    python benchmarks/segdec_speed.py [--sizes 128 192 256] [--widths narrow full] [--threads 2]

One training step (forward, both losses, backward, Adam) and one prediction per image,
batch 8, after two warm-up steps; the median of 5 timed steps. The seconds per retrain
follow: (epochs x 2 x defective training images) x train ms, plus the prediction of
every image of the project.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from models.segdec import SegDecConfig, SegDecNet, mixed_loss  # noqa: E402


def step_ms(net: SegDecNet, size: int, batch: int, train: bool) -> float:
    x = torch.rand(batch, 1, size, size)
    label = torch.tensor([1, 0] * (batch // 2))
    target = torch.zeros(batch, 1, size // 8, size // 8)
    weight = torch.ones_like(target)
    has_mask = torch.ones(batch, dtype=torch.bool)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    times = []
    for k in range(7):
        began = time.perf_counter()
        if train:
            net.train()
            decision, seg = net(x)
            loss, _ = mixed_loss(decision, seg, label, target, weight, has_mask, 0.7)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        else:
            net.eval()
            with torch.no_grad():
                net(x)
        if k >= 2:
            times.append(time.perf_counter() - began)
    return 1000 * statistics.median(times) / batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[128, 192, 256])
    parser.add_argument("--widths", nargs="+", default=["narrow", "full"])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"| width | input px | parameters | train ms / image | predict ms / image |"
          f" 15 epochs on 300 defective images (s) | predict 10k images (s) |  ({args.threads} threads)")
    print("|---|---|---|---|---|---|---|")
    for width in args.widths:
        for size in args.sizes:
            net = SegDecNet(SegDecConfig.named(width))
            train_ms, predict_ms = step_ms(net, size, 8, True), step_ms(net, size, 8, False)
            params = sum(p.numel() for p in net.parameters())
            print(f"| {width} | {size} | {params / 1e6:.2f} M | {train_ms:.1f} | {predict_ms:.1f} |"
                  f" {15 * 600 * train_ms / 1000:.0f} | {10_000 * predict_ms / 1000:.0f} |", flush=True)


if __name__ == "__main__":
    main()
