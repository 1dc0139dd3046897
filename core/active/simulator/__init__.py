"""The labeling simulator (``labelapp simulate``): plays the labeler on a folder whose classes are
known, one module per part: config, truth, rounds, evaluation, results CSV, simulation (process pool), plot."""
