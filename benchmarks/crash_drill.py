"""Crash drill: kill -9 at random moments while the app writes, then check that nothing
acknowledged was lost.

    python benchmarks/crash_drill.py [--kills 100] [--scenarios labels masks import train]
                                     [--grace 5] [--seed 0] [--work DIR]

Four scenarios, each killed ``--kills`` times with SIGKILL to the main process (as a
crash, a power cut of the process or the OOM killer would):

* ``labels``: a script labeling through the store API (``Labels.apply``, 1-5 images per
  transaction), acknowledging each write after its commit (``crash_drill_child.py``);
* ``masks``: masks saved through the editor's saver thread (``MaskSaver`` -> ``Masks.save``),
  acknowledged after each commit, compared pixel for pixel;
* ``import``: ``labelapp import`` of a generated folder into a fresh project; what the
  kill interrupted is imported again to completion, every image committed before the
  kill must still be there, and the project must end with every image once;
* ``train``: ``labelapp train`` (a small retrain; every other one with
  ``--pretrain-again``) on a labeled project; every label and mask must be unchanged, and
  the interrupted run is recovered as failed.

After every kill: the project opens, ``PRAGMA integrity_check`` is ok, every
acknowledged write is there (its value, or that of the write in flight at the kill), no
multi-image write is half applied, and no process of the killed command (pool workers,
the multiprocessing resource tracker) is alive ``--grace`` seconds later.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crash_drill_checks import (  # noqa: E402
    Tally,
    kill_now,
    open_checked,
    read_acks,
    start,
    stray_mask_files,
    survivors,
    wait_for_line,
)

CHILD = str(ROOT / "benchmarks" / "crash_drill_child.py")
CLASSES = ("ok", "scratch", "dent", "stain")


def _store_project(root: Path, images: int):
    from core.store import ClassKind, NewImage, Project

    shutil.rmtree(root, ignore_errors=True)
    project = Project.create(root)
    for name in CLASSES:
        project.classes.add(name, kind=ClassKind.OK if name == "ok" else ClassKind.DEFECT, actor="drill",
                            source="drill")
    project.images.add_many([NewImage(path=f"/drill/{i:05d}.png", hash=f"{i:064x}", width=64, height=48,
                                      channels=1, bit_depth=8, mode="L", gray=True, file_size=1, mtime=0.0)
                             for i in range(images)])
    project.close()


def _writer_drill(kind: str, args: argparse.Namespace, rng: random.Random) -> Tally:
    """``labels`` or ``masks``: a child that writes and acknowledges, killed ``--kills`` times."""
    tally = Tally(kind)
    root = args.work / kind
    _store_project(root, args.images)
    expected: dict[int, object] = {}  # image id -> acknowledged class id / mask seq (None: none)
    for k in range(args.kills):
        acks_path = args.work / f"{kind}-{k}.acks"
        tag = f"{kind}-{k}-{time.time_ns()}"
        proc = start([CHILD, kind, str(root), str(acks_path), str(rng.randrange(1 << 30))], tag)
        if not wait_for_line(acks_path, "ready", proc):
            tally.notes.append(f"kill {k}: the writer did not start")
            continue
        time.sleep(rng.uniform(0.0, args.window))
        kill_now(proc)
        tally.kills += 1
        survivors(tag, args.grace, tally)
        acked, in_flight = read_acks(acks_path)
        acks_path.unlink()
        project = open_checked(root, tally)
        if project is None:
            continue
        try:
            if kind == "labels":
                current = project.labels.class_by_image()
                state = {i: current.get(i) for i in range(1, args.images + 1)}
                updates = [{int(i): c for i, c in change.items()} for change in acked]
                flight = None if in_flight is None else {int(i): c for i, c in in_flight.items()}
                for update in updates:
                    expected.update(update)
            else:
                updates = [{r["image"]: r["seq"]} for r in acked]
                flight = None if in_flight is None else {in_flight["image"]: in_flight["seq"]}
                for update in updates:
                    expected.update(update)
                state = _mask_states(project, expected, flight)
            _score(tally, expected, state, updates, flight)
            if kind == "masks":
                tally.stray_files += stray_mask_files(project)
        finally:
            project.close()
    return tally


def _mask_states(project, expected: dict, flight: dict | None) -> dict:
    """image id -> the seq of the drill mask the store holds (of the acknowledged one and the
    one in flight; None: no mask; "other": neither)."""
    from crash_drill_child import drill_mask

    class_ids = [c.id for c in project.classes.list()]
    state = {}
    for image_id in set(expected) | set(flight or {}):
        stored = project.masks.load(image_id)
        state[image_id] = "other"
        for seq in [expected.get(image_id)] + ([flight[image_id]] if flight and image_id in flight else []):
            if seq == "other":
                continue  # a loss counted at an earlier kill
            want = None if seq is None else drill_mask(image_id, seq, class_ids)
            if (want is None and stored is None) or (want is not None and stored is not None
                                                     and (want == stored).all()):
                state[image_id] = seq
                break
    return state


def _score(tally: Tally, expected: dict, state: dict, updates: list[dict], flight: dict | None) -> None:
    """Counts the acknowledged writes whose value (or a later one's) is in the store."""
    applied = False
    if flight:
        hits = [state.get(i) == v and expected.get(i) != v for i, v in flight.items()]
        changes = [expected.get(i) != v for i, v in flight.items()]
        if any(hits) and sum(hits) != sum(changes):
            tally.half_applied += 1
        applied = any(hits)
        if applied:
            expected.update(flight)
    wrong = {i for i, v in expected.items() if state.get(i) != v}
    tally.acknowledged += len(updates)
    tally.found += sum(1 for u in updates if not (set(u) & wrong))
    for i in sorted(wrong)[:3]:
        tally.notes.append(f"kill {tally.kills}: image {i} holds {state.get(i)!r}, acknowledged {expected[i]!r}")
    for i in wrong:  # do not count one loss again at every later kill
        expected[i] = state.get(i)


def _cli(*args: object, timeout: float = 900) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "labelapp", *map(str, args)], cwd=ROOT, check=True, timeout=timeout,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def _import_drill(args: argparse.Namespace, rng: random.Random) -> Tally:
    from core.demo import write_dataset
    from core.store import Project

    tally = Tally("import")
    data = args.work / "import-data"
    if not (data / "done").exists():
        write_dataset(data, n_images=args.import_images, seed=0, size=64, layout="folders")
        (data / "done").write_text("")
    folder = data / "images"
    root = args.work / "import-project"
    shutil.rmtree(root, ignore_errors=True)
    full = _cli("import", root, folder, "--workers", 2)
    for k in range(args.kills):
        shutil.rmtree(root, ignore_errors=True)
        tag = f"import-{k}-{time.time_ns()}"
        proc = start(["-m", "labelapp", "import", str(root), str(folder), "--workers", "2"], tag)
        time.sleep(rng.uniform(0.0, full))
        tally.finished_first += proc.poll() is not None
        kill_now(proc)
        tally.kills += 1
        survivors(tag, args.grace, tally)
        if not (root / "project.sqlite").exists():
            tally.opened += 1  # killed before the project existed: nothing to open, nothing lost
            tally.integrity_ok += 1
            continue
        project = open_checked(root, tally)
        if project is None:
            continue
        before = dict(zip(*(lambda t: (t.paths, t.hashes))(project.images.table()), strict=True))
        project.close()
        _cli("import", root, folder, "--workers", 2)  # the user runs it again
        with Project.open(root) as project:
            table = project.images.table()
            after = dict(zip(table.paths, table.hashes, strict=True))
        tally.acknowledged += len(before)
        tally.found += sum(1 for p, h in before.items() if after.get(p) == h)
        if len(after) != args.import_images:
            tally.notes.append(f"kill {k}: {len(after)} images after the second import, not {args.import_images}")
    return tally


