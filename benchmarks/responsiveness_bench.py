"""GUI responsiveness while Retrain runs, and embedding / pixel-cache throughput.

    .venv/bin/python benchmarks/responsiveness_bench.py [--images 2000] [--size 200] [--epochs 3]
        [--labels-per-class 10] [--retrains 2] [--cache /tmp/labelapp-responsiveness] [--no-throughput]

Builds (once, cached under ``--cache``) a generated demo project, copies it, labels
``--labels-per-class`` images of each class from the truth, opens the real
:class:`MainWindow` (offscreen unless ``QT_QPA_PLATFORM`` is set) and triggers the
``train.retrain`` action, ``--retrains`` times in the same window: the first is cold (the
training process starts and imports torch), the next ones warm (it is reused). Until each
run ends (plus 1 s of post-run refresh) a 5 ms timer on the GUI thread records the gaps
between its timeouts while a simulated user, every 50 ms, labels the image shown (its
class key; the label-to-grid latency is the time from the key's action to the grid's
refresh, store write included), goes to the next image and scrolls the grid. A gap counts in the phase the training
panel shows at its end (what the line under the bar says, else the part of the retrain
above it; "pixel cache" lasts until the first pretraining record, so it includes
building the model and optimizer). faulthandler's watchdog dumps all stacks
50 ms into each stall; the longest stalls are listed with them and with the CPU time
of the GUI thread and the process during the stall (GUI CPU far below the stall: the
GUI thread waited for the GIL or a core). The window's process never imports torch
(training runs in the worker process); the last line of each retrain says whether it
did. Then, with the window closed, it times the pixel-cache build and embedding every
image with the default encoder (shufflenet, 96 px) as the pretraining job does.
Target: longest stall 50 ms or less in every phase. Timings are noisy on a shared machine;
the last line sums it up (``longest stall 38 ms``).
"""

from __future__ import annotations

import argparse
import csv
import faulthandler
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from core.demo_project import create_demo_project  # noqa: E402
from core.store import Project  # noqa: E402

PERIOD_MS = 5
USER_MS = 50
STALL_S = 0.050
SETTLE_MS = 1000  # the loop runs on after the end, so the post-run refresh and repaint are measured
IDLE = ("/threading.py", "/queue.py", "/selectors.py")  # where waiting threads sit
PHASES = (("decoding", "pixel cache"), ("pretraining", "pretraining"), ("embedding", "embedding"),
          ("classifier", "classifier"), ("defect", "defect detector"), ("predicting", "defect detector"),
          ("suggest", "suggestions"), ("finished", "after the run"))


def demo_copy(cache: Path, n: int, size: int, scratch: Path) -> Path:
    """A fresh copy of the (cached) demo project."""
    template = cache / f"demo-{n}-{size}"
    if not (template / "complete").exists():
        shutil.rmtree(template, ignore_errors=True)
        print(f"generating {n} demo images of {size} px under {template} (once)…", flush=True)
        create_demo_project(template, n_images=n, size=size)
        (template / "complete").touch()
    root = scratch / "project"
    shutil.copytree(template, root)
    return root


def label_from_truth(root: Path, per_class: int) -> int:
    """Labels the first ``per_class`` images of each class as the truth says."""
    with open(root / "truth" / "labels.csv", newline="") as f:
        truth = {Path(row["file"]).name: row["class"] for row in csv.DictReader(f)}
    with Project.open(root) as project:
        by_class: dict[str, list[int]] = {}
        for image_id, path in project.images.paths_by_id().items():
            by_class.setdefault(truth[Path(path).name], []).append(int(image_id))
        return sum(project.labels.set_many(ids[:per_class], name, actor="bench", source="bench")
                   for name, ids in by_class.items())


