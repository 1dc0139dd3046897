"""Paper-001 few-label classifier: ArcFace head, 3-view loss, fast head path, calibration."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from models.fewshot import (
    ArcFaceHead,
    FitCancelled,
    FittedHead,
    ece,
    fewshot_loss,
    fit_head,
    fit_temperature,
    heldout_folds,
    softmax,
)


def _clusters(seed: int, n_classes: int = 3, dim: int = 16, spread: float = 2.5):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_classes, dim)) * spread

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = np.arange(n) % n_classes
        return (centers[y] + rng.normal(size=(n, dim))).astype(np.float32), y

    return draw


def test_arcface_margin_lowers_target_logit_only_in_training() -> None:
    torch.manual_seed(0)
    head = ArcFaceHead(8, 4, scale=30.0, margin=0.5)
    features = torch.randn(6, 8)
    labels = torch.tensor([0, 1, 2, 3, 0, 1])
    plain = head(features).logits
    trained = head(features, labels)
    rows = torch.arange(6)
    assert torch.all(trained.logits[rows, labels] < plain[rows, labels] - 1e-3)
    off_target = torch.ones_like(plain, dtype=torch.bool)
    off_target[rows, labels] = False
    assert torch.allclose(trained.logits[off_target], plain[off_target])
    assert torch.allclose(trained.cosine * 30.0, plain)
    head.eval()
    assert torch.allclose(head(features, labels).logits, plain)


def test_arcface_gradients_finite_at_extreme_angles() -> None:
    head = ArcFaceHead(4, 2, margin=0.5)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[1.0, 0, 0, 0], [0, 1.0, 0, 0]]))
    features = torch.tensor([[1.0, 0, 0, 0], [-1.0, 0, 0, 0], [0, 1.0, 0, 0]], requires_grad=True)
    labels = torch.tensor([0, 0, 0])  # theta = 0, pi (fallback branch), pi/2
    out = head(features, labels)
    torch.nn.functional.cross_entropy(out.logits, labels).backward()
    assert torch.isfinite(out.logits).all()
    assert torch.isfinite(features.grad).all() and torch.isfinite(head.weight.grad).all()
    assert out.logits[1, 0] < out.logits[2, 0]  # the fallback keeps the target logit monotone in theta


def test_total_loss_finite_and_decreasing_on_clusters() -> None:
    torch.manual_seed(0)
    draw = _clusters(1, dim=10)
    x, y = draw(48)
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    y[::4] = -1  # some unlabeled rows
    projection = torch.nn.Linear(10, 8)
    head = ArcFaceHead(8, 3)
    optimizer = torch.optim.Adam([*projection.parameters(), *head.parameters()], lr=1e-2)
    losses = []
    for _ in range(60):
        loss = fewshot_loss(
            head,
            projection(x),
            projection(x + 0.3 * torch.randn_like(x)),
            projection(x + 0.3 * torch.randn_like(x)),
            y,
        )
        assert all(torch.isfinite(term) for term in loss)
        optimizer.zero_grad()
        loss.total.backward()
        optimizer.step()
        losses.append(float(loss.total.detach()))
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])


@pytest.fixture(scope="module")
def fitted() -> tuple[FittedHead, np.ndarray, np.ndarray]:
    draw = _clusters(3)
    labelled, labels = draw(6)  # 2 labels per class
    unlabeled, _ = draw(200)
    test_x, test_y = draw(300)
    head = fit_head(labelled, labels, n_classes=3, unlabeled=unlabeled, seed=0, epochs=30)
    return head, test_x, test_y


def test_fit_head_two_labels_per_class(fitted: tuple[FittedHead, np.ndarray, np.ndarray]) -> None:
    head, test_x, test_y = fitted
    prediction = head.predict(test_x)
    assert (prediction.class_index == test_y).mean() > 0.9
    assert (prediction.similarity.argmax(axis=1) == test_y).mean() > 0.9
    np.testing.assert_allclose(prediction.probabilities.sum(axis=1), 1.0, atol=1e-6)
    assert prediction.probabilities.shape == (300, 3) and prediction.similarity.shape == (300, 3)
    assert np.all(prediction.margin >= 0) and np.all(prediction.entropy >= 0)
    np.testing.assert_allclose(prediction.confidence, prediction.probabilities.max(axis=1))
    assert head.temperature >= head.config.min_temperature


def test_state_dict_round_trip(fitted: tuple[FittedHead, np.ndarray, np.ndarray]) -> None:
    head, test_x, _ = fitted
    buffer = io.BytesIO()
    torch.save(head.state_dict(), buffer)
    buffer.seek(0)
    loaded = FittedHead.from_state_dict(torch.load(buffer, weights_only=True))
    before, after = head.predict(test_x), loaded.predict(test_x)
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)


def test_fit_head_imbalanced_with_single_label_class() -> None:
    draw = _clusters(5, n_classes=3, spread=3.0)
    x, y = draw(90)
    keep = np.concatenate([np.flatnonzero(y == 0)[:25], np.flatnonzero(y == 1)[:3], np.flatnonzero(y == 2)[:1]])
    test_x, test_y = draw(300)
    head = fit_head(x[keep], y[keep], n_classes=3, seed=1, epochs=10)
    prediction = head.predict(test_x)
    assert np.isfinite(prediction.probabilities).all()
    assert (prediction.class_index == test_y).mean() > 0.8
    assert set(np.unique(prediction.class_index)) == {0, 1, 2}


def test_temperature_scaling_lowers_ece_when_overconfident() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 2000)
    logits = rng.normal(size=(2000, 4))
    logits[np.arange(2000), y] += 1.5
    logits *= 5.0  # about 75 % accurate but near-certain
    t = fit_temperature(logits, y)
    assert t > 1.5
    assert ece(softmax(logits, t), y) < 0.5 * ece(softmax(logits), y)


def test_heldout_folds_never_hold_out_a_single_label() -> None:
    labels = np.array([0, 0, 0, 0, 1, 1, 2])
    folds = heldout_folds(labels, max_folds=5)
    assert len(folds) == 2  # the smallest class with two labels sets k
    held = np.concatenate(folds)
    assert 6 not in held and len(np.unique(held)) == len(held) == 6
    assert heldout_folds(np.array([0, 1, 2])) == []


def test_cancel_stops_training() -> None:
    draw = _clusters(7)
    x, y = draw(12)
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(FitCancelled):
        fit_head(x, y, n_classes=3, epochs=50, cancel=cancel)
    assert len(calls) == 4
