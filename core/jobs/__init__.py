"""Jobs: Qt-free generators that train, predict or import, and the record of every run."""

from core.jobs.base import Job, JobCancelled, Progress, StoredPredictions, coalesce, drain
from core.jobs.runs import RunRecorder, recover_interrupted_runs
from core.jobs.snapshot import LabelSnapshot, take_snapshot

__all__ = ["Job", "JobCancelled", "LabelSnapshot", "Progress", "RunRecorder", "StoredPredictions", "coalesce", "drain",
           "recover_interrupted_runs", "take_snapshot"]
