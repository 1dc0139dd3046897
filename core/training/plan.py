"""What a retrain will run, and about how long each part takes (:class:`core.jobs.stages.Stage`).

The retrain decides its stages before it starts (pretraining only when there is no
encoder or the user asks for a new one, embedding the new images when the encoder does
not cover them all, the classifier when two classes have labels, the defect detector when OK and
defective images are labeled, then the suggestions); this module estimates each one:

* from the newest finished run of the same kind on the same device, scaled to the
  images, epochs and labels of this retrain (a run's ``metrics["seconds"]``, and for a
  run that streamed its predictions ``metrics["prediction_seconds"]``);
* without one, from the planned work at rough rates (:data:`CPU_RATES`, measured on
  2 CPU cores with ``benchmarks/responsiveness_bench.py``; divided by
  :data:`CUDA_SPEEDUP` on a GPU, a guess where no GPU was measured).

The estimates only start the bar: the training phases report their own time left and
:class:`~core.jobs.stages.StagedProgress` follows them.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.jobs.stages import Stage
from core.media.pixel_cache import cache_paths
from core.store import PredictionState, Project, Run, RunKind

# images (or labels) per second of each kind of work on 2 CPU cores
CPU_RATES = {"decode": 60.0, "pretrain": 40.0, "embed": 120.0, "finetune_step": 2.0, "fit_label": 25.0,
             "predict_classifier": 20_000.0, "predict_detector": 30.0,
             "train_detector": 8.0, "suggest": 2_000.0}
CUDA_SPEEDUP = 8.0  # not measured (no GPU here): the networks' work only, not decoding
PRETRAIN, CLASSIFIER, DETECTOR, SUGGESTIONS = "Pretraining", "Classifier", "Defect detector", "Suggestions"


@dataclass(frozen=True)
class Workload:
    """What the retrain will work on."""

    images: int
    labeled: int
    defective: int  # labeled images of a defect class
    device: str  # "cpu" or "cuda"

    def rate(self, kind: str) -> float:
        rate = CPU_RATES[kind]
        return rate * CUDA_SPEEDUP if self.device.startswith("cuda") and kind != "decode" else rate


def _same_device(run: Run, device: str) -> bool:
    return str((run.config or {}).get("device", "cpu")) == device


def _previous(project: Project, kind: RunKind, device: str, keep=lambda run: True) -> Run | None:
    """The newest finished run of ``kind`` on ``device`` that ``keep`` accepts and that
    recorded its duration."""
    for run in project.runs.finished(kind):
        if _same_device(run, device) and isinstance((run.metrics or {}).get("seconds"), int | float) and keep(run):
            return run
    return None


def _streamed_seconds(run: Run) -> float | None:
    """The seconds ``run`` spent predicting every image after it finished, when it recorded them."""
    seconds = (run.metrics or {}).get("prediction_seconds")
    if run.prediction_state is PredictionState.COMPLETE and isinstance(seconds, int | float):
        return float(seconds)
    return None


def _ratio(now: float, then: object) -> float:
    """``now / then``, within reason (a run of 10 labels says little of one with 1,000)."""
    if not isinstance(then, int | float) or then <= 0:
        return 1.0
    return min(20.0, max(0.05, now / then))


def pretrain_stage(project: Project, request, work: Workload) -> Stage:
    """Decoding the pixel cache (when missing), the epochs of contrastive training, embedding every image."""
    epochs = request.epochs_for(work.images)
    embed = work.images / work.rate("embed")
    previous = _previous(project, RunKind.PRETRAIN, work.device, keep=lambda run: "extends" not in run.config)
    if previous is not None:
        m = previous.metrics
        then = float(m.get("images", 0)) * (float(m.get("epochs", 1)) + 1.0)
        seconds = float(m["seconds"]) * _ratio(work.images * (epochs + 1.0), then)
    else:
        from core.training.pretrain import _cache_size

        data_path, _meta = cache_paths(project, _cache_size(request.size), False)
        decode = 0.0 if data_path.exists() else work.images / work.rate("decode")
        size_factor = (request.size / 96) ** 2
        seconds = decode + work.images * epochs * size_factor / work.rate("pretrain") + embed
    return Stage(PRETRAIN, seconds, main_phase="pretraining", tail_s=min(embed, 0.5 * seconds))


def embed_stage(project: Project, added: int, work: Workload) -> Stage:
    """Decoding and embedding the ``added`` images the encoder has not seen (no training):
    as long per image as the last such run on this device, else at the rough rates, plus
    a few seconds of loading."""
    previous = _previous(project, RunKind.PRETRAIN, work.device,
                         keep=lambda run: "extends" in run.config and run.config.get("images_added", 0) > 0)
    if previous is not None:
        seconds = float(previous.metrics["seconds"]) * _ratio(added, previous.config["images_added"])
    else:
        seconds = 3.0 + added / work.rate("decode") + added / work.rate("embed")
    return Stage(embedding_name(added), seconds)


def embedding_name(added: int) -> str:
    return f"Embedding {added:,} new image{'' if added == 1 else 's'}"


def classifier_stage(project: Project, request, work: Workload) -> Stage:
    """The classifier head (cross-validated), fine-tuning first on the thorough path, then
    predicting every image."""
    thorough = request.finetune_steps > 0
    head = 2.0 + work.labeled / work.rate("fit_label")
    predict = work.images / work.rate("predict_classifier")
    finetune = request.finetune_steps / work.rate("finetune_step") + work.images / work.rate("embed")
    previous = _previous(project, RunKind.CLASSIFIER, work.device,
                         keep=lambda run: (run.config.get("finetune_steps", 0) > 0) == thorough)
    if previous is not None:
        m = previous.metrics
        streamed = _streamed_seconds(previous)
        seconds = float(m["seconds"]) * _ratio(work.labeled, m.get("labeled"))
        seconds += predict if streamed is None else streamed
    else:
        seconds = head + predict + (finetune if thorough else 0.0)
    tail = min(seconds, head + predict + work.images / work.rate("embed"))
    return Stage(CLASSIFIER, seconds, main_phase="fine-tuning" if thorough else None, tail_s=tail if thorough else 0.0)


def detector_stage(project: Project, request, work: Workload) -> Stage:
    """Reading the labeled images at the working scale, training (within its time budget
    and epochs), then predicting every image: the training as long as the last detector
    that started the same way (warm or from scratch) took, else as the last one took,
    else its epochs at a rough rate; the predicting as long as the last one's."""
    latest = project.runs.latest(RunKind.SEGDEC, with_checkpoint=True)
    warm = request.warm_start and latest is not None
    minutes = request.warm_minutes if warm else request.minutes
    budget = None if minutes is None else 60.0 * minutes
    last = _previous(project, RunKind.SEGDEC, work.device)
    same = _previous(project, RunKind.SEGDEC, work.device,
                     keep=lambda run: (run.metrics.get("warm_from") is not None) == warm)
    predict = work.images / work.rate("predict_detector")
    if last is not None:
        streamed = _streamed_seconds(last)
        predict = streamed if streamed is not None else float(last.metrics.get("prediction_reserve_s", predict))
    if same is not None or last is not None:
        train = float((same or last).metrics["seconds"])
    else:  # an epoch shows every defective image and as many OK ones
        train = request.max_epochs * 2 * work.defective / work.rate("train_detector") + work.labeled / work.rate(
            "decode")
    seconds = train + predict
    if budget is not None:
        seconds = min(seconds, 1.1 * budget)  # the budget counts reading, training and predicting
    return Stage(DETECTOR, seconds, main_phase="defect detector", tail_s=min(predict, 0.6 * seconds))


