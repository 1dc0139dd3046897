"""The training curves of a run: every loss and metric its progress records carried.

A :class:`CurveLog` takes the records of a job as they pass (:func:`logged`) and keeps one
curve per phase and name ("defect detector", "decision loss"). A point's x is the epoch
the record reports (``Progress.epoch``), or, for a phase without epochs, the minutes since
the phase's first point. The training panel draws the live curves from a log of its own;
each training job saves its log with its run (``curves.json`` in the run folder, at most
:data:`MAX_POINTS` points per curve), so that the curves of the last run come back when
the project is opened again (:func:`load_curves`).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from core.jobs.base import Progress

if TYPE_CHECKING:
    from core.jobs.runs import RunRecorder
    from core.store import Project, Run

logger = logging.getLogger(__name__)
R = TypeVar("R")
CURVES_FILE = "curves.json"
MAX_POINTS = 400  # per curve, in the saved file (bucket means beyond that)
EPOCH, MINUTES = "epoch", "minutes"


@dataclass(frozen=True)
class Point:
    """One new point of a curve: its phase and name, x, y, and whether it is a metric
    (comes now and then: once per epoch, once per run) rather than a loss (every step)."""

    phase: str
    name: str
    x: float
    y: float
    metric: bool


@dataclass
class Curve:
    """One curve: its points, in order; ``metric``: see :class:`Point`."""

    phase: str
    name: str
    metric: bool
    xs: list[float] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)


@dataclass
class _Phase:
    unit: str  # EPOCH or MINUTES
    started: float
    records: int = 0  # records that carried points
    last_x: float = 0.0


class CurveLog:
    """The curves of one job, by phase; ``clock`` gives the minutes of phases without epochs."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._phases: dict[str, _Phase] = {}
        self.curves: dict[tuple[str, str], Curve] = {}

    def add(self, record: Progress) -> list[Point]:
        """Keeps the losses and metrics of ``record``; returns the points it added."""
        if not (record.losses or record.metrics):
            return []
        phase = self._phases.get(record.phase)
        if phase is None:
            unit = EPOCH if record.epoch is not None else MINUTES
            phase = self._phases[record.phase] = _Phase(unit=unit, started=self._clock())
        phase.records += 1
        if phase.unit == EPOCH:
            x = phase.last_x if record.epoch is None else float(record.epoch)
        else:
            x = (self._clock() - phase.started) / 60.0
        phase.last_x = x
        points = [Point(record.phase, name, x, float(value), metric)
                  for metric, values in ((False, record.losses), (True, record.metrics))
                  for name, value in values.items() if math.isfinite(float(value))]
        for point in points:
            curve = self.curves.get((point.phase, point.name))
            if curve is None:
                curve = self.curves[point.phase, point.name] = Curve(point.phase, point.name, point.metric)
            curve.xs.append(point.x)
            curve.ys.append(point.y)
        return points

    def unit(self, phase: str) -> str:
        """The x-axis of ``phase``: :data:`EPOCH` or :data:`MINUTES`."""
        found = self._phases.get(phase)
        return found.unit if found is not None else MINUTES

    def phases(self) -> list[str]:
        """The phases with curves, in the order they came."""
        return list(self._phases)

    def dotted(self, curve: Curve) -> bool:
        """Whether ``curve`` is a metric that comes now and then (drawn with dots on its points)."""
        return curve.metric and (len(curve.xs) == 1 or len(curve.xs) < self._phases[curve.phase].records)

    def clear(self) -> None:
        self._phases.clear()
        self.curves.clear()

    def to_json(self, max_points: int = MAX_POINTS) -> dict[str, Any]:
        phases = []
        for name, phase in self._phases.items():
            curves = [c for c in self.curves.values() if c.phase == name]
            phases.append({"phase": name, "unit": phase.unit, "records": phase.records, "curves": [
                {"name": c.name, "metric": c.metric, **_thinned(c.xs, c.ys, max_points)} for c in curves]})
        return {"version": 1, "phases": phases}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CurveLog:
        """A log as :meth:`to_json` wrote it.

        Raises:
            ValueError: ``data`` is not such a log.
        """
        log = cls()
        try:
            for phase in data["phases"]:
                name = str(phase["phase"])
                unit = EPOCH if phase["unit"] == EPOCH else MINUTES
                log._phases[name] = _Phase(unit=unit, started=0.0, records=int(phase["records"]))
                for c in phase["curves"]:
                    xs, ys = [float(x) for x in c["x"]], [float(y) for y in c["y"]]
                    if len(xs) != len(ys):
                        raise ValueError(f"curve {c['name']!r}: {len(xs)} x and {len(ys)} y values")
                    log.curves[name, str(c["name"])] = Curve(name, str(c["name"]), bool(c["metric"]), xs, ys)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a curve log: {exc!r}") from exc
        return log


def _thinned(xs: list[float], ys: list[float], max_points: int) -> dict[str, list[float]]:
    """At most ``max_points`` points: the means of equal runs of points beyond that."""
    n = len(xs)
    if n <= max_points:
        return {"x": [round(x, 4) for x in xs], "y": [round(y, 6) for y in ys]}
    bounds = [round(k * n / max_points) for k in range(max_points + 1)]
    spans = [(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
    pairs = [(sum(xs[a:b]) / (b - a), sum(ys[a:b]) / (b - a)) for a, b in spans]
    return {"x": [round(x, 4) for x, _ in pairs], "y": [round(y, 6) for _, y in pairs]}


def logged(job: Generator[Progress, None, R], log: CurveLog) -> Generator[Progress, None, R]:
    """``job`` as it is, its curve points kept in ``log``."""
    while True:
        try:
            record = next(job)
        except StopIteration as stop:
            return stop.value
        log.add(record)
        yield record


def save_curves(recorder: RunRecorder, log: CurveLog, *, final: bool = False) -> None:
    """Writes ``log`` into the folder of the run ``recorder`` records (before it finishes;
    ``final``: into the folder of a finished run that streams its predictions)."""
    if log.curves:
        (recorder.write_final_json if final else recorder.write_json)(CURVES_FILE, log.to_json())


def load_curves(project: Project, run: Run) -> CurveLog | None:
    """The curves saved with ``run``; None when it saved none (or they do not read)."""
    path = project.runs_dir / str(run.id) / CURVES_FILE
    try:
        return CurveLog.from_json(json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        logger.warning("ignoring the curves of run %d: %s", run.id, exc)
        return None
