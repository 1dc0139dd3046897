"""The image editor: zoom, pan, mask tools, undo/redo, off-thread loading and saving."""

from labelapp.editor.editor import ImageEditor

__all__ = ["ImageEditor"]