def suggestions_stage(work: Workload) -> Stage:
    return Stage(SUGGESTIONS, 1.0 + work.images / work.rate("suggest"))


def retrain_stages(project: Project, snapshot, *, pretrain=None, classify=None, segdec=None,
                   suggest: bool = True, embed=None, added: int = 0) -> dict[str, Stage]:
    """The stages of a retrain, in order, by part ("pretrain" or "embed", "classify",
    "segdec", "suggest"): the requests of the parts that will run (None: skipped);
    ``added``: the images the embedding stage places."""
    from core.jobs.device import resolve_device

    ok = snapshot.ok_class_ids()
    defective = sum(1 for _image, class_id in snapshot.labels if class_id not in ok)
    images = project.images.count()

    def work(device: str) -> Workload:
        return Workload(images=images, labeled=len(snapshot.labels), defective=defective,
                        device=resolve_device(device))

    stages: dict[str, Stage] = {}
    if pretrain is not None:
        stages["pretrain"] = pretrain_stage(project, pretrain, work(pretrain.device))
    elif embed is not None:
        stages["embed"] = embed_stage(project, added, work(embed.device))
    if classify is not None:
        stages["classify"] = classifier_stage(project, classify, work(
            classify.device if classify.finetune_steps > 0 else "cpu"))
    if segdec is not None:
        stages["segdec"] = detector_stage(project, segdec, work(segdec.device))
    if suggest:
        stages["suggest"] = suggestions_stage(work("cpu"))
    return stages
