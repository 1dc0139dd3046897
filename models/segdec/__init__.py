"""Mixed-supervision segmentation + decision network (paper 002 after Božič et al.)."""

from models.segdec.loss import SCHEDULES, SEG_LOSSES, decay_beta, mask_targets, mixed_loss, theta
from models.segdec.net import STRIDE, WIDTHS, SegDecConfig, SegDecNet, SegDecPredictor
from models.segdec.train import TrainCancelled, TrainConfig, TrainData, epoch_order, predict, train

__all__ = ["SCHEDULES", "SEG_LOSSES", "STRIDE", "WIDTHS", "SegDecConfig", "SegDecNet", "SegDecPredictor",
           "TrainCancelled", "TrainConfig", "TrainData", "decay_beta", "epoch_order", "mask_targets", "mixed_loss",
           "predict", "theta", "train"]
