"""ISU-GAN (paper 003): a CycleGAN whose repair generator turns defective images into
defect-free ones; the defect is where an image and its repair differ (SSIM map)."""

from models.isugan.infer import Repair, repair_image
from models.isugan.net import ARCHITECTURES, STRIDE, Discriminator, GanConfig, Generator
from models.isugan.ssim import WINDOW, difference_map, ssim_loss, ssim_map
from models.isugan.train import GanTrainConfig, GanTrainer, ImagePool, StepLosses, pad_to, sample_crops

__all__ = ["ARCHITECTURES", "STRIDE", "WINDOW", "Discriminator", "GanConfig", "GanTrainConfig", "GanTrainer",
           "Generator", "ImagePool", "Repair", "StepLosses", "difference_map", "pad_to", "repair_image",
           "sample_crops", "ssim_loss", "ssim_map"]
