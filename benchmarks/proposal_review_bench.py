"""What showing a mask proposal in the editor costs on the GUI thread, per image size.

    python benchmarks/proposal_review_bench.py [--sizes 200x200 500x1250 2048x2048] [--repeat 5]

For each size, a demo project of a few images with a proposal run written through the
proposals' writer (working scale 0.5, as a real run stores its maps), then the steps the
review runs when an image is shown (median over ``--repeat``): reading the proposal at the
image's size (``load_proposal``), the mask at the run's cut (again each time the cut
slider moves), the outline lines, and the difference map as an image; and the total.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "core"))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402

from core.demo_project import create_demo_project  # noqa: E402
from core.proposals import load_proposal, load_proposals  # noqa: E402
from core.store import Project  # noqa: E402


def median_ms(step, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = step()
        times.append(1000 * (time.perf_counter() - began))
    return float(np.median(times)), result


def measure(root: Path, repeat: int) -> dict[str, float]:
    """The steps of showing the best proposal of ``root``'s newest proposer run, in ms."""
    from labelapp.proposals.outline import outline_lines
    from labelapp.proposals.overlay import difference_image

    with Project.open(root) as project:
        proposals = load_proposals(project)
        image_id = proposals.ranked()[0].image_id
        read, proposal = median_ms(partial(load_proposal, project, proposals, image_id), repeat)
    cut, mask = median_ms(proposal.mask, repeat)
    lines, drawn = median_ms(partial(outline_lines, mask), repeat)
    difference, _ = median_ms(partial(difference_image, proposal.difference), repeat)
    return {"read": read, "mask": cut, "outline": lines, "difference": difference, "lines": len(drawn)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["200x200", "500x1250", "2048x2048"],
                        help="height x width of the images")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from proposal_runs import label_from_truth, write_designed_run
    from PySide6.QtWidgets import QApplication

    QApplication([])
    print(f"{'size (h x w)':>14} {'read ms':>8} {'mask ms':>8} {'outline ms':>10} {'difference ms':>13} "
          f"{'worker ms':>9} {'GUI ms':>7} {'slider ms':>9}")
    for size in args.sizes:
        height, width = (int(v) for v in size.split("x"))
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder) / "project"
            create_demo_project(root, n_images=4, size=(height, width), kind="steel", ok_fraction=0.5, workers=1)
            label_from_truth(root)
            write_designed_run(root)
            t = measure(root, args.repeat)
        print(f"{size:>14} {t['read']:8.1f} {t['mask']:8.1f} {t['outline']:10.1f} {t['difference']:13.1f} "
              f"{t['read'] + t['mask']:9.1f} {t['outline'] + t['difference']:7.1f} {t['mask'] + t['outline']:9.1f}")


if __name__ == "__main__":
    main()
