"""The ranked list moved to :mod:`labelapp.widgets.ranked_list` (the proposals dock shows one
too); kept here so that the suggestions' imports stay as they are."""

from labelapp.widgets.ranked_list import ICON, RankedImageList, summary_label

__all__ = ["ICON", "RankedImageList", "summary_label"]
