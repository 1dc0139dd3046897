"""The map: every image as a dot in 2-D, placed by the features of the latest pretraining run
(layouts, their cache, what the dots show, and the job that computes them)."""
