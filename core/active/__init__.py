"""Active learning: which images to label next, and why (strategies, the default
schedule, stored suggestions) and the labeling simulator that measures them."""

from core.active.strategies import Pick, Pool
from core.active.suggest import (
    DEFAULT_COUNT,
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
    "DEFAULT_COUNT", "STRATEGIES", "Pick", "Pool", "SuggestRequest", "build_pool", "compute_suggestions", "describe",
    "refresh_suggestions", "select", "suggest_job",
]
