"""The seg-dec network, its losses and θ schedule, the sampler, tiled prediction and a short real run."""

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
    cell_targets,
    decay_beta,
    epoch_order,
    heat_on_image_grid,
    mask_targets,
    mixed_loss,
    predict_image,
    predict_images,
    theta,
    train,
)
from models.segdec.sampling import epoch_batches, plan_samples

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


def test_shapes_any_size():
    net = SegDecNet(TINY).eval()
    for h, w in ((64, 64), (96, 96), (64, 128), (40, 200)):
        decision, seg = net(torch.rand(2, 1, h, w))
        assert decision.shape == (2,)
        assert seg.shape == (2, 1, h // 8, w // 8)
        assert torch.isfinite(decision).all() and torch.isfinite(seg).all()


def test_full_width_is_the_papers_network_and_the_paper_layout_stays_available():
    net = SegDecNet(SegDecConfig.full())
    convs = [m for m in net.segmentation.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32, 32, 64, 64, 64, 64, 64, 64, 64, 1024]
    assert all(c.kernel_size == (3, 3) for c in convs)
    assert [c.dilation[0] for c in convs] == [2] * 9 + [7]  # 5x5 and 15x15 receptive fields
    assert net.fc.in_features == 66
    assert net.config.local  # the app's default: BatchNorm, no SE
    paper = SegDecNet(SegDecConfig.full(norm="feature", attention="se"))
    assert not paper.config.local
    assert sum(type(m).__name__ == "SqueezeExcite" for m in paper.modules()) == 7  # after c3 - c9
    # a config stored before norm / attention existed is the paper's layout
    assert SegDecConfig.from_dict({"stem": 16, "middle": 32, "features": 128, "se_reduction": 16,
                                   "in_channels": 1}).attention == "se"


def test_tiles_give_the_whole_image_answer():
    torch.manual_seed(0)
    net = SegDecNet(TINY)
    with torch.no_grad():  # BatchNorm statistics other than the identity
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 2.0)
    net.eval()
    image = (np.random.default_rng(0).random((203, 317)) * 255).astype(np.uint8)
    whole_p, whole_heat = predict_image(net, image)
    tiled_p, tiled_heat = predict_image(net, image, tile=64, tile_pixels=1)  # 4 x 5 tiles
    assert whole_heat.shape == tiled_heat.shape == (26, 40)
    assert tiled_p == pytest.approx(whole_p, abs=1e-5)
    assert np.abs(whole_heat - tiled_heat).max() < 1e-5
    # the paper's layout pools over the whole image: it never goes through in tiles
    paper = SegDecNet(SegDecConfig(stem=4, middle=8, features=16, se_reduction=4, attention="se")).eval()
    assert predict_image(paper, image, tile=64, tile_pixels=1)[0] == pytest.approx(predict_image(paper, image)[0])


def test_predict_images_batches_same_sizes_and_keeps_the_order():
    net = SegDecNet(TINY).eval()
    rng = np.random.default_rng(1)
    images = [(rng.random(shape) * 255).astype(np.uint8) for shape in ((40, 40), (40, 40), (33, 70), (40, 40))]
    results = list(predict_images(net, images))
    assert [r[0] for r in results] == [0, 1, 2, 3]
    for position, p, heat in results:
        alone_p, alone_heat = predict_image(net, images[position])
        assert p == pytest.approx(alone_p, abs=1e-5) and heat.shape == alone_heat.shape


