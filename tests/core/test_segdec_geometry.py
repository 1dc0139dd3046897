"""The detector's working scale: from the image sizes and the time a retrain has, raised
by the masked defects in proportion to how many defective labels have a mask; the share
of a retrain's time left for training."""

import numpy as np
import pytest

from core.training.segdec_geometry import LADDER, DefectExtent, choose_geometry, largest_defect


def test_sizes_alone_keep_the_aspect_ratio_and_stay_on_the_ladder():
    sizes = np.array([[500, 1250]] * 300)
    geometry = choose_geometry(sizes, defective=50)
    assert geometry.chosen_by == "sizes" and geometry.scale < 1
    assert any(abs(geometry.scale - step) < 1e-9 for step in LADDER)
    h, w = geometry.working_size(500, 1250)
    assert w / h == pytest.approx(2.5, rel=0.02)
    # small images are kept at their native size, never enlarged
    assert choose_geometry(np.array([[64, 64]] * 10), defective=5).scale == 1.0


def test_more_defective_labels_mean_a_smaller_scale():
    sizes = np.array([[512, 512]] * 500)
    assert choose_geometry(sizes, defective=200).scale < choose_geometry(sizes, defective=20).scale


def test_thin_masked_defects_raise_the_scale_more_the_more_of_them_are_masked():
    sizes = np.array([[500, 1250]] * 300)
    thin = DefectExtent(short=3.0, long=40.0)
    none = choose_geometry(sizes, defective=50)
    few = choose_geometry(sizes, [thin] * 5, defective=50)
    all_ = choose_geometry(sizes, [thin] * 50, defective=50)
    assert none.scale <= few.scale < all_.scale
    assert all_.chosen_by == "masks" and all_.scale <= none.scale * 2 + 1e-9
    assert "raised from" in all_.describe()
    # large masked defects need no raise
    assert choose_geometry(sizes, [DefectExtent(100.0, 300.0)] * 50, defective=50).scale == none.scale


def test_a_users_scale_wins_and_nonsense_is_refused():
    sizes = np.array([[200, 200]] * 4)
    assert choose_geometry(sizes, scale=0.5).chosen_by == "user"
    with pytest.raises(ValueError):
        choose_geometry(sizes, scale=0)
    with pytest.raises(ValueError):
        choose_geometry(np.zeros((0, 2)))


def test_largest_defect_measures_the_biggest_component():
    mask = np.zeros((100, 100), bool)
    mask[10:13, 10:60] = True  # 3 x 50
    mask[70:75, 70:75] = True
    extent = largest_defect(mask)
    assert extent is not None
    assert extent.long == pytest.approx(50, abs=1.5) and extent.short == pytest.approx(3, abs=1.5)
    assert largest_defect(np.zeros((10, 10), bool)) is None


def test_the_training_budget_leaves_time_to_predict_every_image():
    from pathlib import Path

    from core.training.segdec import MIN_TRAIN_SHARE, SegDecRequest, _train_config

    request = SegDecRequest(project_root=Path("."), minutes=1.0, warm_minutes=0.5)
    assert _train_config(request, warm=False).time_budget_s == 60
    assert _train_config(request, warm=False, spent=20).time_budget_s == 40
    assert _train_config(request, warm=True, spent=5).time_budget_s == 25
    # a project that takes long to predict still trains for a share of the budget
    assert _train_config(request, warm=False, spent=300).time_budget_s == 60 * MIN_TRAIN_SHARE
