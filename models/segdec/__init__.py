"""Mixed-supervision segmentation + decision network (paper 002 after Božič et al.)."""

from models.segdec.infer import heat_on_image_grid, predict_image, predict_images
from models.segdec.loss import SCHEDULES, SEG_LOSSES, cell_targets, decay_beta, mask_targets, mixed_loss, theta
from models.segdec.net import (
    RECEPTIVE_RADIUS,
    STRIDE,
    WIDTHS,
    SegDecConfig,
    SegDecNet,
    SegDecOutput,
    SegDecPredictor,
)
from models.segdec.sampling import epoch_order
from models.segdec.train import MODES, TrainCancelled, TrainConfig, TrainData, predict, train

__all__ = ["MODES", "RECEPTIVE_RADIUS", "SCHEDULES", "SEG_LOSSES", "STRIDE", "WIDTHS", "SegDecConfig", "SegDecNet",
           "SegDecOutput", "SegDecPredictor", "TrainCancelled", "TrainConfig", "TrainData", "cell_targets",
           "decay_beta", "epoch_order", "heat_on_image_grid", "mask_targets", "mixed_loss", "predict",
           "predict_image", "predict_images", "theta", "train"]
