"""Pure PyTorch networks, losses and training steps; knows nothing of the store or Qt.

Importing this package arms the torchvision compatibility hook (cheap: it imports
nothing until torchvision is requested).
"""

from models import torchvision_compat as _torchvision_compat

_torchvision_compat.install()