def _train_drill(args: argparse.Namespace, rng: random.Random) -> Tally:
    from core.demo import write_dataset
    from core.importing import import_folder
    from core.jobs import recover_interrupted_runs
    from core.store import Project

    tally = Tally("train")
    data = args.work / "train-data"
    root = args.work / "train-project"
    shutil.rmtree(data, ignore_errors=True)
    shutil.rmtree(root, ignore_errors=True)
    write_dataset(data, n_images=args.train_images, seed=1, size=64, layout="folders")
    with Project.create(root) as project:
        import_folder(project, data / "images", labels_from_folders=True, ok_class="ok", masks=data / "masks",
                      workers=1)
    train = ["train", root, "--epochs", 2, "--size", 64, "--segdec-minutes", 0.2, "--segdec-epochs", 2]
    cold = _cli(*train)  # pretrains (no encoder yet)
    warm = _cli(*train)  # reuses the encoder: the classifier, the detector, suggestions

    def snapshot(project) -> tuple[dict, dict]:
        return project.labels.class_by_image(), {i: m.file for i, m in project.masks.all().items()}

    with Project.open(root) as project:
        labels, masks = snapshot(project)
    for k in range(args.kills):
        tag = f"train-{k}-{time.time_ns()}"
        again = k % 2 == 1  # every other kill: a retrain that pretrains again
        proc = start(["-m", "labelapp", *map(str, train), *(["--pretrain-again"] if again else [])], tag)
        time.sleep(rng.uniform(0.0, cold if again else warm))
        tally.finished_first += proc.poll() is not None
        kill_now(proc)
        tally.kills += 1
        survivors(tag, args.grace, tally)
        project = open_checked(root, tally)
        if project is None:
            continue
        try:
            now_labels, now_masks = snapshot(project)
            tally.acknowledged += len(labels) + len(masks)
            tally.found += sum(now_labels.get(i) == c for i, c in labels.items())
            tally.found += sum(now_masks.get(i) == f and (f is None or (project.masks_dir / f).is_file())
                               for i, f in masks.items())
            recover_interrupted_runs(project)  # what the next retrain does first
        finally:
            project.close()
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=100, help="kills per scenario (default 100)")
    parser.add_argument("--scenarios", nargs="+", default=["labels", "masks", "import", "train"],
                        choices=("labels", "masks", "import", "train"))
    parser.add_argument("--images", type=int, default=200, help="images of the labels and masks projects")
    parser.add_argument("--import-images", type=int, default=400, help="images of the imported folder")
    parser.add_argument("--train-images", type=int, default=60, help="images of the retrained project")
    parser.add_argument("--window", type=float, default=1.5, help="labels/masks: kill within this many s")
    parser.add_argument("--grace", type=float, default=5.0, help="s a killed command's processes get to end")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temp folder)")
    args = parser.parse_args()
    own = args.work is None
    args.work = Path(tempfile.mkdtemp(prefix="crash-drill-")) if own else args.work
    args.work.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    started = time.perf_counter()
    tallies = []
    try:
        for scenario in args.scenarios:
            if scenario in ("labels", "masks"):
                tallies.append(_writer_drill(scenario, args, rng))
            else:
                tallies.append({"import": _import_drill, "train": _train_drill}[scenario](args, rng))
            print(f"{scenario}: done ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    finally:
        if own:
            shutil.rmtree(args.work, ignore_errors=True)
    _print(tallies)


def _print(tallies: list[Tally]) -> None:
    print("| scenario | kills | ended before the kill | opened | integrity ok | acknowledged | found | lost |"
          " half-applied | survivors (kills with any) | slowest exit s | stray mask files |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for t in tallies:
        print(f"| {t.name} | {t.kills} | {t.finished_first} | {t.opened} | {t.integrity_ok} | {t.acknowledged} |"
              f" {t.found} | {t.lost} | {t.half_applied} | {t.survivors} ({t.kills_with_survivors}) |"
              f" {t.slowest_exit_s:.1f} | {t.stray_files} |")
    for t in tallies:
        for note in t.notes[:10]:
            print(f"{t.name}: {note}")
    total = {key: sum(getattr(t, key) for t in tallies) for key in ("kills", "opened", "acknowledged", "lost",
                                                                    "survivors")}
    print(f"kills {total['kills']}, opened {total['opened']}, acknowledged {total['acknowledged']},"
          f" lost {total['lost']}, survivors {total['survivors']}")


if __name__ == "__main__":
    main()
