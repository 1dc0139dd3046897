"""Where an accepted mask came from: the ``source`` a mask proposal writes into the
masks table and the event log, and its reading for the image info.

A proposal accepted as it is saves with ``proposal 7`` (7: the proposer run), or
``proposal 7 at 0.45`` when the reviewer moved the cut; edits with the brush afterwards
add `` edited`` (the editor's history does that). Any other source is not a proposal's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PREFIX = "proposal"
EDITED = " edited"
_PATTERN = re.compile(r"^proposal (\d+)(?: at ([0-9]*\.?[0-9]+))?( edited)?$")


@dataclass(frozen=True)
class ProposalOrigin:
    """A mask made from a proposal.

    Attributes:
        run_id: the proposer run that proposed it.
        cut: the difference level the reviewer cut it at; None: the run's own cut.
        edited: the reviewer changed it with the mask tools before it was saved.
    """

    run_id: int
    cut: float | None = None
    edited: bool = False

    @property
    def source(self) -> str:
        """The ``source`` to store (``proposal 7``, ``proposal 7 at 0.450``, ... `` edited``)."""
        text = f"{PREFIX} {int(self.run_id)}"
        if self.cut is not None:
            text += f" at {self.cut:.3f}"
        return text + (EDITED if self.edited else "")

    def describe(self) -> str:
        """In words: ``proposed by run #7 at cut 0.450, edited``."""
        text = f"proposed by run #{self.run_id}"
        if self.cut is not None:
            text += f" at cut {self.cut:.3f}"
        return text + (", edited" if self.edited else "")


def parse_origin(source: str | None) -> ProposalOrigin | None:
    """The proposal a mask's ``source`` names; None for any other source."""
    found = _PATTERN.match(source or "")
    if found is None:
        return None
    cut = None if found.group(2) is None else float(found.group(2))
    return ProposalOrigin(run_id=int(found.group(1)), cut=cut, edited=found.group(3) is not None)
