"""Exporting: trained models as one checked file with its card (and running such a file without a
project), a detector run's heat maps, and the labels."""
