"""A small encoder registry in the style of timm's ``register_model`` / ``create_model``.

Every encoder maps images ``(B, C, H, W)`` float, any ``H, W >= 32``, to features
``(B, feature_dim)``; it ends in global pooling so the input size is free.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from torch import nn


class Encoder(nn.Module):
    """Base class of every registered encoder.

    Attributes:
        feature_dim: Width D of the ``(B, D)`` feature vector returned by ``forward``.
    """

    feature_dim: int


EncoderFactory = Callable[..., Encoder]
_F = TypeVar("_F", bound=EncoderFactory)
_REGISTRY: dict[str, EncoderFactory] = {}


def register_encoder(name: str) -> Callable[[_F], _F]:
    """Decorator that registers an encoder factory (a class or a function) under ``name``.

    The factory must accept ``in_channels`` as a keyword argument.
    """

    def decorator(factory: _F) -> _F:
        if name in _REGISTRY:
            raise ValueError(f"encoder {name!r} is already registered")
        _REGISTRY[name] = factory
        return factory

    return decorator


def create_encoder(name: str, *, in_channels: int = 1, **kwargs: object) -> Encoder:
    """Build a fresh, randomly initialised encoder by name.

    Args:
        name: One of ``list_encoders()``.
        in_channels: 1 for grayscale, 3 for colour input.
        **kwargs: Encoder-specific options (e.g. ``stride`` for ``"convnet"``).

    Raises:
        KeyError: If ``name`` is not registered.
    """
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown encoder {name!r}; known: {', '.join(list_encoders())}") from None
    return factory(in_channels=in_channels, **kwargs)


def list_encoders() -> list[str]:
    """Names of all registered encoders, sorted."""
    return sorted(_REGISTRY)
