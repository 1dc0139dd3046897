"""A guard against a reference-count bug of PySide6 6.12 on Python 3.11.

PySide6/shiboken6 6.12.0 drops one reference to ``None`` on every call of a Qt
method that returns nothing (``painter.save()``, ``rect.setWidth(3)``,
``widget.update()``, ...). From Python 3.12 on ``None`` is immortal and nothing
happens; on Python 3.11 the count reaches zero after about 9,000 such calls and the
interpreter aborts with "Fatal Python error: none_dealloc". A grid paints a few
thousand of these calls per frame. 6.11.3 does not have the bug.

:func:`keep_none_alive` gives ``None`` a reference count far above anything a process
can spend, which is what Python 3.12 does for immortal objects.
"""

from __future__ import annotations

import ctypes
import logging
import sys

logger = logging.getLogger(__name__)

_RESERVE = 1 << 48  # Python 3.12 gives immortal objects a count of about 2**32


def keep_none_alive() -> None:
    """Makes ``None`` effectively immortal on Python < 3.12 (idempotent)."""
    if sys.version_info >= (3, 12):
        return
    refcount = ctypes.c_ssize_t.from_address(id(None))  # ob_refcnt, the first field of every object
    if refcount.value < _RESERVE:
        refcount.value += _RESERVE
        logger.debug("reserved references to None (PySide6 6.12 on Python 3.11 drops them)")
