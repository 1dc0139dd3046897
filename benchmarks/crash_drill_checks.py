"""What ``crash_drill.py`` does after each kill: reading acknowledgements, counting the
processes a kill left behind, opening the project and checking it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TAG_VAR = "LABELAPP_CRASH_DRILL"


@dataclass
class Tally:
    """One scenario's row of the table."""

    name: str
    kills: int = 0
    opened: int = 0
    integrity_ok: int = 0
    acknowledged: int = 0
    found: int = 0
    half_applied: int = 0  # a multi-image write found partly applied
    survivors: int = 0  # processes of the killed command still alive after the grace period
    kills_with_survivors: int = 0
    slowest_exit_s: float = 0.0  # the longest a killed command's processes took to end
    finished_first: int = 0  # commands that had ended before their kill came (nothing interrupted)
    stray_files: int = 0  # mask temp files and unreferenced mask files left by the kills
    notes: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return self.acknowledged - self.found


def tagged_env(tag: str) -> dict[str, str]:
    """The environment of a drilled command: inherited by every process it starts, so that
    those left alive after the kill can be found."""
    env = dict(os.environ)
    env[TAG_VAR] = tag
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def start(args: list[str], tag: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=tagged_env(tag), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def tagged_pids(tag: str) -> list[int]:
    found = []
    needle = f"{TAG_VAR}={tag}\0".encode()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as handle:
                if needle in handle.read():
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def survivors(tag: str, grace_s: float, tally: Tally) -> None:
    """Counts the processes started by the killed command that are still alive ``grace_s``
    after the kill (they are killed then: they are the drill's own), and how long the
    others took to end."""
    started = time.monotonic()
    alive = [pid for pid in tagged_pids(tag) if _running(pid)]
    while alive and time.monotonic() < started + grace_s:
        time.sleep(0.05)
        alive = [pid for pid in tagged_pids(tag) if _running(pid)]
    tally.slowest_exit_s = max(tally.slowest_exit_s, time.monotonic() - started)
    for pid in alive:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    tally.survivors += len(alive)
    tally.kills_with_survivors += int(bool(alive))


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting for its parent."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def kill_now(proc: subprocess.Popen) -> None:
    """SIGKILL to the command's main process only (as a crash or the OOM killer would)."""
    try:
        os.kill(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    proc.wait()


def wait_for_line(path: Path, word: str, proc: subprocess.Popen, timeout_s: float = 60.0) -> bool:
    """Waits until ``path`` holds a line starting with ``word`` (the child is ready)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if path.exists() and any(line.startswith(word) for line in path.read_text().splitlines()):
            return True
        time.sleep(0.02)
    return False


def read_acks(path: Path) -> tuple[list[dict], dict | None]:
    """The acknowledged writes in order, and the write in flight at the kill (None: none)."""
    acked, in_flight = [], None
    if not path.exists():
        return acked, in_flight
    for line in path.read_text().splitlines():
        kind, _, payload = line.partition(" ")
        if kind == "want":
            in_flight = json.loads(payload)
        elif kind == "ack":
            acked.append(json.loads(payload))
            in_flight = None
    return acked, in_flight


def open_checked(root: Path, tally: Tally):
    """Opens the project after a kill and runs SQLite's integrity check; the project, or
    None when it did not open."""
    from core.store import Project, StoreError

    try:
        project = Project.open(root)
    except (StoreError, OSError) as exc:
        tally.notes.append(f"kill {tally.kills}: did not open: {exc}")
        return None
    tally.opened += 1
    verdict = project.integrity_check()
    if verdict == "ok":
        tally.integrity_ok += 1
    else:
        tally.notes.append(f"kill {tally.kills}: integrity_check: {verdict}")
    return project


def stray_mask_files(project) -> int:
    """Temp files and unreferenced mask files in the masks folder (a kill's leftovers, which
    ``Masks.collect_leftovers`` removes once they are old enough); removed here."""
    return len(project.masks.collect_leftovers(min_age_s=0))
