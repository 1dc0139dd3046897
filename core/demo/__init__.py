"""Deterministic generator of industrial surface images with defects and exact masks.

Three kinds of part (``KINDS``): ``steel`` (NEU-style, the default), ``cracks``
(Kolektor-like long strips with an occasional thin crack) and ``textured`` (DAGM-like
textures with small faint defects). Public API::

    from core.demo import render_sample, plan_classes, write_dataset, read_truth

Every sample is a pure function of ``(seed, index, size, class_name, kind)``, so data
sets can be rendered in any order or in parallel and always give byte-identical pixels.
"""

from __future__ import annotations

from core.demo.kinds import KINDS, OK_CLASS, DemoKind, demo_kind
from core.demo.render import (
    ALL_CLASSES,
    DEFECT_CLASSES,
    MASK_THRESHOLD,
    DemoSample,
    parse_size,
    plan_classes,
    render_sample,
)
from core.demo.writer import DemoEntry, DemoManifest, read_truth, sample_paths, write_dataset

__all__ = [
    "ALL_CLASSES",
    "DEFECT_CLASSES",
    "KINDS",
    "MASK_THRESHOLD",
    "OK_CLASS",
    "DemoEntry",
    "DemoKind",
    "DemoManifest",
    "DemoSample",
    "demo_kind",
    "parse_size",
    "plan_classes",
    "read_truth",
    "render_sample",
    "sample_paths",
    "write_dataset",
]
