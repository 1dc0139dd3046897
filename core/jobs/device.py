"""Where a job's tensors live: the best device there is (CUDA, else the CPU), or the one asked for.

Every training and prediction job takes ``device`` ("auto", "cpu" or "cuda"), resolves it
once when it starts (:func:`resolve_device`) and puts every network and tensor of the job
there. The resolved name goes into the run's ``config["device"]``; :func:`describe_device`
says it in words for the Training panel and the CLI.

Importing this module does not import torch: the functions do, when called.

Batch sizes follow the device in one place, :func:`scaled_batch`: on the CPU they are the
measured values of each job, unchanged; on CUDA they are multiplied by the factor of
:data:`CUDA_BATCH_FACTOR` for that kind of batch. **The CUDA factors are not measured
here** (this machine has no GPU): they are conservative guesses that keep a small GPU's
memory safe, to be replaced by what ``benchmarks/gpu_check.py`` measures. Decode workers
(the pixel cache, the working images) are CPU processes whichever device trains, so their
count does not change with the device.
"""

from __future__ import annotations

DEVICES = ("auto", "cpu", "cuda")

# batch kind -> factor on CUDA (not measured: see the module docstring)
CUDA_BATCH_FACTOR = {
    "pretrain": 2,  # contrastive pairs per step: more negatives, fewer steps per epoch
    "embed": 4,  # images per forward pass when embedding every image (no gradients)
    "predict": 4,  # working pixels per forward pass when the detector predicts every image
}


def resolve_device(requested: str = "auto") -> str:
    """``"cuda"`` or ``"cpu"``: "auto" picks CUDA when torch sees a CUDA device.

    Raises:
        ValueError: an unknown name, or "cuda" on a machine without a CUDA device.
    """
    name = (requested or "auto").lower()
    if name not in DEVICES:
        raise ValueError(f"unknown device {requested!r}; choose from {', '.join(DEVICES)}")
    if name == "cpu":
        return "cpu"
    import torch

    available = torch.cuda.is_available()
    if name == "cuda" and not available:
        raise ValueError("no CUDA device: torch sees no GPU here (or was built without CUDA);"
                         " use --device cpu (or auto)")
    return "cuda" if available else "cpu"


def describe_device(device: str) -> str:
    """The device for people: "CPU, 2 threads" or "CUDA: NVIDIA H100 80GB HBM3"."""
    import torch

    if device.startswith("cuda"):
        return f"CUDA: {torch.cuda.get_device_name(torch.device(device))}"
    threads = torch.get_num_threads()
    return f"CPU, {threads} thread{'' if threads == 1 else 's'}"


def scaled_batch(cpu_batch: int, device: str, kind: str) -> int:
    """The batch size of ``kind`` (a key of :data:`CUDA_BATCH_FACTOR`) on ``device``:
    ``cpu_batch`` on the CPU, ``cpu_batch`` times the kind's factor on CUDA."""
    if device.startswith("cuda"):
        return int(cpu_batch) * CUDA_BATCH_FACTOR[kind]
    return int(cpu_batch)

