"""The model card of an exported defect detector: what it is, how to feed it any image,
what its two outputs mean, its threshold and whether its validation allows it to decide."""

from __future__ import annotations

from typing import Any

from core.export.classes import left_out_card
from core.export.common import ParityReport, card_head, card_tail
from core.store import Project
from core.training.model_io import LoadedDetector
from core.training.trust import detector_trust

STRIDE = 8  # input pixels per heat-map cell


def detector_card(project: Project, loaded: LoadedDetector, *, fmt: str, data: bytes,
                  parity: ParityReport) -> dict[str, Any]:
    """The card's fields (see the module docstring); the run's validation figures as stored."""
    run = loaded.run
    trust = detector_trust(run)
    metrics = run.metrics or {}
    snapshot = run.label_snapshot or {}
    return {
        **card_head(run, fmt=fmt, data=data),
        "model_kind": "defect detector",
        "mode": loaded.mode,
        "net": loaded.net.config.to_dict(),
        "input": detector_input(loaded.scale, loaded.geometry, fmt),
        "outputs": detector_outputs(),
        "threshold": loaded.threshold,
        "validated": trust.validated,
        "trust": trust.why,
        "validation": metrics.get("validation"),
        "labels": {"per_class": snapshot.get("classes", {}), "labeled": snapshot.get("labeled"),
                   "defective": metrics.get("defective"), "ok": metrics.get("ok"),
                   "masked_defective": metrics.get("masks"), "masks": snapshot.get("masks")},
        "classes": trained_classes(project, snapshot.get("classes", {})),
        "classes_left_out": left_out_card(project, run),
        **card_tail(project, parity),
    }


def detector_input(scale: float, geometry: dict, fmt: str) -> dict[str, Any]:
    """The input contract: one gray image of any size at ``scale``, 0-255."""
    return {
        "name": "pixels",
        "shape": ["batch", 1, "height", "width"],
        "dtype": "uint8 or float32" if fmt == "torchscript" else "float32",
        "scale": scale,
        "geometry": geometry,
        "preprocessing": {
            "color": "gray (Pillow 'L'); 16-bit and float images are first windowed to 8 bits between their"
                     " 0.5 and 99.5 percentiles",
            "resize": f"gray, resized by {scale:g} with Pillow bilinear (reducing gap 2.0) keeping the aspect"
                      " ratio; any size; padded inside",
            "working_size": f"height x width = max(8, round(h * {scale:g})) x max(8, round(w * {scale:g})) of an"
                            " h x w image; an image already that size is not resampled",
            "padding": f"inside the model: the bottom and right edges repeated to a multiple of {STRIDE}",
            "values": "0-255 as they are: the model scales them to 0..1 and standardises each image by its own"
                      " mean and spread (of the unpadded image) itself",
            "batch": "images of one size may go together; images of different sizes one at a time",
            "large_images": "the whole image in one pass (memory grows with its size); the app itself goes"
                            " through very large images in overlapping tiles, with the same answer",
            "reference": "core.training.segdec_pixels.decode_scaled (labelapp predict does exactly this)",
        },
    }


def detector_outputs() -> list[dict[str, Any]]:
    """The two outputs, in the model's order."""
    return [
        {"name": "defect_probability", "shape": ["batch"],
         "meaning": "the probability that the image is defective, 0..1; defective at or above the threshold"
                    " (when validated)"},
        {"name": "heatmap", "shape": ["batch", 1, f"ceil(height / {STRIDE})", f"ceil(width / {STRIDE})"],
         "meaning": f"where the defect is, 0..1: one cell per {STRIDE}x{STRIDE} block of the input padded at the"
                    " bottom and right, from the top left. To lay it over the original image resample the cells"
                    " to tile the unpadded input (models.segdec.heat_on_image_grid), then stretch them over the"
                    " image, cell centres on block centres (core.training.heatmaps.upsample_heatmap):"
                    " labelapp predict --heatmaps does both"},
    ]


def trained_classes(project: Project, per_class: dict[str, int]) -> list[dict[str, Any]]:
    """The classes the run's labels came from, and what each counted as."""
    kinds = {c.name: c.kind.value for c in project.classes.list()}
    return [{"name": name, "kind": kinds.get(name), "labels": count,
             "counts_as": {"ok": "OK", "defect": "defective"}.get(kinds.get(name) or "")}
            for name, count in per_class.items()]
