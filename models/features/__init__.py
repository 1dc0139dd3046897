"""What the classifier sees of an image: contrastive embedding + texture statistics."""

from models.features.extractor import FeatureExtractor, block_weight
from models.features.texture import TextureStats

__all__ = ["FeatureExtractor", "TextureStats", "block_weight"]
