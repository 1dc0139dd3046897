"""The seg-dec network, its mixed-supervision loss, the θ schedule and the sampler."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from models.segdec import (
    SegDecConfig,
    SegDecNet,
    TrainConfig,
    TrainData,
    decay_beta,
    epoch_order,
    mask_targets,
    mixed_loss,
    theta,
    train,
)

TINY = SegDecConfig(stem=4, middle=8, features=16, se_reduction=4)


def test_theta_decay_matches_the_paper_schedule_and_the_derived_beta():
    # paper 002, Table 4 read as θ_n = (1 - β)^n: 90 epochs at β = 0.01 end at 0.405
    assert theta(0, 90, "decay", 0.01) == 1.0
    assert theta(90, 90, "decay", 0.01) == pytest.approx(0.99 ** 90)
    assert theta(90, 90, "decay", 0.01) == pytest.approx(0.405, abs=1e-3)
    assert theta(40, 40, "decay", 0.02) == pytest.approx(0.446, abs=1e-3)
    # β derived from the run length: a 25-epoch run ends where the paper's runs end
    assert theta(25, 25) == pytest.approx(0.42)
    assert decay_beta(25) == pytest.approx(1 - 0.42 ** (1 / 25))
    values = [theta(n, 25) for n in range(26)]
    assert all(a > b for a, b in zip(values, values[1:], strict=False))
    # Božič's linear schedule
    assert [theta(n, 4, "linear") for n in range(5)] == [1.0, 0.75, 0.5, 0.25, 0.0]
    assert {theta(n, 4, "constant") for n in range(5)} == {0.5}  # no balancing (Božič without pixel labels)
    with pytest.raises(ValueError, match="schedule"):
        theta(0, 10, "cosine")


def test_shapes_any_multiple_of_eight():
    net = SegDecNet(TINY).eval()
    for h, w in ((64, 64), (96, 96), (64, 128)):
        decision, seg = net(torch.rand(2, 1, h, w))
        assert decision.shape == (2,)
        assert seg.shape == (2, 1, h // 8, w // 8)
        assert torch.isfinite(decision).all() and torch.isfinite(seg).all()


def test_full_width_is_the_papers_network():
    net = SegDecNet(SegDecConfig.full())
    convs = [m for m in net.segmentation.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32, 32, 64, 64, 64, 64, 64, 64, 64, 1024]
    assert all(c.kernel_size == (3, 3) for c in convs)
    assert [c.dilation[0] for c in convs] == [2] * 9 + [7]  # 5x5 and 15x15 receptive fields
    assert net.fc.in_features == 66


def test_segmentation_term_ignores_unmasked_defective_images():
    torch.manual_seed(0)
    decision = torch.randn(3, requires_grad=True)
    seg = torch.randn(3, 1, 4, 4, requires_grad=True)
    label = torch.tensor([1, 1, 0])
    has_mask = torch.tensor([True, False, True])  # image 1: defective, image label only
    target = torch.zeros(3, 1, 4, 4)
    target[0, 0, 1:3, 1:3] = 1
    target[1] = float("nan")  # whatever stands there must not matter
    weight = torch.ones(3, 1, 4, 4)
    loss, parts = mixed_loss(decision, seg, label, target, weight, has_mask, theta_value=0.7)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.all(seg.grad[1] == 0)  # no gradient from the segmentation term
    assert torch.all(seg.grad[0] != 0) and torch.all(seg.grad[2] != 0)
    assert torch.all(decision.grad != 0)  # every labeled image teaches the decision
    assert math.isfinite(parts["segmentation loss"])


def test_unmasked_targets_do_not_change_the_weight_gradients():
    net = SegDecNet(TINY)
    x = torch.rand(2, 1, 64, 64)
    label, has_mask = torch.tensor([1, 1]), torch.tensor([True, False])
    weight = torch.ones(2, 1, 8, 8)

    def grads(fill: float) -> list[torch.Tensor]:
        net.zero_grad()
        target = torch.zeros(2, 1, 8, 8)
        target[1] = fill
        decision, seg = net(x)
        mixed_loss(decision, seg, label, target, weight, has_mask, theta_value=0.9)[0].backward()
        return [p.grad.clone() for p in net.parameters()]

    for a, b in zip(grads(0.0), grads(1.0), strict=True):
        assert torch.equal(a, b)


def test_gradient_flow_adjustment_keeps_the_decision_loss_out_of_the_segmentation():
    net = SegDecNet(TINY)
    net.stop_gradient = True
    decision, _seg = net(torch.rand(2, 1, 64, 64))
    torch.nn.functional.binary_cross_entropy_with_logits(decision, torch.tensor([1.0, 0.0])).backward()
    assert all(p.grad is None or torch.all(p.grad == 0) for p in net.segmentation.parameters())
    assert any(p.grad is not None and torch.any(p.grad != 0) for p in net.decision.parameters())
    net.zero_grad()
    net.stop_gradient = False
    decision, _seg = net(torch.rand(2, 1, 64, 64))
    torch.nn.functional.binary_cross_entropy_with_logits(decision, torch.tensor([1.0, 0.0])).backward()
    assert any(p.grad is not None and torch.any(p.grad != 0) for p in net.segmentation.parameters())


def test_mask_targets_keep_small_defects_and_weight_the_core():
    mask = np.zeros((64, 64), bool)
    mask[10, 10] = True  # one pixel
    target, weight = mask_targets(mask, 64)
    assert target.shape == weight.shape == (8, 8)
    assert target[1, 1] == 1 and target.sum() == 1
    mask = np.zeros((64, 64), bool)
    mask[8:48, 8:48] = True  # a 5x5-cell blob
    target, weight = mask_targets(mask, 64)
    assert target.sum() == 25
    assert np.all(weight[target == 0] == 1)
    assert weight[3, 3] == pytest.approx(1.0)  # the centre
    assert 0 < weight[1, 1] < weight[2, 2] < 1  # the uncertain border counts less
    empty_target, empty_weight = mask_targets(None, 64)
    assert not empty_target.any() and np.all(empty_weight == 1)


def test_every_ok_image_is_seen_and_every_defective_one_each_epoch():
    labels = np.array([1] * 3 + [0] * 10)
    seen = np.zeros(len(labels), np.int64)
    rng = np.random.default_rng(0)
    for _ in range(4):  # ceil(10 / 3) epochs
        order = epoch_order(labels, seen, rng)
        assert set(np.flatnonzero(labels == 1)) <= set(order.tolist())
        assert len(order) == 6
    assert np.all(seen[labels == 0] >= 1)


def test_a_short_run_learns_a_bright_spot_and_keeps_the_best_state():
    rng = np.random.default_rng(0)
    n, size = 24, 64
    pixels = (rng.random((n, size, size)) * 60 + 100).astype(np.uint8)
    labels = np.array([1, 0] * (n // 2))
    masks = np.zeros((n, size, size), bool)
    for k in np.flatnonzero(labels):
        r, c = rng.integers(8, 48, 2)
        pixels[k, r:r + 10, c:c + 10] = 250
        masks[k, r:r + 10, c:c + 10] = True
    tw = [mask_targets(masks[k], size) for k in range(n)]
    data = TrainData(pixels=pixels, rows=np.arange(16), labels=labels[:16], has_mask=np.ones(16, bool),
                     targets=np.stack([t for t, _ in tw])[:16], weights=np.stack([w for _, w in tw])[:16],
                     val_rows=np.arange(16, n), val_labels=labels[16:])
    net = SegDecNet(TINY)
    job = train(net, data, TrainConfig(epochs=8, batch_size=4, lr=3e-3))
    stats = list(_drain(job))
    summary = stats.pop()
    assert summary["stop_gradient"] is True
    aps = summary["validation_ap_by_epoch"]
    assert len(aps) == 8 and aps[summary["best_epoch"] - 1] == max(aps)
    assert max(aps) == 1.0  # a bright square is easy


def _drain(job):
    try:
        while True:
            yield next(job)
    except StopIteration as stop:
        yield stop.value
