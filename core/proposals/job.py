"""The mask-proposer job: learn from the OK and defective labels, calibrate, propose.

``proposer_job(request, cancel)`` is a job like the others (:mod:`core.jobs.base`): the
CLI drains it, the GUI runs it in the training process (``JobCall(proposer_job,
(request,))``). One run (``RunKind.PROPOSER``) records it; its folder holds the
proposals (:mod:`core.proposals.store`) and a checkpoint: the repair generator (ISU-GAN,
CycleGAN) or the memory bank (nearest neighbours), with the proposal rule.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass

from core.jobs.base import JobCancelled, Progress
from core.jobs.runs import RunRecorder
from core.jobs.snapshot import LabelSnapshot, take_snapshot
from core.proposals.data import prepare_data
from core.proposals.propose import calibrate, store_proposals
from core.proposals.request import ProposerRequest
from core.store import Project, Run, RunKind


@dataclass(frozen=True)
class ProposerResult:
    run: Run | None  # None: cancelled before the run finished
    cancelled: bool
    seconds: float
    metrics: dict


def proposer_job(request: ProposerRequest, cancel: threading.Event | None = None, *,
                 snapshot: LabelSnapshot | None = None) -> Generator[Progress, None, ProposerResult]:
    """Trains the proposer of ``request.method`` on the labels of ``snapshot`` (None: the
    current ones) and stores proposals for the images in ``request.scope``.

    Raises:
        StoreError: too few OK or defective labels (the message says how many more).
    """
    import torch

    from core.jobs.device import describe_device, resolve_device

    device = resolve_device(request.device)
    started = time.perf_counter()
    torch.set_num_threads(request.threads or max(1, os.cpu_count() or 1))
    with Project.open(request.project_root) as project:
        snapshot = snapshot or take_snapshot(project)
        try:
            data = yield from prepare_data(project, snapshot, request, cancel)
        except JobCancelled:
            return ProposerResult(run=None, cancelled=True, seconds=time.perf_counter() - started, metrics={})
        counts = data.counts()
        where = describe_device(device)
        yield Progress(phase="mask proposer", step=0, total=0,
                       message=f"{request.method} on {counts['ok_train']} OK and {counts['defective_train']} defective"
                               f" images at {100 * data.geometry.scale:.0f} % of their size, on {where}"
                               + (f"; {data.advice}" if data.advice else ""))
        config = {**request.config(), "geometry": data.geometry.to_dict(), "device": device}
        with RunRecorder(project, method=RunKind.PROPOSER.method(request.method), config=config, snapshot=snapshot,
                         seed=request.seed) as recorder:
            if request.gan:
                from core.training.isugan import train_gan

                built = yield from train_gan(project, data, request, device, cancel)
            else:
                from core.training.patchcore import build_patchcore

                built = yield from build_patchcore(project, data, request, device, cancel)
            mapper = built["mapper"]
            rule, figures, made = yield from calibrate(mapper, data, request, cancel)
            meta = {"method": request.method, "scale": data.geometry.scale, "window": 9, "device": device}
            stored = yield from store_proposals(project, recorder.partial_dir, mapper, data, request, rule, made, meta,
                                                cancel)
            recorder.save_checkpoint(built["state"], config={**built["config"], "method": request.method,
                                                             "scale": data.geometry.scale, "rule": rule.to_dict()})
            metrics = {**counts, **built["summary"], **stored, "rule": rule.to_dict(), "calibration": figures,
                       "geometry": data.geometry.to_dict(), "advice": data.advice,
                       "seconds": round(time.perf_counter() - started, 1)}
            run = recorder.finish(metrics=metrics)
            if built["resume_file"] is not None:
                built["resume_file"].unlink(missing_ok=True)
            return ProposerResult(run=run, cancelled=False, seconds=time.perf_counter() - started, metrics=metrics)
    return ProposerResult(run=None, cancelled=True, seconds=time.perf_counter() - started, metrics={})
