"""Training runs: what was trained, on which labels, with which result."""

from __future__ import annotations

import json
from typing import Any

from core.store.database import Database, now_iso
from core.store.errors import RunNotFoundError
from core.store.records import PredictionState, Run, RunKind, RunStatus

_COLUMNS = ("id, method, status, config, label_snapshot, seed, started_at, finished_at, metrics, checkpoint,"
            " prediction_state")


class Runs:
    def __init__(self, db: Database) -> None:
        self._db = db

    def start(self, *, method: str, config: dict[str, Any], label_snapshot: dict[str, Any],
              seed: int | None) -> Run:
        with self._db.transaction():
            cur = self._db.execute(
                "INSERT INTO runs (method, status, config, label_snapshot, seed, started_at)"
                " VALUES (?, 'running', ?, ?, ?, ?)",
                (method, json.dumps(config, sort_keys=True), json.dumps(label_snapshot, sort_keys=True),
                 seed, now_iso()),
            )
        return self.get(int(cur.lastrowid))

    def finish(self, run_id: int, *, status: RunStatus, metrics: dict[str, Any] | None = None,
               checkpoint: str | None = None, prediction_state: PredictionState | None = None) -> Run:
        """Ends a run; ``prediction_state`` STREAMING for a run that stores its predictions after this."""
        state = None if prediction_state is None else PredictionState(prediction_state).value
        with self._db.transaction():
            self.get(run_id)
            self._db.execute(
                "UPDATE runs SET status = ?, finished_at = ?, metrics = ?, checkpoint = ?, prediction_state = ?"
                " WHERE id = ?",
                (RunStatus(status).value, now_iso(), json.dumps(metrics or {}, sort_keys=True),
                 checkpoint, state, run_id),
            )
        return self.get(run_id)

    def set_prediction_state(self, run_id: int, state: PredictionState, *,
                             metrics: dict[str, Any] | None = None) -> Run:
        """Records how far a finished run's predictions are stored (the end of its streaming),
        with its metrics replaced by ``metrics`` in the same transaction when given."""
        with self._db.transaction():
            self.get(run_id)
            self._db.execute("UPDATE runs SET prediction_state = ? WHERE id = ?",
                             (PredictionState(state).value, run_id))
            if metrics is not None:
                self._db.execute("UPDATE runs SET metrics = ? WHERE id = ?",
                                 (json.dumps(metrics, sort_keys=True), run_id))
        return self.get(run_id)

    def predicting(self) -> list[Run]:
        """The finished runs whose predictions are still streaming (or whose process died doing it)."""
        return [_row(r) for r in self._db.all(f"SELECT {_COLUMNS} FROM runs WHERE prediction_state = ?"
                                              " ORDER BY id", (PredictionState.STREAMING.value,))]

    def update_metrics(self, run_id: int, metrics: dict[str, Any]) -> Run:
        """Replaces a finished run's metrics (e.g. a threshold the user moved)."""
        with self._db.transaction():
            self.get(run_id)
            self._db.execute("UPDATE runs SET metrics = ? WHERE id = ?", (json.dumps(metrics, sort_keys=True), run_id))
        return self.get(run_id)

    def get(self, run_id: int) -> Run:
        row = self._db.one(f"SELECT {_COLUMNS} FROM runs WHERE id = ?", (run_id,))
        if row is None:
            raise RunNotFoundError(f"no run with id {run_id}")
        return _row(row)

    def list(self) -> list[Run]:
        return [_row(r) for r in self._db.all(f"SELECT {_COLUMNS} FROM runs ORDER BY id")]

    def count(self) -> int:
        return int(self._db.scalar("SELECT COUNT(*) FROM runs"))

    def last_id(self) -> int:
        """The id of the newest run, 0 when none."""
        return int(self._db.scalar("SELECT COALESCE(MAX(id), 0) FROM runs"))

    def finished(self, kind: RunKind, *, with_checkpoint: bool = False) -> list[Run]:
        """The runs of ``kind`` that finished successfully, newest first; only those that
        saved a checkpoint when ``with_checkpoint``."""
        return [_row(r) for r in self._db.all(_finished_sql(with_checkpoint), _finished_params(kind))]

    def latest(self, kind: RunKind, *, with_checkpoint: bool = False) -> Run | None:
        """The newest run of ``kind`` that finished successfully (with a checkpoint when
        ``with_checkpoint``), or None."""
        row = self._db.one(_finished_sql(with_checkpoint) + " LIMIT 1", _finished_params(kind))
        return None if row is None else _row(row)


def _finished_sql(with_checkpoint: bool) -> str:
    checkpoint = " AND checkpoint IS NOT NULL AND checkpoint != ''" if with_checkpoint else ""
    return (f"SELECT {_COLUMNS} FROM runs WHERE status = ? AND (method = ? OR method LIKE ?){checkpoint}"
            " ORDER BY id DESC")


def _finished_params(kind: RunKind) -> tuple[str, str, str]:
    return RunStatus.DONE.value, kind.method(), kind.method("%")


def _row(r: tuple) -> Run:
    return Run(id=r[0], method=r[1], status=RunStatus(r[2]), config=json.loads(r[3]),
               label_snapshot=json.loads(r[4]), seed=r[5], started_at=r[6], finished_at=r[7],
               metrics=json.loads(r[8]), checkpoint=r[9],
               prediction_state=None if r[10] is None else PredictionState(r[10]))
