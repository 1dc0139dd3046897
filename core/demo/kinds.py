"""The kinds of generated part: their class names, default image size and OK fraction.

* ``steel``: 200 px NEU-style hot-rolled steel, six defect classes.
* ``cracks``: long narrow machined parts (500 px wide, about 1250 px tall, like the
  Kolektor surface-defect set); a minority carry one thin crack.
* ``textured``: 512 px textured surfaces of a few texture families with small, faint
  defects (like the DAGM 2007 sets).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

logger = logging.getLogger(__name__)

OK_CLASS = "ok"


@dataclass(frozen=True)
class DemoKind:
    """What one kind of generated part looks like from the outside.

    Attributes:
        name: One of ``KINDS``.
        defect_classes: Defect class names, in a fixed order.
        default_size: Image size when none is given: a square side or ``(height, width)``.
        default_ok_fraction: Fraction of defect-free images when none is given.
    """

    name: str
    defect_classes: tuple[str, ...]
    default_size: int | tuple[int, int]
    default_ok_fraction: float

    @property
    def classes(self) -> tuple[str, ...]:
        """Every class of the kind: ``OK_CLASS`` first, then the defect classes."""
        return (OK_CLASS, *self.defect_classes)


STEEL = DemoKind(
    name="steel",
    defect_classes=("crazing", "inclusion", "patches", "pitted_surface", "rolled-in_scale", "scratches"),
    default_size=200,
    default_ok_fraction=0.3,
)
CRACKS = DemoKind(name="cracks", defect_classes=("crack",), default_size=(1250, 500), default_ok_fraction=0.87)
TEXTURED = DemoKind(
    name="textured",
    defect_classes=("spot", "scratch", "texture_change"),
    default_size=512,
    default_ok_fraction=0.88,
)

KINDS: tuple[str, ...] = (STEEL.name, CRACKS.name, TEXTURED.name)
_BY_NAME = {kind.name: kind for kind in (STEEL, CRACKS, TEXTURED)}


def demo_kind(name: str) -> DemoKind:
    """Return the kind called ``name``.

    Raises:
        ValueError: If ``name`` is not one of ``KINDS``.
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown demo kind {name!r}; expected one of {KINDS}") from None
