"""Reviewing mask proposals (:mod:`core.proposals`): the queue dock, the outline over the
editor's image with the repair and the difference map, the keys, and the bulk accept."""
