"""The job's device: auto picks CUDA when there is one, a missing GPU is a clear error,
runs record where they trained, and a GPU agrees with the CPU (where there is a GPU)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from core.jobs import drain
from core.jobs.device import describe_device, resolve_device, scaled_batch
from core.jobs.device_check import detector_agreement, encoder_agreement

CUDA = torch.cuda.is_available()


@pytest.fixture
def no_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_auto_is_cuda_when_there_is_one_else_the_cpu() -> None:
    assert resolve_device("auto") == ("cuda" if CUDA else "cpu")
    assert resolve_device("cpu") == "cpu"


def test_cuda_without_a_gpu_is_a_clear_error(no_cuda: None) -> None:
    assert resolve_device("auto") == "cpu"
    with pytest.raises(ValueError, match="no CUDA device.*--device cpu"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        resolve_device("tpu")


def test_the_command_line_refuses_cuda_without_a_gpu(no_cuda: None, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from labelapp.cli.parser import main

    assert main(["train", str(tmp_path / "project"), "--device", "cuda", "--json"]) == 2
    assert "no CUDA device" in capsys.readouterr().err


def test_batches_keep_their_cpu_sizes_on_the_cpu_and_grow_on_cuda() -> None:
    assert scaled_batch(64, "cpu", "pretrain") == 64
    assert scaled_batch(64, "cuda", "pretrain") > 64
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert describe_device("cpu") == "CPU, 1 thread"
        torch.set_num_threads(2)
        assert describe_device("cpu") == "CPU, 2 threads"
    finally:
        torch.set_num_threads(threads)


def test_a_pretraining_run_records_its_device(tmp_path: Path) -> None:
    from core.demo_project import create_demo_project
    from core.training import PretrainRequest, pretrain_job

    root = tmp_path / "project"
    create_demo_project(root, n_images=16, size=64, workers=1)
    records = []
    result = drain(pretrain_job(PretrainRequest(project_root=root, size=32, epochs=1, batch_size=8, workers=1,
                                                device="auto")), records.append)
    assert result.run.config["device"] == resolve_device("auto")
    assert result.run.config["batch_size"] == 8
    training = [r for r in records if r.phase == "pretraining"]
    assert training and describe_device(resolve_device("auto")) in training[0].message


def test_the_agreement_check_finds_no_difference_between_the_cpu_and_itself() -> None:
    assert detector_agreement("cpu", sides=((64, 96),)).max_abs_diff == 0.0
    encoder = encoder_agreement("cpu", size=32, cache_size=64, count=2)
    assert encoder.max_abs_diff == 0.0 and encoder.max_cosine_gap == 0.0 and encoder.agrees


@pytest.mark.skipif(not CUDA, reason="no CUDA device: the GPU-vs-CPU agreement needs a GPU")
@pytest.mark.parametrize("width", ["narrow", "full"])
def test_the_detector_on_a_gpu_agrees_with_the_cpu(width: str) -> None:
    agreement = detector_agreement("cuda", width=width)
    assert agreement.agrees, agreement


@pytest.mark.skipif(not CUDA, reason="no CUDA device: the GPU-vs-CPU agreement needs a GPU")
def test_the_encoder_on_a_gpu_agrees_with_the_cpu() -> None:
    agreement = encoder_agreement("cuda")
    assert agreement.agrees, agreement
