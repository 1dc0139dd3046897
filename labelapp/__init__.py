"""The PySide6 desktop GUI of labelapp: windows, docks and Qt models over ``core``.

Heavy libraries (torch, lightly) are never imported at module level here, so the
window opens fast; code that needs them imports them inside functions.
"""
