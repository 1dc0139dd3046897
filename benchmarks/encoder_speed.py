"""Train-step and inference speed of every registered encoder on CPU.

Batch 32, 1 channel, 2 threads, with and without ``channels_last``; images/s is the
median over a few timed repeats after one warm-up. The train step is a plain forward +
mean-of-features loss + backward + Adam step (one view, so a two-view SSL step runs at
about half of it).

Usage::

    .venv/bin/python benchmarks/encoder_speed.py [--sizes 64 96 128] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

import models  # noqa: F401  (arms the torchvision compatibility hook)
from models.encoders import create_encoder

# (label, registry name, kwargs, largest size worth timing)
CONFIGS: list[tuple[str, str, dict[str, object], int]] = [
    ("convnet s2", "convnet", {}, 128),
    ("convnet s1 (paper)", "convnet", {"stride": 1}, 64),
    ("skip_convnet s2", "skip_convnet", {}, 128),
    ("shufflenet", "shufflenet", {}, 128),
    ("resnet18", "resnet18", {}, 128),
    ("resnet18 small_input", "resnet18", {"small_input": True}, 96),
]


def _time(fn: Callable[[], None], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(
    name: str, kwargs: dict[str, object], size: int, *, channels_last: bool, batch: int, repeats: int
) -> tuple[float, float]:
    """Return (train images/s, inference images/s)."""
    torch.manual_seed(0)
    model = create_encoder(name, in_channels=1, **kwargs)
    x = torch.rand(batch, 1, size, size)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def train() -> None:
        opt.zero_grad(set_to_none=True)
        model(x).pow(2).mean().backward()
        opt.step()

    def infer() -> None:
        with torch.inference_mode():
            model(x)

    model.train()
    t_train = _time(train, max(1, repeats - 1))
    model.eval()
    t_infer = _time(infer, repeats)
    return batch / t_train, batch / t_infer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 96, 128])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, batch {args.batch}, 1 channel, images/s")
    print("| encoder | params | px | train | train CL | infer | infer CL |")
    print("|---|---|---|---|---|---|---|")
    for label, name, kwargs, max_size in CONFIGS:
        params = sum(p.numel() for p in create_encoder(name, in_channels=1, **kwargs).parameters())
        for size in args.sizes:
            if size > max_size:
                continue
            plain = measure(name, kwargs, size, channels_last=False, batch=args.batch, repeats=args.repeats)
            cl = measure(name, kwargs, size, channels_last=True, batch=args.batch, repeats=args.repeats)
            cells = f"{plain[0]:.0f} | {cl[0]:.0f} | {plain[1]:.0f} | {cl[1]:.0f}"
            print(f"| {label} | {params / 1e6:.2f} M | {size} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
