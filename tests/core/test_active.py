"""Suggestion strategies on synthetic embeddings with known structure, the stored
suggestions of a real project, and the labeling simulator on a tiny generated folder."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from core.active.reasons import balance_reason
from core.active.strategies import (
    STRATEGY_FUNCTIONS,
    Pool,
    badge,
    balance,
    deduplicate,
    entropy,
    interleave,
    kcenter,
    least_confidence,
    margin,
    typicality,
)


def _pool(x: np.ndarray, labeled: dict[int, int] | None = None, n_classes: int = 2,
          probabilities: np.ndarray | None = None) -> Pool:
    n = len(x)
    label = np.full(n, -1)
    for i, c in (labeled or {}).items():
        label[i] = c
    pool = Pool(ids=np.arange(n) + 1000, x=x.astype(np.float32), labeled=label >= 0, candidate=label < 0,
                label=label, class_names=[f"c{k}" for k in range(n_classes)])
    if probabilities is not None:
        pool.probabilities = probabilities.astype(np.float32)
        pool.prob_classes = np.arange(probabilities.shape[1])
    return pool


def _blobs(sizes, dims=8, spread=1.0, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(sizes), dims)) * 20
    x = np.concatenate([c + rng.normal(size=(s, dims)) * spread for c, s in zip(centres, sizes, strict=True)])
    return x, np.repeat(np.arange(len(sizes)), sizes), centres


def _line(n=400, classes=2):
    """Points on a line in 2-D; p(c1) = sigmoid(6 x): the boundary is at x = 0."""
    x = np.stack([np.linspace(-1, 1, n), np.zeros(n)], axis=1)
    p1 = 1 / (1 + np.exp(-6 * x[:, 0]))
    return x, np.stack([1 - p1, p1], axis=1)


def test_typicality_picks_the_centre_of_every_cluster():
    x, blob, centres = _blobs([60] * 5)
    picks = typicality(_pool(x), 5, np.random.default_rng(0))
    assert sorted(blob[p.index] for p in picks) == [0, 1, 2, 3, 4]  # one per cluster
    for p in picks:
        members = x[blob == blob[p.index]]
        radius = np.linalg.norm(members - centres[blob[p.index]], axis=1)
        assert np.linalg.norm(x[p.index] - centres[blob[p.index]]) < np.quantile(radius, 0.25)
        assert p.reason == "typical of an unlabeled cluster of 60 images"


def test_typicality_skips_labeled_clusters_first():
    x, blob, _ = _blobs([60] * 5, seed=1)
    labeled = {int(np.flatnonzero(blob == 0)[0]): 0, int(np.flatnonzero(blob == 1)[0]): 1}
    picks = typicality(_pool(x, labeled), 3, np.random.default_rng(0))
    assert sorted(blob[p.index] for p in picks) == [2, 3, 4]


def test_kcenter_covers_the_clusters_without_labels():
    x, blob, _ = _blobs([50, 50, 50, 50], seed=2)
    picks = kcenter(_pool(x, {0: 0}), 3, np.random.default_rng(0))
    assert sorted(blob[p.index] for p in picks) == [1, 2, 3]
    scores = [p.score for p in picks]
    assert scores == sorted(scores, reverse=True)  # each pick closes the biggest remaining gap
    assert "usual distance between neighbours" in picks[0].reason


def test_margin_picks_the_decision_boundary():
    x, p = _line()
    picks = margin(_pool(x, {0: 0, 399: 1}, probabilities=p), 10, np.random.default_rng(0))
    assert len(picks) == 10
    assert all(abs(x[q.index, 0]) < 0.06 for q in picks)
    assert picks[0].reason.startswith("undecided between c")
    assert ": 0.5" in picks[0].reason


def test_entropy_and_least_confidence_pick_the_most_mixed_images():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 4))
    p = rng.dirichlet([8, 1, 1], size=300)
    p[17] = [0.34, 0.33, 0.33]  # the most undecided image of all
    for strategy in (entropy, least_confidence):
        picks = strategy(_pool(x, {0: 0}, n_classes=3, probabilities=p), 3, rng)
        assert picks[0].index == 17
    assert "spreads its belief" in entropy(_pool(x, n_classes=3, probabilities=p), 1, rng)[0].reason
    assert "has only 0.34" in least_confidence(_pool(x, n_classes=3, probabilities=p), 1, rng)[0].reason


def test_uncertainty_batches_hold_no_near_copies():
    x, p = _line()
    x = np.concatenate([x, np.repeat(x[200:201], 9, axis=0)])  # nine copies of a boundary image
    p = np.concatenate([p, np.repeat([[0.5, 0.5]], 9, axis=0)])
    picks = margin(_pool(x, probabilities=p), 5, np.random.default_rng(0))
    copies = [q.index for q in picks if np.allclose(x[q.index], x[200])]
    assert len(copies) == 1
    assert len({q.index for q in picks}) == 5


def test_deduplicate_keeps_order_and_drops_only_near_copies():
    x = np.stack([np.arange(50.0), np.zeros(50)], axis=1)
    x = np.concatenate([x, [[10.001, 0], [30.0, 0.001]]])  # near-copies of images 10 and 30
    pool = _pool(x)
    assert deduplicate(pool, [10, 50, 11, 30, 51, 31, 9], 5) == [10, 11, 30, 31, 9]


def test_badge_picks_uncertain_images_on_both_boundaries():
    # two separate lines, each with its own class boundary
    a, pa = _line(200)
    b, pb = _line(200)
    b = b + np.array([0, 10])
    x, p = np.concatenate([a, b]), np.concatenate([pa, pb])
    x = x - x.mean(axis=0)  # centred, as the app's PCA features are
    picks = badge(_pool(x, probabilities=p), 6, np.random.default_rng(0))
    assert len(picks) == 6
    on_b = [int(q.index >= 200) for q in picks]
    assert 2 <= sum(on_b) <= 4  # diverse: both lines
    assert abs(x[picks[0].index, 0]) < 0.05  # the first is the most uncertain image
    margins = np.abs(p[:, 1] - p[:, 0])
    assert margins[[q.index for q in picks]].mean() < 0.75 * margins.mean()  # more uncertain than usual


def test_balance_reaches_the_class_without_labels_first():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(90, 4))
    truth = np.repeat([0, 1, 2], 30)
    p = np.full((90, 3), 0.1)
    p[np.arange(90), truth] = 0.8
    p[75] = [0.05, 0.4, 0.55]  # predicted c2, the most undecided of them
    labeled = {i: int(truth[i]) for i in [0, 1, 2, 30, 31, 32]}  # classes 0 and 1 have 3 labels, class 2 none
    picks = balance(_pool(x, labeled, n_classes=3, probabilities=p), 3, rng)
    assert picks[0].index == 75
    assert picks[0].reason == "likely c2 (0.55) but close to c1 (0.40); c2 has 0 labels, c0 has 3"
    assert [truth[q.index] for q in picks] == [2, 2, 2]  # c2 until it has as many labels as the others


def test_balance_reasons_state_true_label_counts_when_the_classes_are_balanced():
    """Every class has 20 labels: no reason may call one "a class with only 20 labels"."""
    rng = np.random.default_rng(6)
    x = rng.normal(size=(150, 4))
    truth = np.repeat([0, 1, 2], 50)
    p = rng.dirichlet([1, 1, 1], size=150)
    labeled = {int(i): int(truth[i]) for c in range(3) for i in np.flatnonzero(truth == c)[:20]}
    picks = balance(_pool(x, labeled, n_classes=3, probabilities=p), 6, rng)
    assert len(picks) == 6
    for q in picks:
        assert "only" not in q.reason and q.reason.endswith("; every class has 20 labels")
        name = q.reason.split()[1]  # "likely <class> (p) but close to ..."
        guessed = int(np.argmax(p[q.index]))
        assert name == f"c{guessed}"
    # unbalanced, a pick of the class with the most labels compares it with the fewest
    labeled = {**labeled, **{int(i): 0 for i in np.flatnonzero(truth == 0)[20:30]}}  # c0: 30 labels
    picks = balance(_pool(x, labeled, n_classes=3, probabilities=p), 12, rng)
    for q in picks:
        name = q.reason.split()[1]
        expected = {"c0": "c0 has 30 labels, c1 has 20", "c1": "c1 has 20 labels, c0 has 30",
                    "c2": "c2 has 20 labels, c0 has 30"}[name]
        assert q.reason.endswith(expected), q.reason


def test_balance_reasons_call_the_runner_up_close_only_when_it_is():
    assert balance_reason("inclusion", 0.80, "scale", 0.09, {"inclusion": 15, "ok": 26}) == (
        "likely inclusion (0.80) then scale (0.09); inclusion has 15 labels, ok has 26")
    assert balance_reason("inclusion", 0.46, "scale", 0.35, {"inclusion": 15, "ok": 26}).startswith(
        "likely inclusion (0.46) but close to scale (0.35);")


def test_uncertainty_reasons_say_undecided_only_when_the_classifier_is():
    x, _ = _line()
    sure = np.tile([0.9, 0.1], (len(x), 1))  # a classifier sure of every image
    sure[::7] = [0.8, 0.2]
    pool = _pool(x, {0: 0, 399: 1}, probabilities=sure)
    rng = np.random.default_rng(0)
    assert margin(pool, 1, rng)[0].reason == "c0 rather than c1, 0.80 / 0.20: among the smallest margins left"
    assert entropy(pool, 1, rng)[0].reason == "among the least certain left: c0 0.80, c1 0.20"
    assert least_confidence(pool, 1, rng)[0].reason == (
        "the classifier's best guess, c0 at 0.80, is among its least confident")
    assert all(not q.reason.startswith("undecided") for q in badge(pool, 4, rng))


def test_typicality_names_earlier_picks_as_suggestions_not_labels():
    x, _blob, _ = _blobs([200, 10], seed=8)  # k-means cuts the big blob in three: one of them gets a second pick
    reasons = [q.reason for q in typicality(_pool(x), 4, np.random.default_rng(0))]
    assert all(r.startswith("typical of an unlabeled cluster of ") for r in reasons)  # no label anywhere
    assert sum(r.endswith("; suggestion 2 from it") for r in reasons) == 1


@pytest.mark.parametrize("name", sorted(STRATEGY_FUNCTIONS))
@pytest.mark.parametrize("with_classifier", [False, True])
def test_no_strategy_picks_labeled_or_excluded_images(name, with_classifier):
    rng = np.random.default_rng(5)
    x, _blob, _ = _blobs([40, 40, 40], seed=5)
    p = rng.dirichlet([1, 1, 1], size=len(x)) if with_classifier else None
    pool = _pool(x, {i: i % 3 for i in range(0, 120, 7)}, n_classes=3, probabilities=p)
    pool.candidate[::5] = False  # held out
    picks = STRATEGY_FUNCTIONS[name](pool, 12, rng)
    chosen = [q.index for q in picks]
    if name == "novelty":  # only images unlike every labeled one: none here (every blob has labels)
        assert len(chosen) == len(set(chosen)) <= 12
    else:
        assert len(chosen) == 12 == len(set(chosen))
    assert pool.candidate[chosen].all()
    assert all(q.reason for q in picks)


def test_interleave_alternates_without_repeats():
    from core.active.strategies import Pick

    a = [Pick(i, 0.0, "a", "a") for i in (1, 2, 3)]
    b = [Pick(i, 0.0, "b", "b") for i in (2, 4)]
    assert [q.index for q in interleave([a, b], 4)] == [1, 2, 3, 4]


def test_schedules_switch_from_cold_start_to_warm_strategies():
    from core.active.suggest import parse_schedule, select

    assert parse_schedule("typicality>margin+balance") == (["typicality"], ["margin", "balance"], 2)
    assert parse_schedule("kcenter") == (["kcenter"], ["kcenter"], 2)
    assert parse_schedule("typicality@5>margin") == (["typicality"], ["margin"], 5)
    with pytest.raises(ValueError, match="unknown strategy 'nope'"):
        parse_schedule("typicality>nope")
    x, p = _line(200)
    cold = _pool(x, {0: 0, 199: 1}, probabilities=p)  # one label per class: still a cold start
    assert {q.strategy for q in select(cold, "typicality>margin", 4)} == {"typicality"}
    warm_at_2 = _pool(x, {0: 0, 1: 0, 198: 1, 199: 1}, probabilities=p)
    assert {q.strategy for q in select(warm_at_2, "typicality@3>margin", 4)} == {"typicality"}
    warm = _pool(x, {0: 0, 1: 0, 198: 1, 199: 1}, probabilities=p)
    picks = select(warm, "typicality>margin+kcenter", 4)
    assert [q.strategy for q in picks] == ["margin", "kcenter", "margin", "kcenter"]
    assert {q.strategy for q in select(cold, "default", 4)} == {"coverage"}


# -- a real project --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory, train_small_classifier) -> Path:
    return train_small_classifier(tmp_path_factory.mktemp("active") / "project")


def test_retrain_stores_suggestions_of_unlabeled_images_only(trained):
    from core.store import Project

    with Project.open(trained) as project:
        suggestions = project.suggestions.list()
        labeled = set(project.labels.all())
        assert len(suggestions) == project.images.count() - len(labeled)  # 14 unlabeled, fewer than 200
        assert not {s.image_id for s in suggestions} & labeled
        assert [s.rank for s in suggestions] == list(range(1, len(suggestions) + 1))
        assert all(s.reason and s.strategy in ("margin", "balance", "novelty") for s in suggestions)
        # labeling one drops it from the open suggestions at once
        first = suggestions[0].image_id
        project.labels.set(first, project.classes.list()[0].id, actor="t", source="test")
        assert first not in {s.image_id for s in project.suggestions.list()}
        assert project.suggestions.get(first) is None


def test_refresh_never_suggests_excluded_images(trained, tmp_path):
    import shutil

    from core.active import refresh_suggestions
    from core.store import Project

    root = tmp_path / "p"
    shutil.copytree(trained, root)
    with Project.open(root) as project:
        unlabeled = sorted(set(project.images.ids().tolist()) - set(project.labels.all()))
    exclude = set(unlabeled[::2])
    for strategy in ("default", "random", "typicality", "kcenter", "coverage", "margin", "badge", "balance"):
        stored = refresh_suggestions(root, strategy=strategy, n=5, exclude=exclude)
        assert len(stored) == 5
        assert not {s.image_id for s in stored} & exclude
        assert {s.image_id for s in stored} <= set(unlabeled)


def test_suggest_cli_json(trained, tmp_path, capsys):
    import shutil

    from labelapp.cli.parser import main

    root = tmp_path / "p"
    shutil.copytree(trained, root)
    assert main(["suggest", str(root), "--n", "4", "--strategy", "margin", "--json"]) == 0
    items = json.loads(capsys.readouterr().out)
    assert len(items) == 4
    for item in items:
        assert Path(item["path"]).exists()
        assert item["strategy"] == "margin" and item["reason"].startswith("undecided between")
        assert isinstance(item["score"], float)
    assert main(["suggest", str(root), "--strategy", "nonsense"]) == 2


def test_suggest_without_an_encoder_says_what_to_do(tmp_path, capsys):
    from core.demo_project import create_demo_project
    from labelapp.cli.parser import main

    create_demo_project(tmp_path / "p", n_images=6, size=64, workers=1)
    assert main(["suggest", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err  # the command line's own action, not the window's
    assert f"no pretrained encoder covers the images yet; run `labelapp train {tmp_path / 'p'}` first" in err
    assert "Retrain" not in err


def test_mask_suggestions_follow_worth_a_mask(segdec_project, tmp_path):
    import shutil

    from core.active import refresh_suggestions
    from core.active.worth_a_mask import load_worth_a_mask
    from core.store import Project, RunKind

    root = tmp_path / "p"
    shutil.copytree(segdec_project, root)
    with Project.open(root) as project:
        before = project.suggestions.list()
    stored = refresh_suggestions(root, strategy="mask", n=5)
    with Project.open(root) as project:
        expected = [e["image_id"] for e in load_worth_a_mask(project, project.runs.latest(RunKind.SEGDEC))][:5]
        assert [s.image_id for s in stored] == expected
        assert project.suggestions.list() == before  # mask suggestions are returned, not stored


# -- the simulator ----------------------------------------------------------------------------------
def test_simulator_plays_the_labeler(demo_folders, tmp_path):
    from core.active.simulator.config import SimulationConfig
    from core.active.simulator.results import ROUNDS_CSV
    from core.active.simulator.simulation import simulate
    from core.active.simulator.truth import held_out_split
    from core.jobs import drain
    from core.store import Project

    out = tmp_path / "sim"
    config = SimulationConfig(images=demo_folders.root / "images", out=out, strategies=("random", "default"),
                              seeds=(0,), per_class=(1, 2), classifier_epochs=10, keep_projects=True,
                              pretrain={"epochs": 1, "size": 48, "batch_size": 16, "workers": 1})
    csv_path = drain(simulate(config))
    rows = list(csv.DictReader(open(csv_path)))
    classes = sorted(p.name for p in (demo_folders.root / "images").iterdir() if p.is_dir())
    assert [(r["strategy"], int(r["labels"])) for r in rows] == [
        ("random", len(classes)), ("random", 2 * len(classes)), ("default", len(classes)),
        ("default", 2 * len(classes))]
    for r in rows:
        assert 0 <= float(r["accuracy"]) <= 1 and 0 <= float(r["macro_f1"]) <= 1
        assert r["ap_source"] in ("classifier", "none") and 0 < float(r["ap_defect"]) <= 1  # the demo has OK
        assert float(r["seconds"]) > 0
    assert (out / "learning_curves.png").stat().st_size > 10_000
    # the held-out images were never labeled, in any run
    truth = {int(r["image_id"]): r["class"] for r in csv.DictReader(open(out / "work" / "truth.csv"))}
    held = held_out_split(truth, 0.3)
    for name in ("random-0", "default-0"):
        with Project.open(out / "work" / name) as project:
            labels = project.labels.all()
            assert len(labels) == 2 * len(classes) and not set(labels) & held
            names = {c.id: c.name for c in project.classes.list()}
            assert all(names[label.class_id] == truth[i] for i, label in labels.items())  # the true class
    # a second call finds every run in the CSV and runs nothing again
    before = (out / ROUNDS_CSV).read_text()
    drain(simulate(config))
    assert (out / ROUNDS_CSV).read_text() == before
