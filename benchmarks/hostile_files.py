"""Hostile files drill: a folder of files that are not what they claim, imported.

    python benchmarks/hostile_files.py [--files 1000] [--seed 0] [--work DIR]

Writes about ``--files`` files (``hostile_makers.py``: truncated and zero-byte files,
random bytes with image suffixes, decompression bombs, 1-bit / CMYK / 16-bit / 32-bit /
float / LA / RGBA / palette-with-transparency images, EXIF-rotated JPEGs, multi-page
TIFFs, animated GIFs, symlink loops, files without read permission, names in other
scripts and names that are not UTF-8, duplicates, hidden files), runs
``labelapp import PROJECT FOLDER --json`` on them and checks every file's fate against
what it should be. A crash is the command failing, a traceback, or a hang (``--timeout``).

Prints one row per kind of file (files, imported, reported with a reason, duplicates,
left out without a word, and files whose fate is not the expected one), then a summary
line ``files N, reported with a reason R, imported I, crashes C, import S s``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hostile_makers import AS_ROOT, Made, make_folder  # noqa: E402


def _printable(path: bytes) -> str:
    return path.decode("utf-8", "backslashreplace")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=600.0, help="s before the import counts as hung")
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    own = args.work is None
    work = Path(tempfile.mkdtemp(prefix="hostile-")) if own else args.work
    try:
        _drill(work, args)
    finally:
        if own:
            _unlock(work)
            shutil.rmtree(work, ignore_errors=True)


def _unlock(work: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(os.fsencode(work)):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                os.chmod(path, 0o755)


def _drill(work: Path, args: argparse.Namespace) -> None:
    folder = work / "folder"
    project = work / "project"
    shutil.rmtree(project, ignore_errors=True)
    if folder.exists():
        _unlock(work)
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    made = make_folder(os.fsencode(folder), args.files, seed=args.seed)
    locked = folder / "locked-folder"  # a sub-folder nobody may list (root still can)
    locked.mkdir()
    (locked / "inside.png").write_bytes((folder / "valid-0.png").read_bytes())
    os.chmod(locked, 0)
    (folder / "up").symlink_to("..")  # a folder link back up: not followed
    # as root the folder is listed anyway and its file is a duplicate of valid-0.png
    extra = [Made(os.fsencode(locked / "inside.png"), "folder without permission", "duplicate") if AS_ROOT
             else Made(os.fsencode(locked), "folder without permission", "refuse")]
    started = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-m", "labelapp", "import", str(project), str(folder), "--json"],
                              cwd=ROOT, capture_output=True, timeout=args.timeout,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        seconds = time.perf_counter() - started
        hung = False
    except subprocess.TimeoutExpired as exc:
        done, seconds, hung = exc, time.perf_counter() - started, True
    stderr = (done.stderr or b"").decode("utf-8", "replace")
    crashed = hung or done.returncode != 0 or "Traceback" in stderr
    report = json.loads(done.stdout) if not crashed else {}
    _table(made + extra, report, project, crashed)
    if crashed:
        print(f"CRASH: {'hung' if hung else f'exit {done.returncode}'}\n{stderr[-3000:]}")
    reported = len(report.get("failed", []))
    print(f"files {len(made) + len(extra)}, reported with a reason {reported}, imported {report.get('added', 0)},"
          f" crashes {int(crashed)}, import {seconds:.1f} s")


def _fates(made: list[Made], report: dict, project: Path) -> dict[bytes, tuple[str, tuple[int, int] | None]]:
    """Each file's fate: imported (with its stored size), refuse, duplicate, or none."""
    from core.store import Project

    sizes: dict[str, tuple[int, int]] = {}
    if (project / "project.sqlite").exists():
        with Project.open(project) as store:
            table = store.images.table()
            for path, w, h in zip(table.paths, table.widths.tolist(), table.heights.tolist(), strict=True):
                sizes[path] = (w, h)
    failed = {issue["path"] for issue in report.get("failed", [])}
    duplicates = {issue["path"] for issue in report.get("duplicates", [])}
    fates = {}
    for m in made:
        text = _printable(m.path)
        absolute = _printable(os.fsencode(os.path.abspath(m.path)))
        if absolute in sizes:
            fates[m.path] = ("import", sizes[absolute])
        elif text in failed:
            fates[m.path] = ("refuse", None)
        elif text in duplicates:
            fates[m.path] = ("duplicate", None)
        else:
            fates[m.path] = ("none", None)
    return fates


def _table(made: list[Made], report: dict, project: Path, crashed: bool) -> None:
    fates = _fates(made, report, project) if not crashed else {}
    rows: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    wrong: list[str] = []
    for m in made:
        fate, size = fates.get(m.path, ("none", None))
        row = rows[m.kind]
        row["files"] += 1
        row[fate] += 1
        quiet = m.expect in ("ignore", "hidden") and fate == "none"
        ok = quiet or (fate == m.expect and (m.size is None or size == m.size))
        if not ok:
            row["wrong"] += 1
            wrong.append(f"{_printable(m.path)!r} ({m.kind}): expected {m.expect}"
                         f"{' ' + str(m.size) if m.size else ''}, got {fate}{' ' + str(size) if size else ''}")
    print("| kind | files | imported | reported with a reason | duplicates | left out, counted | not as expected |")
    print("|---|---|---|---|---|---|---|")
    for kind, row in sorted(rows.items()):
        print(f"| {kind} | {row['files']} | {row['import']} | {row['refuse']} | {row['duplicate']} | {row['none']} |"
              f" {row['wrong']} |")
    if report:
        print(f"\nreport: {report['scanned']} scanned, {report['added']} added, {len(report['failed'])} unreadable"
              f" or refused, {len(report['duplicates'])} duplicates, {report['ignored_files']} not images,"
              f" {report['hidden_files']} hidden")
    for line in wrong[:20]:
        print(f"not as expected: {line}")


if __name__ == "__main__":
    main()