def test_heat_on_image_grid_puts_values_where_they_were_computed():
    # a 70 x 150 working image: 9 x 19 cells, the last row and column only partly inside it
    heat = np.zeros((9, 19), np.float32)
    heat[4, 9] = 1.0  # working pixels 32-40 x 72-80
    grid = heat_on_image_grid(heat, 70, 150)
    assert grid.shape == (9, 19)
    # stored cells tile the image: cell (i, j) covers rows 70 i / 9 ... and columns 150 j / 19 ...
    row, col = np.unravel_index(np.argmax(grid), grid.shape)
    centre_row, centre_col = (row + 0.5) * 70 / 9, (col + 0.5) * 150 / 19
    assert abs(centre_row - 36) < 70 / 9 and abs(centre_col - 76) < 150 / 19


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
    for theta_value in (0.7, None):  # paper 002's balance and the joint one
        decision.grad, seg.grad = None, None
        loss, parts = mixed_loss(decision, seg, label, target, weight, has_mask, theta_value=theta_value)
        loss.backward()
        assert torch.isfinite(loss)
        assert torch.all(seg.grad[1] == 0)  # no gradient from the segmentation term
        assert torch.all(seg.grad[0] != 0) and torch.all(seg.grad[2] != 0)
        assert torch.all(decision.grad != 0)  # every labeled image teaches the decision
        assert math.isfinite(parts["segmentation loss"])


def test_cells_outside_the_image_teach_nothing():
    seg = torch.zeros(1, 1, 4, 4, requires_grad=True)
    weight = torch.zeros(1, 1, 4, 4)
    weight[..., :2, :3] = 1.0
    loss, _ = mixed_loss(torch.zeros(1), seg, torch.tensor([0]), torch.zeros(1, 1, 4, 4), weight,
                         torch.tensor([True]), theta_value=None)
    loss.backward()
    assert torch.all(seg.grad[..., 2:, :] == 0) and torch.all(seg.grad[..., :, 3:] == 0)
    assert torch.all(seg.grad[..., :2, :3] != 0)


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


def test_cell_targets_keep_thin_defects_and_weight_the_core():
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
    crack = np.zeros((30, 50), bool)
    crack[13, 3:47] = True  # one pixel wide, in an image that is not a multiple of 8
    target, weight = cell_targets(crack, (30, 50))
    assert target.shape == (4, 7) and target[1].sum() == 6 and target.sum() == 6
    assert np.all(weight == 1)  # no distance weights by default
    empty_target, empty_weight = cell_targets(None, (30, 50))
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


def _crack_data(n: int = 24, shape: tuple[int, int] = (96, 160), masks: bool = True) -> TrainData:
    """Gray noise; every other image with a bright bar at a random place and its mask."""
    rng = np.random.default_rng(0)
    images, all_masks, labels = [], [], []
    for k in range(n):
        image = (rng.random(shape) * 60 + 100).astype(np.uint8)
        mask = None
        if k % 2:
            r, c = rng.integers(8, shape[0] - 16), rng.integers(8, shape[1] - 40)
            image[r:r + 4, c:c + 30] = 230
            mask = np.zeros(shape, bool)
            mask[r:r + 4, c:c + 30] = True
        images.append(image)
        all_masks.append(mask if masks else None)
        labels.append(k % 2)
    labels = np.array(labels)
    has_mask = np.array([m is not None or lab == 0 for m, lab in zip(all_masks, labels, strict=True)])
    return TrainData(images=images[:16], labels=labels[:16], masks=all_masks[:16], has_mask=has_mask[:16],
                     val_images=images[16:], val_labels=labels[16:])


def test_unmasked_defective_images_are_seen_whole_and_masked_ones_in_crops_around_the_defect():
    data = _crack_data()
    rng = np.random.default_rng(0)
    samples = plan_samples(data, np.arange(16), crop=64, rng=rng)
    crops = 0
    for s in samples:
        image = data.images[s.index]
        if data.labels[s.index] == 1 and (s.height, s.width) != image.shape:
            crops += 1
            assert (s.height, s.width) == (64, 64)
            assert data.masks[s.index][s.top:s.top + 64, s.left:s.left + 64].any()  # the crop holds the defect
        assert s.height <= image.shape[0] and s.width <= image.shape[1]
    assert 0 < crops < 8  # masked images: whole about half of the time (they teach the decision then)
    unmasked = _crack_data(masks=False)
    for s in plan_samples(unmasked, np.arange(16), crop=64, rng=rng):
        if unmasked.labels[s.index] == 1:
            assert (s.top, s.left, s.height, s.width) == (0, 0, 96, 160)  # the defect could be anywhere
    batches = epoch_batches(data, np.arange(16), TrainConfig(crop=64, batch_pixels=4 * 64 * 64), rng)
    assert sum(len(b.labels) for b in batches) == 16
    for b in batches:
        assert b.pixels.shape[1] % 8 == 0 and b.pixels.shape[2] % 8 == 0
        assert b.pixels.shape[0] * b.pixels.shape[1] * b.pixels.shape[2] <= 4 * 64 * 64 or len(b.labels) == 1


