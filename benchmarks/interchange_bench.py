"""Times export and import of every label interchange format on a generated project.

    .venv/bin/python benchmarks/interchange_bench.py [IMAGES] [WORK_FOLDER]

Generates IMAGES (default 300) 200 px demo images with masks and class folders, imports
them with their labels and masks, then for each format exports the labels, imports them
into a fresh project of the same images (every image must match) and prints a table:
export seconds, import seconds, and the size of the export.
"""

import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.demo import write_dataset  # noqa: E402
from core.export.labels import export_labels  # noqa: E402
from core.importing import ImportOptions, import_folder  # noqa: E402
from core.interchange import import_labels  # noqa: E402
from core.store import Project  # noqa: E402


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    root = Path(sys.argv[2] if len(sys.argv) > 2 else "/tmp/ic-timing")
    shutil.rmtree(root, ignore_errors=True)
    data = write_dataset(root / "data", n_images=n, seed=1, size=200, layout="folders", workers=2)
    with Project.create(root / "src") as p:
        r = import_folder(p, data.root / "images", ImportOptions(labels_from_folders=True, ok_class="ok",
                                                                 masks=data.root / "masks", workers=2))
        print(f"images {r.added}, labels {p.labels.count()}, masks {p.masks.count()}")
        print(f"{'format':<15}{'export s':>10}{'import s':>10}{'files MB':>10}")
        for fmt in ("csv", "coco", "coco-polygons", "yolo", "voc", "labelme"):
            out = root / "out" / fmt
            t = time.perf_counter()
            export_labels(p, out, format=fmt.removesuffix("-polygons"), polygons=fmt.endswith("-polygons"))
            te = time.perf_counter() - t
            size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 1e6
            ti = float("nan")
            if fmt != "csv":
                with Project.create(root / f"dst-{fmt}") as q:
                    import_folder(q, data.root / "images", ImportOptions(workers=2))
                    t = time.perf_counter()
                    res = import_labels(q, out, format=fmt.removesuffix("-polygons"))
                    ti = time.perf_counter() - t
                    assert not res.unmatched
            print(f"{fmt:<15}{te:>10.2f}{ti:>10.2f}{size:>10.1f}")


if __name__ == "__main__":
    main()
