"""The defect detector predicts every image in priority order and streams the
predictions into the store, so that the grid changes seconds after training ends.

The run needs the held-out images' probabilities (threshold, validation figures) before
it can finish: those are predicted first, with the first batch of the priority list
(:mod:`core.training.streaming`). The run then finishes, from that moment the detector
the grid shows (``prediction_state`` 'streaming'), and the other images follow: the
rest of the priority list, the labeled images, those the previous detector was unsure
of, the rest in import order. Each batch is one transaction, announced by a progress
record with ``stored`` set; heat maps go to the run's streaming folder and move into the
run folder whole when the streaming ends, however it ends; meanwhile an index of those
written so far lets the editor read them (:func:`core.training.heatmaps.load_heatmap`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterator, Sequence

import numpy as np

from core.jobs.base import Progress, check_cancel
from core.jobs.runs import RunRecorder
from core.store import Project, Run, RunKind
from core.training.heatmaps import HEATMAP_INDEX, HEATMAPS, HeatmapWriter
from core.training.segdec_geometry import Geometry
from core.training.segdec_pixels import WorkingImages, stream_images
from core.training.streaming import FIRST_BATCH, BatchClock, prediction_order, stored_progress, unsure_ids

PHASE = "predicting defects"
HEAT_SNAPSHOT_SECONDS = 5.0  # the heat maps of a streaming run become readable at least this often


def prediction_plan(project: Project, priority_ids: Sequence[int], labeled: np.ndarray, held_out: np.ndarray,
                    ) -> tuple[np.ndarray, int]:
    """(every image id in the order to predict, how many of them lead the order and are
    needed before the run can finish: the first priority batch and the held-out images)."""
    all_ids = project.images.ids()
    known = set(all_ids.tolist())
    head = list(priority_ids[:FIRST_BATCH]) if len(priority_ids) else all_ids[:FIRST_BATCH].tolist()
    order = prediction_order(all_ids, head, then=[held_out.tolist(), priority_ids, labeled.tolist(),
                                                  unsure_ids(project, RunKind.SEGDEC)])
    first = len({int(i) for i in head} & known | {int(i) for i in held_out} & known)
    return order, first


def predict_in_order(net, project: Project, store: WorkingImages, geometry: Geometry, order: np.ndarray,
                     device: str = "cpu") -> Iterator[tuple[int, int, float, np.ndarray]]:
    """(position in ``order``, image id, defect probability, heat map on the image grid)
    of every readable image, in order, predicted on ``device`` (larger batches on CUDA);
    unreadable images are skipped. ``net`` is back on the CPU afterwards."""
    from core.jobs.device import scaled_batch
    from models.segdec import heat_on_image_grid, predict_images
    from models.segdec.infer import BATCH_PIXELS

    positions: list[tuple[int, int]] = []
    sizes: list[tuple[int, int]] = []

    def readable():
        for position, (image_id, image) in enumerate(stream_images(project, order.tolist(), geometry.scale, store)):
            if image is not None:
                positions.append((position, image_id))
                sizes.append(image.shape)
                yield image

    net.to(device)
    try:
        for k, p, heat in predict_images(net, readable(), device=device,
                                         batch_pixels=scaled_batch(BATCH_PIXELS, device, "predict")):
            position, image_id = positions[k]
            height, width = sizes[k]
            yield position, image_id, p, heat_on_image_grid(heat, height, width)
    finally:
        net.cpu()


def stream_predictions(predictions: Iterator[tuple[int, int, float, np.ndarray]], project: Project,
                       recorder: RunRecorder, *, total: int, first: int, finish: Callable[[dict[int, float]], Run],
                       keep_heat: set[int], heat_kept: Callable[[dict[int, float], dict[int, np.ndarray]], None],
                       cancel: threading.Event | None) -> Generator[Progress, None, dict[int, float]]:
    """Drains ``predictions``: the first ``first`` positions, then ``finish(probability)``
    (which must finish the run with ``streaming=True``), then the rest in committed
    batches. ``heat_kept(probability, heat)`` is called once every image of ``keep_heat``
    is predicted, with their heat maps. Returns every image's defect probability."""
    probability: dict[int, float] = {}
    kept: dict[int, np.ndarray] = {}
    pending: list[tuple[int, float, np.ndarray]] = []
    run: Run | None = None
    writer: HeatmapWriter | None = None
    clock = BatchClock()
    stored, kept_done = 0, False
    try:
        for position, image_id, p, heat in predictions:
            if run is None and position >= first:
                run, writer = finish(probability), HeatmapWriter(recorder.stream_dir)
                clock = BatchClock()
                stored = yield from _commit(project, run.id, pending, writer, stored, total)
            probability[image_id] = p
            pending.append((image_id, p, heat))
            if image_id in keep_heat:
                kept[image_id] = heat
            if run is not None and not kept_done and len(kept) == len(keep_heat):
                heat_kept(probability, kept)
                kept_done = True
            if len(probability) % 16 == 0:
                check_cancel(cancel)
                yield Progress(phase=PHASE, step=len(probability), total=total, unit="image")
            if run is not None and clock.due(len(pending)):
                stored = yield from _commit(project, run.id, pending, writer, stored, total)
                clock.committed()
        check_cancel(cancel)
        if run is None:
            run, writer = finish(probability), HeatmapWriter(recorder.stream_dir)
        if not kept_done:
            heat_kept(probability, kept)
        yield from _commit(project, run.id, pending, writer, stored, total, complete=True)
    finally:
        if writer is not None:  # the heat maps stored so far move into the run folder, whatever happened
            writer.close()
            recorder.publish(HEATMAPS)
            recorder.publish(HEATMAP_INDEX)
    return probability


def _commit(project: Project, run_id: int, pending: list[tuple[int, float, np.ndarray]], writer: HeatmapWriter,
            stored: int, total: int, complete: bool = False) -> Generator[Progress, None, int]:
    """Stores the pending predictions (one transaction) and their heat maps; announces them."""
    ids = np.array([i for i, _, _ in pending], dtype=np.int64)
    p = np.array([q for _, q, _ in pending], dtype=np.float32)
    project.predictions.add(run_id, ids, None, np.maximum(p, 1.0 - p), 1.0 - np.abs(2 * p - 1),
                            defect_probability=p)
    for image_id, _, heat in pending:
        writer.add(image_id, heat)
    writer.snapshot(every_s=HEAT_SNAPSHOT_SECONDS)  # the editor shows the heat maps of the images stored so far
    pending.clear()
    stored += len(ids)
    yield stored_progress(PHASE, run_id=run_id, kind=RunKind.SEGDEC, image_ids=ids.tolist(), stored=stored,
                          total=total, complete=complete)
    return stored