class Probe:
    """5 ms timer gaps with the phase shown at each gap's end. faulthandler's watchdog
    (a C thread that needs no GIL) dumps every thread's stack when no tick came for
    100 ms; a marker after each long gap ties the dump to its stall."""

    def __init__(self, window, dump: Path) -> None:
        from PySide6.QtCore import Qt, QTimer

        self._window = window
        self.gaps: list[tuple[float, float, str]] = []  # (end time, gap s, phase)
        self.cpu: list[tuple[float, float]] = []  # CPU s in each gap: (GUI thread, whole process)
        self._cpu_last = (0.0, 0.0)
        self.last = time.perf_counter()
        self._dump_path = dump
        self._dump = open(dump, "w")  # noqa: SIM115 - faulthandler writes to its descriptor until stop()
        self._timer = QTimer(timerType=Qt.TimerType.PreciseTimer, interval=PERIOD_MS)
        self._timer.timeout.connect(self._on_timer_timeout)

    def start(self) -> None:
        self.last = time.perf_counter()
        self._cpu_last = (time.thread_time(), time.process_time())
        faulthandler.dump_traceback_later(STALL_S, file=self._dump)
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        faulthandler.cancel_dump_traceback_later()
        self._dump.close()

    def _on_timer_timeout(self) -> None:
        now = time.perf_counter()
        gap = now - self.last
        if gap > 0.9 * STALL_S:
            os.write(self._dump.fileno(), f"@@ {len(self.gaps)}\n".encode())
        faulthandler.dump_traceback_later(STALL_S, file=self._dump)
        panel = self._window.training_panel  # the part of the retrain above the bar, what it does below
        part, detail = panel.phase_label.text().lower(), panel.detail_label.text().lower()
        phase = "after the run" if part.startswith("finished") else next(
            (name for text in (detail, part) for key, name in PHASES if key in text), "start")
        self.gaps.append((now, gap, phase))
        cpu = (time.thread_time(), time.process_time())
        self.cpu.append((cpu[0] - self._cpu_last[0], cpu[1] - self._cpu_last[1]))
        self._cpu_last = cpu
        self.last = time.perf_counter()

    def stacks(self) -> dict[int, dict[int, list[str]]]:
        """Gap index -> thread id -> frames (innermost first) dumped during that gap."""
        out: dict[int, dict[int, list[str]]] = {}
        threads: dict[int, list[str]] = {}
        frames: list[str] = []
        for line in self._dump_path.read_text(errors="replace").splitlines():
            if line.startswith("@@ "):
                out[int(line[3:])], threads = threads, {}
            elif line.startswith(("Thread 0x", "Current thread 0x")):
                token = next(t for t in line.split() if t.startswith("0x"))
                try:
                    ident = int(token, 16)
                except ValueError:  # a marker written into the middle of the dump's line (a loaded machine)
                    continue
                frames = threads.setdefault(ident, [])
            elif line.strip().startswith("File "):
                path, _, rest = line.strip()[6:].partition('", line ')
                number, _, func = rest.partition(" in ")
                frames.append(f"{'/'.join(Path(path).parts[-2:])}:{number} {func}")
        return out


def _summary(frames: list[str], depth: int = 5) -> str:
    """The innermost frames that are not import machinery, inner < outer."""
    kept = [f for f in frames if "<frozen" not in f]
    return " < ".join(kept[:depth]) or "(no Python frame)"


