"""Deterministic generator of steel-like surface images with NEU-style defects and masks.

Public API::

    from core.demo import render_sample, plan_classes, write_dataset, read_truth

Every sample is a pure function of ``(seed, index, size, class_name)``, so data sets can be
rendered in any order or in parallel and always give byte-identical pixels.
"""

from __future__ import annotations

from core.demo.render import (
    ALL_CLASSES,
    DEFECT_CLASSES,
    MASK_THRESHOLD,
    OK_CLASS,
    DemoSample,
    parse_size,
    plan_classes,
    render_sample,
)
from core.demo.writer import DemoEntry, DemoManifest, read_truth, sample_paths, write_dataset

__all__ = [
    "ALL_CLASSES",
    "DEFECT_CLASSES",
    "MASK_THRESHOLD",
    "OK_CLASS",
    "DemoEntry",
    "DemoManifest",
    "DemoSample",
    "parse_size",
    "plan_classes",
    "read_truth",
    "render_sample",
    "sample_paths",
    "write_dataset",
]