def test_samples_of_different_sizes_never_share_a_batch():
    """Padding one sample to another's size would give away its size, which often goes with
    its label (and is missing when an image is predicted alone)."""
    rng = np.random.default_rng(0)
    shapes = [(40, 40), (40, 40), (40, 56), (48, 40), (40, 40)]
    images = [np.full(shape, 100, np.uint8) for shape in shapes]
    data = TrainData(images=images, labels=np.array([1, 0, 1, 0, 0]), masks=[None] * 5,
                     has_mask=np.array([False, True, False, True, True]))
    batches = epoch_batches(data, np.arange(5), TrainConfig(crop=0), rng)
    assert sorted(b.pixels.shape for b in batches) == [(1, 40, 56), (1, 48, 40), (3, 40, 40)]
    assert sorted(len(b.labels) for b in batches) == [1, 1, 3]


def test_a_short_run_learns_a_bright_bar_keeps_the_best_state_and_stops_when_it_stalls():
    torch.manual_seed(0)
    net = SegDecNet(TINY)
    job = train(net, _crack_data(), TrainConfig(max_epochs=150, patience=5, patience_steps=10, min_steps=100,
                                                min_epochs=10, crop=64))
    stats = list(_drain(job))
    summary = stats.pop()
    aps = summary["validation_ap_by_epoch"]
    assert summary["stopped"] == "converged" and summary["epochs_run"] < 150
    assert len(aps) == summary["epochs_run"] and aps[summary["best_epoch"] - 1] == max(aps)
    assert max(aps) == 1.0  # a bright bar is easy
    assert summary["stop_gradient"] is False and summary["mode"] == "joint"


def test_a_warm_start_is_kept_unless_training_beats_it():
    net = SegDecNet(TINY)
    data = _crack_data()
    list(_drain(train(net, data, TrainConfig(max_epochs=8, patience=8, crop=64, lr=3e-3))))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    # lr 0: no step can beat the starting point, which was scored first
    summary = list(_drain(train(net, data, TrainConfig(max_epochs=2, lr=0.0, crop=64), warm=True)))[-1]
    assert summary["warm"] and summary["best_epoch"] == 0 and len(summary["validation_ap_by_epoch"]) == 3
    for key, value in net.state_dict().items():
        if not key.endswith("num_batches_tracked"):
            assert torch.equal(value, before[key]), key


def test_a_time_budget_ends_training():
    summary = list(_drain(train(SegDecNet(TINY), _crack_data(), TrainConfig(max_epochs=50, time_budget_s=0.0,
                                                                             crop=64))))[-1]
    assert summary["stopped"] == "time_budget" and summary["epochs_run"] == 1 and summary["steps"] == 1


def test_mixed_mode_is_paper_002():
    summary = list(_drain(train(SegDecNet(TINY), _crack_data(), TrainConfig(mode="mixed", max_epochs=1, crop=64))))
    assert summary[-1]["stop_gradient"] is True
    thetas = {s.theta for s in summary[:-1]}
    assert thetas == {1.0}  # the first epoch is all segmentation
    with pytest.raises(ValueError, match="mode"):
        list(_drain(train(SegDecNet(TINY), _crack_data(), TrainConfig(mode="fancy"))))


def _drain(job):
    try:
        while True:
            yield next(job)
    except StopIteration as stop:
        yield stop.value
