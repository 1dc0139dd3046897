"""The virtualized thumbnail grid: filter bar, tiles, lazy thumbnails off the GUI thread."""

from labelapp.grid.widget import ImageGrid

__all__ = ["ImageGrid"]
