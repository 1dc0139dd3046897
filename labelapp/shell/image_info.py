"""The line under the editor: file, label, size, mask and the prediction."""

from __future__ import annotations

import html
from pathlib import Path

from core.proposals.accept import proposal_origin
from core.store import Project


def image_info_html(project: Project, image_id: int) -> str:
    image = project.images.get(image_id)
    label = project.labels.get(image_id)
    mask = project.masks.info(image_id)
    if label is None:
        label_html = "<i>unlabeled</i>"
    else:
        color = project.classes.get(label.class_id).color
        label_html = f"<b><span style='color:{color}'>&#9632;</span> {html.escape(label.class_name)}</b>"
    depth = f" · {image.bit_depth}-bit" if image.bit_depth != 8 else ""
    mask_text = "no mask" if mask is None else (f"mask {mask.pixels:,} px" if mask.pixels else "empty mask")
    origin = proposal_origin(mask.source) if mask is not None else None
    if origin is not None:  # an accepted mask proposal
        mask_text += (f" <span style='color:gray'>(proposed by run #{origin.run_id}"
                      f"{', edited' if origin.edited else ''})</span>")
    prediction = project.predictions.get(image_id)
    predicted = ""
    if prediction is not None and prediction.class_id is not None:
        cls = project.classes.get(prediction.class_id)
        predicted = (f" &nbsp;·&nbsp; predicted <span style='color:{cls.color}'>&#9632;</span> "
                     f"{html.escape(cls.name)} {prediction.confidence:.0%} (Y accepts)")
    return (f"{html.escape(Path(image.path).name)} &nbsp;·&nbsp; {label_html} &nbsp;·&nbsp; "
            f"{image.width}×{image.height}{depth} &nbsp;·&nbsp; {mask_text}{predicted}")
