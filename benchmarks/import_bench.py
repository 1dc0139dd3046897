"""Import speed: generated 256x256 images into a fresh project, through the real CLI.

    python benchmarks/import_bench.py [--images 10000] [--size 256] [--workers 1 2]

Prints one table: images/s of ``labelapp import`` (labels from folders, masks from a
mirrored tree, thumbnails), peak resident memory of the largest process, the time
of a re-import that finds nothing new, and the time of ``labelapp status``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def labelapp(*args: object) -> tuple[float, int, str]:
    """Runs ``labelapp``; returns (seconds, peak RSS in MiB of the largest process, stdout)."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "labelapp", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"labelapp {' '.join(map(str, args))} failed")
    return seconds, usage.ru_maxrss // 1024, out


def dataset(images: int, size: int, cache: Path) -> Path:
    from core.demo import write_dataset

    root = cache / f"demo-{images}-{size}"
    if not (root / "done").exists():
        shutil.rmtree(root, ignore_errors=True)
        started = time.perf_counter()
        write_dataset(root, n_images=images, seed=0, size=size, layout="folders")
        (root / "done").write_text("")
        print(f"generated {images} images of {size} px in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "labelapp-bench")
    args = parser.parse_args()
    data = dataset(args.images, args.size, args.cache)
    rows = []
    for workers in args.workers:
        project = args.cache / f"project-w{workers}"
        shutil.rmtree(project, ignore_errors=True)
        seconds, peak, out = labelapp("import", project, data / "images", "--labels-from-folders", "--ok-class",
                                      "ok", "--masks", data / "masks", "--workers", workers, "--json")
        report = json.loads(out)
        assert report["added"] == args.images and not report["failed"], report["failed"][:3]
        again, _, _ = labelapp("import", project, data / "images", "--labels-from-folders", "--workers", workers)
        status = [labelapp("status", project)[0] for _ in range(5)]
        status_json = [labelapp("status", project, "--json")[0] for _ in range(5)]
        rows.append((workers, seconds, args.images / seconds, peak, again, statistics.median(status),
                     statistics.median(status_json)))
    print(f"\nimport of {args.images} generated {args.size}x{args.size} PNGs with folder labels and masks,"
          f" {os.cpu_count()} cores")
    print("| workers | import s | images/s | peak RSS MiB | re-import s | status s | status --json s |")
    print("|---|---|---|---|---|---|---|")
    for w, s, ips, peak, again, st, sj in rows:
        print(f"| {w} | {s:.1f} | {ips:.0f} | {peak} | {again:.1f} | {st:.2f} | {sj:.2f} |")


if __name__ == "__main__":
    main()
