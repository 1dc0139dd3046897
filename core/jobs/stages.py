"""One progress and one time left for a job made of stages (a retrain: pretraining, the
classifier, the defect detector, the suggestions).

Each stage's own job reports its phases as it always did (``step / total``, and an ETA
for its training phase). :class:`StagedProgress` knows every stage of the whole job up
front with an estimate of its duration (:class:`Stage`, from the stage's planned work or
the durations of earlier runs of its kind) and rewrites every record it passes on:
``overall`` (the fraction of the whole job done, never decreasing), ``eta_s`` (seconds
left in the whole job), ``stage`` and ``stages``.

How the time left is estimated, at each record:

* the stages after the current one: their estimates, times the pace so far: how long the
  stages that ended (and the current one, once its training reports its pace) took
  against their estimates, trusted more the more of the job it has seen (:data:`PACE_S`);
* the current stage: its estimate (at that pace) minus the time it has run, until its training phase
  (``Stage.main_phase``) reports its own ETA; then that ETA plus the estimated time of
  what follows the training (``Stage.tail_s``: embedding, predicting every image), the
  job's ETA trusted more as its phase advances; after the training, what is left of the
  tail, from the rate of the phase in progress once it has one;
* a stage that runs past three quarters of its estimate is given at least a quarter of
  the time it has run beyond that, so the time left never sits at zero while work goes on.

The figure shown is smoothed: it counts down with the clock and moves towards each new
estimate with a time constant of :data:`SMOOTHING_S`, so a noisy estimate does not make
it jump, and never below half the estimate. ``overall`` is the time spent over the time spent plus the time left, never
below its last value and below 1 until :meth:`StagedProgress.done`; while the estimate
grows faster than the clock (a stage overruns), it creeps on towards the end instead of
standing still (:data:`CREEP`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from core.jobs.base import Progress

R = TypeVar("R")
SMOOTHING_S = 6.0  # time constant of the shown time left
TRUST_AFTER = 0.15  # a phase's own ETA counts fully once this fraction of the phase is done
OVERRUN_SHARE = 0.25  # a stage near or past its estimate has at least this share of its overrun left
LAST_BELOW_END = 0.995  # ``overall`` before the job has returned
CREEP = 0.25  # while the estimate grows, ``overall`` moves on at this share of the pace the time left implies
PACE_S = 30.0  # the pace of the stages seen so far counts half for the later ones after this many estimated seconds
PACE_LIMITS = (0.25, 4.0)


@dataclass(frozen=True)
class Stage:
    """One part of a staged job.

    Attributes:
        name: what it is, in words, for the panel ("Defect detector").
        seconds: its estimated duration, the whole stage.
        main_phase: the phase of its job that reports its own ``eta_s`` (the training);
            None when no phase does.
        tail_s: of ``seconds``, the estimated time after ``main_phase`` ends.
    """

    name: str
    seconds: float
    main_phase: str | None = None
    tail_s: float = 0.0


class StagedProgress:
    """Rewrites the records of each stage's job into one progress of the whole job.

    Example::

        staged = StagedProgress([Stage("Classifier", 20.0), Stage("Suggestions", 2.0)])
        result = yield from staged.run(0, classify_job(request))
        count = yield from staged.run(1, suggest_job(suggest_request))
        yield staged.done()
    """

    def __init__(self, stages: Sequence[Stage], *, clock: Callable[[], float] = time.monotonic) -> None:
        self.stages = tuple(stages)
        self._clock = clock
        self._started = clock()
        self._index = 0
        self._stage_started = self._started
        self._main_seen = False
        self._main_ended_at: float | None = None
        self._phase: str | None = None
        self._phase_started = self._started
        self._last_total = 0
        self._shown_eta: float | None = None
        self._shown_at = self._started
        self._overall = 0.0
        self._overall_at = self._started
        self._seen: list[tuple[float, float]] = []  # (estimated, actual) seconds of the stages that ended
        self._projected: float | None = None  # the current stage's duration as its training says

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(stage.name for stage in self.stages)

    def run(self, index: int, job: Generator[Progress, None, R]) -> Generator[Progress, None, R]:
        """Runs stage ``index``'s job, passing on its records rewritten; returns its result."""
        self._begin(index)
        while True:
            try:
                record = next(job)
            except StopIteration as stop:
                return stop.value
            yield self.update(record)

    def done(self, message: str = "") -> Progress:
        """The last record: the whole job done. It repeats the last record's phase, complete
        (a reader with a bar per phase, the command line, sees no new one)."""
        name = self.stages[-1].name if self.stages else ""
        self._overall = 1.0
        total = max(1, self._last_total)
        return Progress(phase=self._phase or "done", step=total, total=total, eta_s=0.0, message=message,
                        overall=1.0, stage=name, stages=self.names)

    def _begin(self, index: int) -> None:
        now = self._clock()
        if index > self._index or (index == self._index and self._phase is not None):
            self._seen.append((self.stages[self._index].seconds, now - self._stage_started))
        self._projected = None
        self._index = index
        self._stage_started = now
        self._main_seen = False
        self._main_ended_at = None
        self._phase = None
        self._phase_started = now

    def update(self, record: Progress) -> Progress:
        """``record`` of the current stage's job with the whole job's progress and time left."""
        now = self._clock()
        self._last_total = record.total
        if record.phase != self._phase:
            self._phase, self._phase_started = record.phase, now
            if self._main_seen and self._main_ended_at is None and record.phase != self.stages[self._index].main_phase:
                self._main_ended_at = now
        left = self._stage_left(record, now) + self._pace() * sum(s.seconds for s in self.stages[self._index + 1:])
        eta = self._smoothed(left, now)
        elapsed = now - self._started
        overall = min(LAST_BELOW_END, elapsed / (elapsed + eta) if elapsed + eta > 0 else 0.0)
        if overall <= self._overall:  # the estimate grew: move on slowly rather than stand still
            dt = max(0.0, now - self._overall_at)
            overall = self._overall + CREEP * (LAST_BELOW_END - self._overall) * min(1.0, dt / max(eta, 1.0))
        self._overall, self._overall_at = max(self._overall, overall), now
        return replace(record, eta_s=eta, overall=self._overall, stage=self.stages[self._index].name,
                       stages=self.names)

    def _stage_left(self, record: Progress, now: float) -> float:
        """Seconds left in the current stage."""
        stage = self.stages[self._index]
        pace = self._pace() if self._projected is None else 1.0  # its own estimates, at the pace seen
        ran = now - self._stage_started
        left = pace * stage.seconds - ran
        is_main = stage.main_phase is not None and record.phase == stage.main_phase and record.eta_s is not None
        if is_main:
            self._main_seen = True
            trust = min(1.0, record.fraction / TRUST_AFTER)
            left = (1.0 - trust) * left + trust * (record.eta_s + pace * stage.tail_s)
            if trust >= 1.0:
                self._projected = ran + left
        elif self._main_ended_at is not None:  # after the training: the tail
            tail_ran = now - self._main_ended_at
            left = pace * stage.tail_s - tail_ran
            fraction = record.fraction
            if fraction > 0.0:  # the phase in progress knows how far it got: its rate says the rest
                by_rate = (now - self._phase_started) * (1.0 - fraction) / fraction
                trust = min(1.0, fraction / TRUST_AFTER)
                left = (1.0 - trust) * left + trust * by_rate
        expected = self._projected if self._projected is not None else pace * stage.seconds
        return max(left, OVERRUN_SHARE * (ran - 0.75 * expected), 0.0)

    def _pace(self) -> float:
        """How much longer than estimated the job runs so far (0.5: twice as fast), leaning
        towards 1 while little of it is seen."""
        seen = list(self._seen)
        if self._projected is not None:
            seen.append((self.stages[self._index].seconds, self._projected))
        estimated = sum(e for e, _a in seen)
        if estimated <= 0.0:
            return 1.0
        ratio = min(PACE_LIMITS[1], max(PACE_LIMITS[0], sum(a for _e, a in seen) / estimated))
        weight = estimated / (estimated + PACE_S)
        return 1.0 + weight * (ratio - 1.0)

    def _smoothed(self, raw: float, now: float) -> float:
        """The time left to show: counts down with the clock, moves towards ``raw``."""
        raw = max(0.0, raw)
        if self._shown_eta is None:
            shown = raw
        else:
            dt = max(0.0, now - self._shown_at)
            counted = max(0.0, self._shown_eta - dt)
            shown = counted + (1.0 - math.exp(-dt / SMOOTHING_S)) * (raw - counted)
            shown = max(shown, 0.5 * raw)  # an estimate that stands still is not counted down to zero
        self._shown_eta, self._shown_at = shown, now
        return shown
