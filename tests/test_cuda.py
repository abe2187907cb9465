"""The CUDA path: mixed-precision and channels_last training steps, and generation on the GPU.

Marked ``cuda``; every test skips without a CUDA device (CI is CPU-only). ``scripts/gpu_check.sh`` runs
them on a GPU machine with ``pytest -m cuda``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

#: Tiny nets: the point is the device path, not the model.
TINY = ["model.ngf=8", "model.ndf=8", "data.crop_size=32", "data.load_size=32", "train.mask_vgg_weight=0"]


def _model(config: str, *sets: str):
    from gan_bokeh.config import load_config
    from gan_bokeh.objectives import build_objective
    from gan_bokeh.train.config import TrainConfig

    cfg = load_config(TrainConfig, config, overrides=[*TINY, *sets])
    return build_objective(cfg, torch.device("cuda"), vgg=None)


def _batch(n: int = 2, size: int = 32) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    mask = torch.zeros(n, 1, size, size)
    mask[..., size // 4:, size // 4: 3 * size // 4] = 1
    depth = torch.linspace(0, 1, size).view(1, 1, size, 1).expand(n, 1, size, size).clone()
    return {"A": torch.rand(n, 3, size, size, generator=g) * 2 - 1,
            "B": torch.rand(n, 3, size, size, generator=g) * 2 - 1,
            "mask_A": mask, "mask_B": mask.clone(), "depth_A": depth, "depth_B": depth.clone()}


@pytest.mark.parametrize("config", ["mask_loss_overlay", "cut", "defocus"])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_amp_step_is_finite_and_updates_weights(config: str, dtype: str) -> None:
    """Catches: autocast/GradScaler wiring that yields non-finite losses, a scaler that skips every step
    (weights never change), or bf16 still routed through a GradScaler."""
    if dtype == "bfloat16" and not torch.cuda.is_bf16_supported():
        pytest.skip("bf16 unsupported on this GPU")
    m = _model(config, "train.amp=true", f"train.amp_dtype={dtype}")
    assert m.amp and m.scaler.is_enabled() == (dtype == "float16")
    g = next(iter(m.nets.values()))
    before = [p.detach().clone() for p in g.parameters()]
    for _ in range(3):
        losses = m.step(_batch())
        assert all(math.isfinite(v) for v in losses.values()), losses
    assert any(not torch.equal(a, p.detach()) for a, p in zip(before, g.parameters(), strict=True))


def test_channels_last_step_matches_layout() -> None:
    """Catches: nets or inputs not moved to channels_last when ``train.channels_last`` is on, and a
    channels_last step that produces non-finite losses."""
    m = _model("cyclegan", "train.amp=false", "train.channels_last=true")
    assert m.memory_format == torch.channels_last
    w = next(p for p in m.nets["G"].parameters() if p.ndim == 4)
    assert w.is_contiguous(memory_format=torch.channels_last)
    losses = m.step(_batch())
    assert all(math.isfinite(v) for v in losses.values())


def test_generate_on_cuda_matches_cpu() -> None:
    """Catches: generation that ignores the device, or a CUDA path that differs from the CPU one beyond
    float rounding."""
    from gan_bokeh.generate import FullResGenerator
    from gan_bokeh.nets import build_generator

    torch.manual_seed(0)
    net = build_generator("resnet", ngf=8, n_blocks=1).eval()
    img = np.random.default_rng(0).random((40, 56, 3)).astype(np.float32)
    cpu = FullResGenerator(net=net, work_size=32, device=torch.device("cpu"))(img)
    gpu = FullResGenerator(net=net.to("cuda"), work_size=32, device=torch.device("cuda"))(img)
    assert gpu.shape == img.shape and np.isfinite(gpu).all()
    assert np.abs(gpu - cpu).max() < 1e-3
