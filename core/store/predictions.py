"""Predictions of a run for every image: class, confidence, uncertainty, probabilities."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from core.store.database import Database
from core.store.records import RunKind

_PREDICTED = {RunKind.CLASSIFIER: "class_id", RunKind.SEGDEC: "defect_probability"}  # the column a kind fills


@dataclass(frozen=True)
class Prediction:
    run_id: int
    image_id: int
    class_id: int | None
    confidence: float | None
    uncertainty: float | None
    defect_probability: float | None
    probabilities: np.ndarray | None  # float32 (C,) in the order of the run's classes


@dataclass(frozen=True)
class ClassPredictions:
    """One classifier run's predicted class per image, as columns (NaN where not stored)."""

    ids: np.ndarray  # (N,) int64, ascending
    class_ids: np.ndarray  # (N,) int64, 0 where the class was deleted
    confidence: np.ndarray  # (N,) float64
    uncertainty: np.ndarray  # (N,) float64


class Predictions:
    def __init__(self, db: Database) -> None:
        self._db = db

    def save(self, run_id: int, image_ids: np.ndarray, class_ids: np.ndarray | None, confidence: np.ndarray,
             uncertainty: np.ndarray | None, probabilities: np.ndarray | None = None,
             defect_probability: np.ndarray | None = None) -> None:
        """Writes one run's predictions in one transaction (replacing what it had);
        ``class_ids`` None for a run that predicts no class (the defect detector)."""
        rows = _rows(run_id, image_ids, class_ids, confidence, uncertainty, probabilities, defect_probability)
        with self._db.transaction():
            self._db.execute("DELETE FROM predictions WHERE run_id = ?", (run_id,))
            self._db.conn.executemany(_INSERT, rows)

    def add(self, run_id: int, image_ids: np.ndarray, class_ids: np.ndarray | None, confidence: np.ndarray,
            uncertainty: np.ndarray | None, probabilities: np.ndarray | None = None,
            defect_probability: np.ndarray | None = None) -> None:
        """Writes the predictions of some images of a run (replacing theirs), keeping the others."""
        rows = _rows(run_id, image_ids, class_ids, confidence, uncertainty, probabilities, defect_probability)
        with self._db.transaction():
            self._db.conn.executemany(_INSERT, rows)

    def delete_run(self, run_id: int) -> None:
        """Drops the predictions of one run (a run that failed or was cancelled)."""
        with self._db.transaction():
            self._db.execute("DELETE FROM predictions WHERE run_id = ?", (run_id,))

    def latest_run(self, kind: RunKind = RunKind.CLASSIFIER) -> int | None:
        """The newest finished run with stored predictions of what ``kind`` predicts
        (classes, or defect probabilities), whatever its method.

        Not ``runs.latest(kind)``: the grid, the map, the verdict and the suggestions show
        predictions, so a run counts here only once its predictions are stored. A run
        that streams its predictions (``Run.prediction_state``) counts from its first
        stored batch on, and so does a partial one: images it has not predicted have no
        prediction of this kind then.
        """
        column = _PREDICTED[kind]
        return self._db.scalar(
            "SELECT r.id FROM runs r WHERE r.status = 'done' AND EXISTS"
            f" (SELECT 1 FROM predictions p WHERE p.run_id = r.id AND p.{column} IS NOT NULL)"
            " ORDER BY r.id DESC LIMIT 1")

    def get(self, image_id: int, run_id: int | None = None, kind: RunKind = RunKind.CLASSIFIER,
            ) -> Prediction | None:
        """One image's prediction from ``run_id``, or from the latest run of ``kind``."""
        run_id = self.latest_run(kind) if run_id is None else run_id
        if run_id is None:
            return None
        row = self._db.one(
            "SELECT run_id, image_id, class_id, confidence, uncertainty, defect_probability, probabilities"
            " FROM predictions WHERE run_id = ? AND image_id = ?", (run_id, image_id))
        if row is None:
            return None
        probabilities = None if row[6] is None else np.frombuffer(row[6], dtype=np.float32)
        return Prediction(*row[:6], probabilities=probabilities)

    def probability_matrix(self, run_id: int) -> tuple[np.ndarray, np.ndarray]:
        """(image ids, (N, C) float32 probabilities) of one classifier run, in one read."""
        rows = self._db.all("SELECT image_id, probabilities FROM predictions WHERE run_id = ?"
                            " AND probabilities IS NOT NULL ORDER BY image_id", (run_id,))
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        if not rows:
            return ids, np.zeros((0, 0), dtype=np.float32)
        return ids, np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)

    def class_columns(self, run_id: int, image_ids: Iterable[int] | None = None) -> ClassPredictions:
        """Every image's (or those of ``image_ids``) predicted class, confidence and
        uncertainty from one run, in one read."""
        rows = self._db.all("SELECT image_id, COALESCE(class_id, 0), confidence, uncertainty FROM predictions"
                            f" WHERE run_id = ?{_some(image_ids)} ORDER BY image_id", _params(run_id, image_ids))
        table = np.array(rows, dtype=np.float64).reshape(-1, 4)  # NULL -> nan
        return ClassPredictions(ids=table[:, 0].astype(np.int64), class_ids=table[:, 1].astype(np.int64),
                                confidence=table[:, 2], uncertainty=table[:, 3])

    def defect_probabilities(self, run_id: int, image_ids: Iterable[int] | None = None) -> dict[int, float]:
        """image id -> defect probability of one defect-detector run (only ``image_ids``, when given)."""
        return dict(self._db.all("SELECT image_id, defect_probability FROM predictions WHERE run_id = ?"
                                 f" AND defect_probability IS NOT NULL{_some(image_ids)}", _params(run_id, image_ids)))

    def count(self, run_id: int) -> int:
        return int(self._db.scalar("SELECT COUNT(*) FROM predictions WHERE run_id = ?", (run_id,)))


_INSERT = ("INSERT OR REPLACE INTO predictions (run_id, image_id, class_id, confidence, uncertainty,"
           " defect_probability, probabilities) VALUES (?,?,?,?,?,?,?)")


def _some(image_ids: Iterable[int] | None) -> str:
    """The SQL that keeps the rows of ``image_ids`` (one JSON parameter, however many), or none."""
    return "" if image_ids is None else " AND image_id IN (SELECT value FROM json_each(?))"


def _params(run_id: int, image_ids: Iterable[int] | None) -> tuple:
    return (run_id,) if image_ids is None else (run_id, json.dumps([int(i) for i in image_ids]))


def _rows(run_id: int, image_ids: np.ndarray, class_ids: np.ndarray | None, confidence: np.ndarray,
          uncertainty: np.ndarray | None, probabilities: np.ndarray | None,
          defect_probability: np.ndarray | None) -> list[tuple]:
    return [
        (run_id, int(image_ids[i]), None if class_ids is None else int(class_ids[i]), float(confidence[i]),
         None if uncertainty is None else float(uncertainty[i]),
         None if defect_probability is None else float(defect_probability[i]),
         None if probabilities is None else np.asarray(probabilities[i], dtype=np.float32).tobytes())
        for i in range(len(image_ids))
    ]
