"""Progress of a long command on stderr, one phase after the other.

On a terminal each phase gets a tqdm bar; when the next phase starts the bar is closed
and stays on screen as a finished line, so bars never write over each other. Off a
terminal (a log file, a pipe) bars would be a mess of carriage returns: one plain line
per finished phase instead. ``--json`` runs are silent. The unit is what the phase's
``step`` counts (:attr:`core.jobs.base.Progress.unit`); a phase without one (a share of
a time budget) shows a percentage.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any

PLURALS = {"batch": "batches"}
PERCENT_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]"


def counted(n: int, unit: str) -> str:
    """"1 image", "3 batches"."""
    return f"{n:,} {unit if n == 1 else PLURALS.get(unit, unit + 's')}"


class Bars:
    """Progress bars on stderr, one phase at a time; silent when ``quiet``."""

    def __init__(self, quiet: bool, stream: IO[str] | None = None) -> None:
        self._quiet = quiet
        self._stream = stream or sys.stderr
        self._interactive = bool(getattr(self._stream, "isatty", lambda: False)())
        self._key: tuple[str, str] | None = None
        self._bar: Any = None
        self._started = 0.0
        self._done = self._total = 0

    def progress(self, record: Any) -> None:
        """One :class:`core.jobs.base.Progress` record."""
        self.update(record.phase, record.step, record.total, getattr(record, "unit", ""))

    def update(self, phase: str, done: int, total: int, unit: str = "") -> None:
        if self._quiet or total <= 0:  # no size yet: nothing to measure against
            return
        if (phase, unit) != self._key:
            self._end_phase()
            self._key, self._started = (phase, unit), time.perf_counter()
            if self._interactive:
                self._bar = self._new_bar(phase, total, unit)
        self._done, self._total = done, total
        if self._bar is not None:
            self._bar.total = total
            self._bar.update(done - self._bar.n)

    def close(self) -> None:
        self._end_phase()
        self._key = None

    def _new_bar(self, phase: str, total: int, unit: str) -> Any:
        from tqdm import tqdm

        if unit:
            return tqdm(total=total, desc=phase, unit=unit, file=self._stream, dynamic_ncols=True, mininterval=0.2)
        return tqdm(total=total, desc=phase, bar_format=PERCENT_FORMAT, file=self._stream, dynamic_ncols=True,
                    mininterval=0.2)

    def _end_phase(self) -> None:
        if self._key is None:
            return
        if self._bar is not None:
            self._bar.close()
            self._bar = None
            return
        phase, unit = self._key
        seconds = time.perf_counter() - self._started
        done = f"{self._done:,} of {counted(self._total, unit)}, " if unit else ""
        print(f"{phase}: {done}{seconds:.1f} s", file=self._stream, flush=True)
