"""Learning curves of the suggestion strategies on a real folder or on generated data.

    python benchmarks/learning_curves.py --data ../shared/data/x-sdd --out /tmp/curves/xsdd [simulate options]
    python benchmarks/learning_curves.py --generated 1400 --out /tmp/curves/generated [simulate options]

``--generated N`` writes N demo images (seed 7, 200 px, 30 % OK, the six NEU-style
defect classes) in class folders under ``OUT/data`` first, then both run
``labelapp simulate`` with the remaining options (default: random, typicality, margin
and the default schedule; 1-20 labels per class; 3 seeds; 2 worker processes), which
prints the tables and writes ``rounds.csv`` and ``learning_curves.png`` into OUT.
A stopped run resumes where it stopped.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path, help="a folder with one sub-folder per class")
    source.add_argument("--generated", type=int, metavar="N", help="generate N demo images first")
    parser.add_argument("--out", type=Path, required=True)
    args, rest = parser.parse_known_args()
    images = args.data
    if args.generated:
        from core.demo import write_dataset

        images = args.out / "data" / "images"
        if not images.exists():
            write_dataset(args.out / "data", n_images=args.generated, seed=7, size=200, layout="folders")
    from labelapp.cli.parser import main as cli

    defaults = [] if "--workers" in rest else ["--workers", "2", "--threads", "1"]
    return cli(["simulate", "--images", str(images), "--out", str(args.out), *defaults, *rest])


if __name__ == "__main__":
    sys.exit(main())
