"""``labelapp train``, ``suggest`` and ``simulate``. Each function returns the exit status.

``train`` prints one summary line per step of the retrain (pretraining, classifier,
defect detector, suggestions), each saying what it trained or why it was skipped.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from typing import Any

from labelapp.cli.output import print_json, quoted
from labelapp.cli.progress import Bars


def cmd_train(args: argparse.Namespace) -> int:
    from core.jobs import drain
    from core.jobs.device import describe_device, resolve_device
    from core.training import (
        ClassifyRequest,
        PretrainRequest,
        SegDecRequest,
        classify_job,
        pretrain_job,
        retrain_job,
        segdec_job,
    )

    device = resolve_device(args.device)  # a clear error now rather than after the first job
    pretrain = PretrainRequest(project_root=args.project, method=args.ssl, encoder=args.encoder, size=args.size,
                               epochs=args.epochs, batch_size=args.batch_size, seed=args.seed, device=device)
    classify = ClassifyRequest(project_root=args.project, seed=args.seed, finetune_steps=args.thorough, device=device)
    budget = {} if args.segdec_minutes is None else {
        "minutes": args.segdec_minutes, "warm_minutes": min(args.segdec_minutes, SegDecRequest.warm_minutes)}
    segdec = SegDecRequest(project_root=args.project, scale=args.segdec_scale, width=args.segdec_width,
                           mode=args.segdec_mode, max_epochs=args.segdec_epochs, warm_start=not args.from_scratch,
                           target_recall=args.target_recall, seed=args.seed, device=device, **budget)
    job = {"ssl": lambda: pretrain_job(pretrain), "classifier": lambda: classify_job(classify),
           "segdec": lambda: segdec_job(segdec),
           "auto": lambda: retrain_job(pretrain, classify, pretrain_again=args.pretrain_again,
                                       segdec=None if args.no_segdec else segdec)}[args.method]()
    bars = Bars(quiet=args.json)
    try:
        result = drain(job, bars.progress)
    finally:
        bars.close()
    steps = _steps(args, result)
    run = result.run
    if args.json:
        data = {"run": run.id if run else None, "method": run.method if run else None,
                "status": run.status.value if run else "cancelled", "metrics": run.metrics if run else {},
                "seconds": result.seconds, "device": device, "steps": [step.to_json() for step in steps]}
        detector = getattr(result, "segdec", None)
        if detector is not None and detector.run is not None and detector.run is not run:
            data["segdec"] = {"run": detector.run.id, "metrics": detector.run.metrics}
        print_json(data)
        return 0
    for step in steps:
        print(step.line())
    if run is None:
        print("nothing trained (cancelled)")
    else:
        print(f"{'retrain' if args.method == 'auto' else 'training'} took {result.seconds:.0f} s on"
              f" {describe_device(device)}")
    return 0


@dataclass(frozen=True)
class Step:
    """One step of a retrain as the summary shows it: its run and figures, or why there is none."""

    name: str
    run: Any = None
    seconds: float = 0.0
    text: str = ""
    skipped: str | None = None

    def line(self) -> str:
        if self.skipped is not None:
            return f"{self.name}: skipped, {self.skipped}"
        if self.run is None:
            return f"{self.name}: {self.text}"
        return f"{self.name}: run {self.run.id} ({self.run.method}) {self.run.status.value} in {self.seconds:.0f} s" + (
            f"; {self.text}" if self.text else "")

    def to_json(self) -> dict[str, Any]:
        return {"step": self.name, "run": self.run.id if self.run else None, "seconds": round(self.seconds, 2),
                "skipped": self.skipped, "summary": self.text}


def _steps(args: argparse.Namespace, result: Any) -> list[Step]:
    """The summary lines of what ``train --method`` ran (``result``: that job's result)."""
    if args.method == "ssl":
        return [_pretrain_step(result)]
    if args.method == "classifier":
        return [_classifier_step(result)]
    if args.method == "segdec":
        return [_detector_step(result)]
    if result.pretrain is not None:
        steps = [_pretrain_step(result.pretrain)]
    elif result.embedded is not None:
        steps = [Step("pretraining", skipped="the latest encoder is reused (--pretrain-again pretrains anew)"),
                 _embed_step(result.embedded)]
    else:
        steps = [Step("pretraining", skipped="the latest encoder covers every image (--pretrain-again pretrains anew)")]
    if result.cancelled:
        return steps
    steps.append(_classifier_step(result.classify) if result.classify is not None else Step(
        "classifier", skipped="it needs labeled images of at least two classes"))
    if result.segdec is not None:
        steps.append(_detector_step(result.segdec))
    else:
        steps.append(Step("defect detector", skipped="--no-segdec" if args.no_segdec else
                          "it needs labeled OK and defective images"))
    steps.append(Step("suggestions", text=f"{result.suggestions} stored; `labelapp suggest {quoted(args.project)}`"
                                          " lists them"))
    return steps


def _pretrain_step(part: Any) -> Step:
    if part.run is None:
        return Step("pretraining", text="cancelled")
    m = part.run.metrics
    figures = [f"{m.get('images', 0):,} images", f"{m.get('epochs', 0)} epoch{'' if m.get('epochs') == 1 else 's'}"]
    if isinstance(m.get("loss"), float | int):
        figures.append(f"contrastive loss {m['loss']:.3g}")
    if isinstance(m.get("contrastive_accuracy"), float | int):
        figures.append(f"contrastive accuracy {m['contrastive_accuracy']:.1%}")
    return Step("pretraining", part.run, part.seconds, ", ".join(figures))


def _embed_step(part: Any) -> Step:
    if part.run is None:
        return Step("new images", text="cancelled")
    return Step("new images", part.run, part.seconds,
                f"{part.added:,} embedded with the encoder of run {part.run.config.get('extends')}")


def _classifier_step(part: Any) -> Step:
    if part.run is None:
        return Step("classifier", text="cancelled")
    m = part.run.metrics
    text = f"{m.get('labeled', 0)} labels of {m.get('classes', 0)} classes"
    validation = m.get("validation")
    if validation:
        text += (f"; cross-validated on {validation['n']} labels: accuracy {validation['accuracy']:.1%},"
                 f" macro-F1 {validation['macro_f1']:.1%}")
    return Step("classifier", part.run, part.seconds, text)


def _detector_step(part: Any) -> Step:
    if part.run is None:
        return Step("defect detector", text="cancelled")
    return Step("defect detector", part.run, part.seconds, detection_summary(part.run))


def detection_summary(run: Any) -> str:
    """A defect-detector run: its labels, validation figures and threshold, then its
    training notes (one per line, indented)."""
    from core.training.segdec_results import training_notes

    m = run.metrics
    v = m.get("validation")
    head = f"{m.get('labeled', 0)} labels, {m.get('masks', 0)} masks"
    notes = "".join(f"\n  {note}" for note in training_notes(run))
    if not v:
        return f"{head}; too few labels to hold out validation images, so it is not validated{notes}"
    return (f"{head}; validation AP {v['ap']:.3f}, AUROC {v['auroc']:.3f}, F1 {v['f1']:.3f} at threshold"
            f" {v['threshold']:.2f} ({v['fp']} false positives, {v['fn']} missed of {v['n']}){notes}")


def cmd_suggest(args: argparse.Namespace) -> int:
    from core.active import DEFAULT_COUNT, compute_suggestions, refresh_suggestions
    from core.active.suggest import check_strategy
    from core.store import Project

    check_strategy(args.strategy)
    if args.no_store:
        with Project.open(args.project) as project:
            suggestions = compute_suggestions(project, args.strategy, args.n)
    else:
        # the stored set also feeds the GUI's queue: at least a session's worth
        suggestions = refresh_suggestions(args.project, strategy=args.strategy, n=max(args.n, DEFAULT_COUNT))[: args.n]
    with Project.open(args.project) as project:
        paths = {s.image_id: str(project.images.resolve(project.images.get(s.image_id))) for s in suggestions}
    items = [{"rank": s.rank, "path": paths[s.image_id], "image_id": s.image_id, "score": round(s.score, 4),
              "strategy": s.strategy, "reason": s.reason} for s in suggestions]
    if args.json:
        print(json.dumps(items, indent=2))
    elif not items:
        print("nothing to suggest: every image is labeled" if args.strategy != "mask"
              else "nothing to suggest: no defect-detector run, or every defective image has a mask")
    else:
        for item in items:
            print(f"{item['rank']:>4}  {item['path']}\n      {item['strategy']}: {item['reason']}")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from core.active.simulator.config import COMPARED, SimulationConfig
    from core.active.simulator.results import summary_table
    from core.active.simulator.simulation import simulate
    from core.active.suggest import STRATEGIES
    from core.jobs import drain

    if args.rounds and not args.per_round:
        raise ValueError("--rounds needs --per-round K")
    strategies = tuple(args.strategy or COMPARED)
    if strategies == ("all",):
        strategies = tuple(s for s in STRATEGIES if s != "mask")
    config = SimulationConfig(
        images=args.images, out=args.out, strategies=strategies, seeds=tuple(range(args.seeds)),
        per_class=tuple(args.per_class) if args.per_class else SimulationConfig.per_class,
        rounds=args.rounds, per_round=args.per_round, budget=args.budget, held_out=args.held_out,
        ok_class=args.ok_class, masks=args.masks, detector=args.detector, workers=args.workers,
        pretrain={"epochs": args.ssl_epochs, "size": args.size, "threads": args.threads},
        keep_projects=args.keep_projects, again=args.again, flip=args.flip, hide_class=args.hide_class,
        hide_rounds=args.hide_rounds)
    started = time.perf_counter()
    bars = Bars(quiet=args.json)
    try:
        csv_path = drain(simulate(config), bars.progress)
    finally:
        bars.close()
    seconds = time.perf_counter() - started
    png = csv_path.with_name("learning_curves.png")
    if args.json:
        print_json({"csv": str(csv_path), "png": str(png), "seconds": round(seconds, 1)})
        return 0
    for metric in ("accuracy", "macro_f1", "ap_defect", "classes_found", "hidden_found", "flips_caught"):
        names, table = summary_table(csv_path, metric)
        if not table:
            continue
        print(f"\n{metric} (mean ± std over seeds)\n| labels/class | " + " | ".join(names) + " |")
        print("|---" * (len(names) + 1) + "|")
        for budget, cells in table:
            print(f"| {budget:g} | " + " | ".join(
                f"{cells[n][0]:.3f} ± {cells[n][1]:.3f}" if n in cells else "" for n in names) + " |")
    print(f"\nwrote {csv_path} and {png} in {seconds:.0f} s")
    return 0
