"""Self-supervised contrastive pretraining (SimCLR, NNCLR) of registered encoders.

Typical use::

    encoder = create_encoder("shufflenet", in_channels=1)
    model = SimCLR(encoder)
    augment = TwoViewAugment(size=64)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for stats in ssl_epoch(model, (augment(batch) for batch in loader), opt, cancel=flag.is_set):
        report(stats)
    features = model.embed(prepare_images(images, size=64))
"""

from models.ssl.augment import TwoViewAugment, prepare_images, to_float_images
from models.ssl.nnclr import NNCLR, queue_size_for
from models.ssl.simclr import SimCLR, SSLOutput, embed_images
from models.ssl.train_step import StepStats, contrastive_accuracy, ssl_epoch

__all__ = [
    "NNCLR",
    "SSLOutput",
    "SimCLR",
    "StepStats",
    "TwoViewAugment",
    "contrastive_accuracy",
    "embed_images",
    "prepare_images",
    "queue_size_for",
    "ssl_epoch",
    "to_float_images",
]