def run_retrains(root: Path, epochs: int, scratch: Path, retrains: int) -> list[tuple]:
    """Opens the window on ``root`` and retrains ``retrains`` times while a simulated user
    works; per retrain: the probe, the wall time, the outcome, the label-to-grid
    latencies (s) and the seconds from the click to the first predictions in the grid."""
    from PySide6.QtCore import QEventLoop, QSettings, QTimer

    from labelapp.shell.app import create_application, create_main_window

    create_application([sys.argv[0]])
    settings = QSettings(str(scratch / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("training/epochs", epochs)
    window = create_main_window(root, settings=settings)
    window.labeling.auto_advance = False  # the user steps on with the next-image key
    window.resize(1400, 900)
    window.show()
    loop = QEventLoop()
    from labelapp.jobs.warmup import start_warmup

    warmup = start_warmup()  # as labelapp open does, half a second after the window shows
    poll = QTimer(interval=50)

    def settle() -> None:
        if not warmup.is_alive():
            poll.stop()
            QTimer.singleShot(SETTLE_MS, loop.quit)

    poll.timeout.connect(settle)
    poll.start()
    loop.exec()  # first paint, thumbnails, warm-up imports
    bar = window.grid.view.verticalScrollBar()
    actions = window.window_actions
    next_image = actions.actions["image.next"]
    class_keys = [a for a in window.actions() if a.shortcut().toString() in ("1", "2", "3")]
    refreshed: list[float] = []
    real_refresh = window.grid.refresh

    def refresh(ids):  # the grid's refresh after a label: when the tile shows it
        real_refresh(ids)
        refreshed.append(time.perf_counter())

    window.grid.refresh = refresh
    def one_retrain(number: int) -> tuple[Probe, float, str, list[float]]:
        probe, outcome = Probe(window, scratch / f"stacks-{number}.txt"), {"end": 0.0, "status": "timeout"}
        latencies: list[float] = []
        step = {"n": 0}

        def user_step() -> None:
            step["n"] += 1
            if class_keys and step["n"] % 2:
                refreshed.clear()
                pressed = time.perf_counter()
                class_keys[step["n"] % len(class_keys)].trigger()
                if refreshed:
                    latencies.append(refreshed[0] - pressed)
            else:
                next_image.trigger()
                bar.setValue(0 if bar.value() >= bar.maximum() else bar.value() + 3 * bar.singleStep())

        def ended(status: str) -> None:
            outcome.update(end=time.perf_counter(), status=status)
            QTimer.singleShot(SETTLE_MS, loop.quit)

        first_stored: list[float] = []
        stored = window.training.predictions_stored.connect(
            lambda _batch: first_stored.append(time.perf_counter()) if not first_stored else None)
        finished = window.training.run_finished.connect(lambda _result: ended("finished"))
        failed = window.training.run_failed.connect(lambda exc: ended(f"failed: {exc}"))
        user = QTimer(interval=USER_MS)
        user.timeout.connect(user_step)
        probe.start()
        user.start()
        started = time.perf_counter()
        actions.actions["train.retrain"].trigger()
        QTimer.singleShot(30 * 60 * 1000, loop.quit)
        loop.exec()
        user.stop()
        probe.stop()
        window.training.run_finished.disconnect(finished)
        window.training.predictions_stored.disconnect(stored)
        feedback.append(first_stored[0] - started if first_stored else float("nan"))
        window.training.run_failed.disconnect(failed)
        return probe, (outcome["end"] or time.perf_counter()) - started, outcome["status"], latencies

    feedback: list[float] = []  # click to the first predictions on the tiles, per retrain
    results = [(*one_retrain(number), feedback[number]) for number in range(retrains)]
    window.close()
    return results


def throughput(root: Path, size: int = 96, repeats: int = 2) -> tuple[int, dict[str, tuple[float, float]]]:
    """Images and, per measure, (images/s, process CPU s per wall s) of the fastest of ``repeats``."""
    import torch

    from core.jobs import drain
    from core.media.pixel_cache import build_pixel_cache, cache_paths
    from core.training.pretrain import _cache_size, _embed
    from models.encoders import create_encoder
    from models.ssl import embed_images, prepare_images

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    encoder = create_encoder("shufflenet", in_channels=1)
    times: dict[str, list[tuple[float, float]]] = {"cache": [], "encoder": [], "job": []}
    with Project.open(root) as project:
        for _ in range(repeats):
            for path in cache_paths(project, _cache_size(size), False):
                path.unlink(missing_ok=True)
            clock = (time.perf_counter(), _cpu())
            cache = drain(build_pixel_cache(project, _cache_size(size)))
            clock = _lap(times["cache"], clock)
            for start in range(0, len(cache.ids), 256):
                pixels = torch.from_numpy(np.array(cache.pixels[start:start + 256]))[:, None]
                embed_images(encoder, prepare_images(pixels, size=size))
            clock = _lap(times["encoder"], clock)
            drain(_embed(encoder, cache, size, None))
            _lap(times["job"], clock)
    n = len(cache.ids)
    return n, {name: (n / min(runs)[0], min(runs)[1] / min(runs)[0]) for name, runs in times.items()}


def _cpu() -> float:
    """CPU seconds of this process and its ended children (the decoding pool)."""
    return sum(os.times()[:4])


def _lap(into: list[tuple[float, float]], since: tuple[float, float]) -> tuple[float, float]:
    now = (time.perf_counter(), _cpu())
    into.append((now[0] - since[0], now[1] - since[1]))
    return now


def _row(name: str, gaps: list[float], seconds: float) -> str:
    ms = sorted(1000 * g for g in gaps)
    p99 = ms[min(len(ms) - 1, int(0.99 * len(ms)))]
    stalls = sum(g > 1000 * STALL_S for g in ms)
    return (f"| {name} | {seconds:.1f} | {len(ms)} | {statistics.median(ms):.1f} | {p99:.1f} | "
            f"{ms[-1] - PERIOD_MS:.0f} | {stalls} |")


def report(probe: Probe, wall_s: float, status: str, latencies: list[float], feedback_s: float, which: str,
           args: argparse.Namespace) -> float:
    """Prints one retrain's table; returns its longest stall (ms)."""
    print(f"\nRetrain responsiveness ({which}), {args.images} images of {args.size} px, {args.epochs} pretraining "
          f"epochs, {args.labels_per_class} labels per class, {os.cpu_count()} cores, "
          f"platform {os.environ['QT_QPA_PLATFORM']}, load average {os.getloadavg()[0]:.1f}: {status}, "
          f"wall {wall_s:.1f} s; torch imported in the window's process: {'torch' in sys.modules}\n")
    print("| phase | s | timer samples | median gap ms | p99 gap ms | longest stall ms | stalls > 50 ms |")
    print("|---|---|---|---|---|---|---|")
    for phase in ["start"] + [name for _key, name in PHASES]:
        rows = [(t, g) for t, g, p in probe.gaps if p == phase]
        if rows:
            print(_row(phase, [g for _t, g in rows], rows[-1][0] - rows[0][0] + rows[0][1]))
    print(_row("whole run", [g for _t, g, _p in probe.gaps], wall_s))
    print(f"\nFirst feedback: the first new predictions reached the grid {feedback_s:.1f} s after the click")
    if latencies:
        ms = sorted(1000 * x for x in latencies)
        print(f"\nLabel to grid while training: {len(ms)} labels, median {statistics.median(ms):.1f} ms, "
              f"p95 {ms[min(len(ms) - 1, int(0.95 * len(ms)))]:.1f} ms, max {ms[-1]:.1f} ms")
    stacks = probe.stacks()
    main_id = threading.main_thread().ident
    stalls = sorted((i for i, (_t, g, _p) in enumerate(probe.gaps) if g > STALL_S), key=lambda i: -probe.gaps[i][1])
    if stalls:
        print("\nLongest stalls, with the Python stacks 100 ms into each (inner < outer):")
    for index in stalls[:8]:
        end, gap, phase = probe.gaps[index]
        threads = stacks.get(index, {})
        busy = [f for t, f in threads.items() if t != main_id and f and not f[0].split(":")[0].endswith(IDLE)]
        others = "; ".join(f"[{f[-1].split(':')[0]}] {_summary(f, 2)}" for f in busy) or "-"
        gui_cpu, all_cpu = (round(1000 * c) for c in probe.cpu[index])
        print(f"- {1000 * gap:.0f} ms at {end - probe.gaps[0][0]:.1f} s in {phase} (CPU ms: GUI thread {gui_cpu}, "
              f"process {all_cpu}): GUI {_summary(threads.get(main_id, []))} | other threads {others}")
    return 1000 * max(g for _t, g, _p in probe.gaps) - PERIOD_MS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--labels-per-class", type=int, default=10)
    parser.add_argument("--retrains", type=int, default=2, help="retrains in one window: the first cold, then warm")
    parser.add_argument("--no-throughput", action="store_true", help="skip the throughput table")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "labelapp-responsiveness")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        root = demo_copy(args.cache, args.images, args.size, scratch)
        label_from_truth(root, args.labels_per_class)
        runs = run_retrains(root, args.epochs, scratch, args.retrains)
        longest = [report(*run, "cold" if i == 0 else "warm", args) for i, run in enumerate(runs)]
        if not args.no_throughput:
            n, rates = throughput(root)
    if not args.no_throughput:
        print_throughput(n, rates)
    print(f"\nlongest stall {max(longest):.0f} ms (cold {longest[0]:.0f} ms"
          + (f", warm {max(longest[1:]):.0f} ms)" if len(longest) > 1 else ")"))


def print_throughput(n: int, rates: dict[str, tuple[float, float]]) -> None:
    print(f"\nThroughput, {n} images, {os.cpu_count()} cores, window closed, best of 2 "
          "(CPU/wall: the cores our process got)\n\n| measure | images/s | CPU/wall |\n|---|---|---|")
    for name, text in (("cache", "pixel cache build (decode, resize to 128 px gray; process pool, spawn included)"),
                       ("encoder", "embeddings: shufflenet at 96 px, embed_images(prepare_images) in chunks of 256"),
                       ("job", "pretraining's embedding phase (_embed: embeddings + texture statistics)")):
        print(f"| {text} | {rates[name][0]:.0f} | {rates[name][1]:.1f} |")


if __name__ == "__main__":
    main()
