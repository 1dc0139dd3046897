"""Smoke tests for every registered encoder (timm's test_models.py style)."""

from __future__ import annotations

import pytest
import torch

from models.encoders import Encoder, create_encoder, list_encoders, register_encoder

PARAM_RANGES = {
    "convnet": (0.3e6, 0.7e6),
    "skip_convnet": (0.85e6, 1.0e6),
    "shufflenet": (0.3e6, 0.5e6),
    "resnet18": (10.5e6, 11.5e6),
}


def test_registry_lists_the_paper_encoders() -> None:
    assert set(PARAM_RANGES) <= set(list_encoders())


def test_unknown_name_and_duplicate_registration_fail() -> None:
    with pytest.raises(KeyError, match="unknown encoder"):
        create_encoder("no-such-encoder")
    with pytest.raises(ValueError, match="already registered"):
        register_encoder("convnet")(lambda **_: None)


@pytest.mark.parametrize("size", [64, 96])
@pytest.mark.parametrize("in_channels", [1, 3])
@pytest.mark.parametrize("name", sorted(PARAM_RANGES))
def test_encoder_forward_backward(name: str, in_channels: int, size: int) -> None:
    torch.manual_seed(0)
    encoder = create_encoder(name, in_channels=in_channels)
    assert isinstance(encoder, Encoder)
    x = torch.randn(2, in_channels, size, size)
    features = encoder(x)
    assert features.shape == (2, encoder.feature_dim)
    assert torch.isfinite(features).all()
    features.pow(2).sum().backward()
    grads = [p.grad for p in encoder.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads if g is not None)


@pytest.mark.parametrize("name", sorted(PARAM_RANGES))
def test_parameter_counts_are_plausible(name: str) -> None:
    low, high = PARAM_RANGES[name]
    n = sum(p.numel() for p in create_encoder(name, in_channels=1).parameters())
    assert low <= n <= high


def test_skip_convnet_matches_the_paper_parameter_count() -> None:
    # 922,112 parameters in the authors' code (3-channel input).
    n = sum(p.numel() for p in create_encoder("skip_convnet", in_channels=3, stride=1).parameters())
    assert n == 922_112


@pytest.mark.parametrize(
    ("name", "kwargs", "size"),
    [("convnet", {"stride": 1}, 32), ("resnet18", {"small_input": True}, 64), ("convnet", {}, 33)],
)
def test_encoder_variants_and_odd_sizes(name: str, kwargs: dict[str, object], size: int) -> None:
    encoder = create_encoder(name, in_channels=1, **kwargs).eval()
    with torch.no_grad():
        out = encoder(torch.randn(2, 1, size, size + 7))
    assert out.shape == (2, encoder.feature_dim)
    assert torch.isfinite(out).all()


def test_channels_last_gives_the_same_features() -> None:
    torch.manual_seed(0)
    encoder = create_encoder("shufflenet", in_channels=1).eval()
    x = torch.randn(4, 1, 64, 64)
    with torch.no_grad():
        expected = encoder(x)
        encoder.to(memory_format=torch.channels_last)
        got = encoder(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
