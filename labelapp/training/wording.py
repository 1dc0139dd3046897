"""The training panel's words: time left, durations, dates, and the curves' plain names.

The curves keep the names the jobs give them ("contrastive loss", "validation AP"); the
panel shows a plain name and puts the paper's term and what the curve means in a tooltip.
"""

from __future__ import annotations

import datetime as dt

# job's name -> (plain name, the paper's term and what it means)
CURVE_WORDS = {
    "contrastive loss": ("training loss", "contrastive loss (NT-Xent) of the SimCLR / NNCLR pretraining (paper 004): "
                         "falls as the encoder learns to tell the images apart"),
    "contrastive accuracy": ("views matched", "contrastive accuracy (paper 004): the share of images in a batch whose "
                             "two randomly altered copies the encoder matches to each other"),
    "fine-tune loss": ("training loss", "the fine-tuning loss (paper 001): the contrastive and ArcFace terms together"),
    "contrastive": ("telling images apart", "the contrastive term of the fine-tuning loss (paper 001)"),
    "ArcFace": ("separating classes", "the ArcFace term of the fine-tuning loss (paper 001): pulls each labeled "
                "image towards its class and away from the others"),
    "validation accuracy": ("accuracy on held-out labels", "cross-validated accuracy: each labeled image predicted "
                            "by a classifier trained without it"),
    "loss": ("training loss", "the defect detector's total loss (paper 002): the decision and segmentation losses"),
    "decision loss": ("OK / defective error", "decision loss (paper 002): how wrongly the detector calls the training "
                      "images OK or defective"),
    "segmentation loss": ("defect area error", "segmentation loss (paper 002): how wrongly the heat map marks the "
                          "defect pixels of the masked and OK images"),
    "θ (segmentation weight)": ("weight on defect areas", "θ (paper 002): how much the segmentation loss counts "
                                "against the decision loss; it falls as training goes on"),
    "validation AP": ("score on held-out images", "validation AP (average precision) on images held out of training: "
                      "1.0 when every defective image ranks above every OK one"),
    "G adversarial": ("repairs passing as real", "adversarial loss of the generators (ISU-GAN, paper 003): how "
                      "easily the discriminators tell their repairs from real images; lower, more convincing"),
    "cycle": ("round trip error", "cycle-consistency loss (paper 003): how far an image is from itself after a "
              "repair and back; keeps the repair faithful to the image"),
    "identity": ("OK image changed", "identity loss (paper 003): how much the repair changes an OK image, which "
                 "should stay as it is"),
    "D ok": ("judge of OK images", "discriminator loss on the OK side (paper 003): its error telling real OK images "
             "from repairs"),
    "D defect": ("judge of defective images", "discriminator loss on the defective side (paper 003)"),
    "repair MSE (OK)": ("OK images changed by the repair", "mean squared difference between OK images and their "
                        "repair (0-255 scale; paper 003, Table 3): lower, a more faithful repair"),
}
PHASE_TITLES = {"training ISU-GAN": "Mask proposer (ISU-GAN)", "training CycleGAN": "Mask proposer (CycleGAN)",
                "pretraining": "Pretraining the encoder", "fine-tuning": "Fine-tuning the encoder",
                "classifier": "Classifier", "defect detector": "Defect detector"}
AXIS_WORDS = {"epoch": "epochs", "minutes": "minutes"}
AXIS_TIPS = {"epoch": "Epochs: passes over the training images", "minutes": "Minutes since this part started"}
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def curve_words(name: str) -> tuple[str, str]:
    """(plain name, tooltip) of a curve the jobs call ``name``."""
    plain, tip = CURVE_WORDS.get(name, (name, ""))
    return plain, tip


def phase_title(phase: str) -> str:
    return PHASE_TITLES.get(phase, phase[:1].upper() + phase[1:])


def time_left(seconds: float | None) -> str:
    """"about 3 min left", "about 40 s left", "a few seconds left"; "" when unknown."""
    if seconds is None or seconds != seconds:  # None or NaN
        return ""
    seconds = max(0.0, float(seconds))
    if seconds < 10:
        return "a few seconds left"
    if seconds < 55:
        return f"about {max(10, round(seconds / 5) * 5)} s left"
    if seconds < 90:
        return "about a minute left"
    return f"about {duration(seconds, coarse=True)} left"


def duration(seconds: float, *, coarse: bool = False) -> str:
    """"4 s", "1 min 35 s", "2 h 5 min"; ``coarse``: whole minutes from 90 s on ("2 min")."""
    seconds = max(0.0, float(seconds))
    if seconds < 90 and not (coarse and seconds >= 60):
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60) if coarse else int(seconds // 60)
    if minutes < 60:
        rest = int(round(seconds - 60 * minutes))
        return f"{minutes} min" if coarse or rest <= 0 else f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def when(stamp: str | None, *, now: dt.datetime | None = None) -> str:
    """A stored time (ISO 8601 with its offset) in local time for people: "today 18:09",
    "yesterday 18:09", "4 Dec 18:09", "4 Dec 2025 18:09"; the text itself when it does
    not parse, "" when there is none."""
    if not stamp:
        return ""
    try:
        moment = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    local = moment.astimezone()
    today = (now or dt.datetime.now().astimezone()).date()
    clock = f"{local.hour:02d}:{local.minute:02d}"
    if local.date() == today:
        return f"today {clock}"
    if local.date() == today - dt.timedelta(days=1):
        return f"yesterday {clock}"
    day = f"{local.day} {MONTHS[local.month - 1]}"
    return f"{day} {clock}" if local.year == today.year else f"{day} {local.year} {clock}"


def seconds_between(start: str | None, end: str | None) -> float | None:
    """Seconds from one stored time to another; None when either is missing or unreadable."""
    try:
        return (dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(start)).total_seconds()  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
