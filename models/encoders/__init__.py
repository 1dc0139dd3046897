"""Image encoders built by name: ``create_encoder("shufflenet", in_channels=1)``.

Importing this package registers "convnet", "skip_convnet", "shufflenet" and "resnet18".
"""

from models.encoders import convnets as _convnets  # noqa: F401  (registers)
from models.encoders import resnet as _resnet  # noqa: F401  (registers)
from models.encoders import shufflenet as _shufflenet  # noqa: F401  (registers)
from models.encoders.registry import Encoder, create_encoder, list_encoders, register_encoder

__all__ = ["Encoder", "create_encoder", "list_encoders", "register_encoder"]
