"""The torchvision compatibility hook, each case in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=300)


def test_torchvision_and_lightly_work_after_the_hook() -> None:
    result = run_python("""
        import models
        import torch, torchvision
        from models.torchvision_compat import Mode, mode, nms_reference
        assert mode() in (Mode.NATIVE, Mode.FALLBACK), mode()
        g = torch.Generator().manual_seed(0)
        xy = torch.rand(300, 2, generator=g) * 100
        boxes = torch.cat([xy, xy + 1 + torch.rand(300, 2, generator=g) * 30], dim=1)
        scores = torch.rand(300, generator=g)
        keep = torchvision.ops.nms(boxes, scores, 0.5)
        assert torch.equal(keep, nms_reference(boxes, scores, 0.5))
        # every kept box overlaps no higher-scored kept box above the threshold
        iou = torchvision.ops.box_iou(boxes[keep], boxes[keep])
        assert float(iou.triu(diagonal=1).max()) <= 0.5
        assert bool((scores[keep][:-1] >= scores[keep][1:]).all())
        labels = torch.randint(0, 3, (300,), generator=g)
        assert len(torchvision.ops.batched_nms(boxes, scores, labels, 0.5)) >= len(keep)
        out = torchvision.ops.roi_align(torch.rand(1, 2, 16, 16), [torch.tensor([[0., 0., 8., 8.]])], (4, 4))
        assert out.shape == (1, 2, 4, 4)
        net = torchvision.models.resnet18(num_classes=3)
        assert net(torch.rand(2, 3, 64, 64)).shape == (2, 3)
        from lightly.loss import NTXentLoss
        from lightly.models.modules import NNMemoryBankModule, SimCLRProjectionHead
        z = SimCLRProjectionHead(8, 8, 4)(torch.rand(6, 8))
        assert torch.isfinite(NTXentLoss()(z, z + 0.1))
        print(mode().name)
    """)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() in ("NATIVE", "FALLBACK")


def test_reference_nms_handles_empty_and_identical_boxes() -> None:
    result = run_python("""
        import torch
        from models.torchvision_compat import nms_reference
        assert nms_reference(torch.empty(0, 4), torch.empty(0), 0.5).numel() == 0
        boxes = torch.tensor([[0., 0., 10., 10.]] * 3 + [[20., 20., 30., 30.]])
        keep = nms_reference(boxes, torch.tensor([0.1, 0.9, 0.5, 0.2]), 0.5)
        assert keep.tolist() == [1, 3], keep
    """)
    assert result.returncode == 0, result.stderr[-3000:]


def test_hook_changes_nothing_when_the_native_library_loads() -> None:
    # Pretend the native library loaded: the hook must register no operator and leave
    # torchvision's import exactly as it would be without it (which here fails).
    result = run_python("""
        import torch
        import models.torchvision_compat as compat
        compat._native_library_loads = lambda package_dir: True
        compat.install()
        try:
            import torchvision  # noqa: F401
        except RuntimeError as exc:
            assert "torchvision::nms does not exist" in str(exc), exc
            print("UNTOUCHED", compat.mode().name, compat._library is None)
        else:
            print("NATIVE-OK", compat.mode().name, compat._library is None)
    """)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[1:] == ["NATIVE", "True"]


def test_install_is_idempotent_and_lazy() -> None:
    result = run_python("""
        import sys
        import models
        from models import torchvision_compat as compat
        compat.install(); compat.install()
        hooks = [f for f in sys.meta_path if type(f).__name__ == "_Finder"]
        assert len(hooks) == 1, sys.meta_path
        assert "torch" not in sys.modules, "installing the hook must not import torch"
        print("ok")
    """)
    assert result.returncode == 0, result.stderr[-3000:]
