"""A PatchCore-style nearest-neighbour map from OK images alone (Roth et al., "Towards
Total Recall in Industrial Anomaly Detection", CVPR 2022), on the app's own encoder.

Patch features are the encoder's mid-level maps (stride 8 and 16, the latter upsampled),
each averaged over its 3x3 neighbourhood and concatenated, then reduced by a fixed random
projection. The memory bank is a greedy k-center coreset of the OK images' patches
(PatchCore's approximate coreset: distances measured in a lower random projection).
A patch's anomaly is its distance to the nearest bank patch; the map is that distance
per stride-8 cell, stretched over the image and smoothed (PatchCore: Gaussian σ = 4 px).

The encoder is the project's pretrained ShuffleNet when it has one (no ImageNet weights:
nothing is downloaded); without one, the patches are described by their own pixels at three
resolutions (:mod:`models.patchcore.pixels`): a ShuffleNet with fixed random weights scored
no better than chance.
"""

from models.patchcore.memory import PatchMemory, greedy_coreset
from models.patchcore.net import STRIDE, PatchFeatures, distance_map
from models.patchcore.pixels import PixelPatches

__all__ = ["STRIDE", "PatchFeatures", "PatchMemory", "PixelPatches", "distance_map", "greedy_coreset"]
