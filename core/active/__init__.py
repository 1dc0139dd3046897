"""Active learning: which images to label next, and why (strategies, the default
schedule, stored suggestions), the worth-a-mask ranking, and the labeling simulator
(:mod:`core.active.simulator`) that measures them."""

from core.active.strategies import Pick, Pool
from core.active.suggest import (
    DEFAULT_COUNT,
    MASK_STRATEGY,
    STRATEGIES,
    SuggestRequest,
    build_pool,
    compute_suggestions,
    describe,
    refresh_suggestions,
    select,
    suggest_job,
)

__all__ = [
    "DEFAULT_COUNT", "MASK_STRATEGY", "STRATEGIES", "Pick", "Pool", "SuggestRequest", "build_pool",
    "compute_suggestions", "describe", "refresh_suggestions", "select", "suggest_job",
]
