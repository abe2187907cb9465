"""The ASSEMBLED CycleGAN objective (gan_bokeh/objectives/cyclegan.py), not each loss on its own: which
output each loss sees, which mask goes with which image, where gradients go, and the logged mask terms at
iteration 1. Tiny nets, 32-px images, CPU.

Each test's docstring names the deliberately broken copy of the objective it was checked to fail on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from gan_bokeh import losses as L
from gan_bokeh.config import load_config
from gan_bokeh.io import read_jsonl, write_rgba
from gan_bokeh.nets.vgg import vgg19_relu3_2
from gan_bokeh.objectives import build_objective
from gan_bokeh.train.config import TrainConfig
from gan_bokeh.train.loop import RunOptions, train

CPU = torch.device("cpu")
TINY = ["model.ngf=4", "model.ndf=4", "model.generator=resnet", "model.n_blocks=1", "data.load_size=36",
        "data.crop_size=32", "data.num_workers=0", "train.pool_size=3", "train.mask_vgg_weight=0"]


def _model(config: str, *extra: str) -> torch.nn.Module:
    return build_objective(load_config(TrainConfig, config, overrides=[*TINY, *extra]), CPU)


def _batch() -> dict[str, torch.Tensor]:
    """Random images; binary masks of A and B in different places, so exchanging them shows."""
    g = torch.Generator().manual_seed(1)
    mA, mB = torch.zeros(1, 1, 32, 32), torch.zeros(1, 1, 32, 32)
    mA[..., 4:20, 6:18] = 1
    mB[..., 14:30, 16:28] = 1
    return {"A": torch.rand(1, 3, 32, 32, generator=g) * 2 - 1, "B": torch.rand(1, 3, 32, 32, generator=g) * 2 - 1,
            "mask_A": mA, "mask_B": mB}


class _Spy(nn.Module):
    """Wraps a generator; keeps every output (with its gradient) for inspection."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net, self.outputs = net, []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.net(x)
        y.retain_grad()
        self.outputs.append(y)
        return y


def test_mask_loss_gradient_reaches_G_through_subject_pixels() -> None:
    """With the overlay on, the mask loss (default ``train.mask_loss_on: raw``) must train G on the subject.

    Fails on: the mask loss computed on the overlaid output (``fake = seen`` in ``_mask_terms``, the code
    before this fix): M⊙(G(x)⊙(1−M) + x⊙M) = M⊙x, so its gradient is exactly zero.
    """
    model = _model("mask_loss_overlay")
    spy = _Spy(model.nets["G"])
    model.nets["G"] = spy
    b = _batch()
    _, terms = model._generator_losses(b["A"], b["B"], b["mask_A"], b["mask_B"])
    raw = spy.outputs[0]  # G(real_A): the first pass through G
    assert raw.shape == b["A"].shape
    terms["mask_norm_A"].backward()
    grad = raw.grad.abs().sum(1, keepdim=True)
    subject = b["mask_A"] > 0.5
    assert grad[subject].min() > 0  # every subject pixel of G's own output is pulled towards x
    assert grad[~subject].max() == 0  # ... and only those
    g_grads = [p.grad for p in spy.net.parameters()]
    assert all(g is not None for g in g_grads) and sum(float(g.abs().sum()) for g in g_grads) > 0


def test_literal_order_option_gives_zero_mask_gradient() -> None:
    """``train.mask_loss_on: overlaid`` (the literal §3.4.2 order) is what it says: with a binary mask the mask
    loss and its gradient are exactly zero. Fails on: the option being ignored (always raw)."""
    model = _model("mask_loss_overlay", "train.mask_loss_on=overlaid")
    b = _batch()
    _, terms = model._generator_losses(b["A"], b["B"], b["mask_A"], b["mask_B"])
    assert float(terms["mask_norm_A"].detach()) == 0.0 and float(terms["mask_norm_B"].detach()) == 0.0


def test_each_image_goes_with_its_own_mask() -> None:
    """Overlay, cycle and mask loss use ``mask_A`` with domain-A images and ``mask_B`` with domain-B images.

    Fails on: ``mA, mB`` exchanged in ``step``/``_generator_losses`` (the overlaid fakes then carry the
    other image's subject region, and the mask terms differ from the independent computation).
    """
    model = _model("mask_loss_overlay")
    b = _batch()
    model.step(b)  # the public entry point: one full iteration
    v = model.visuals
    mA, mB = b["mask_A"] > 0.5, b["mask_B"] > 0.5
    both_A, both_B = mA.expand_as(b["A"]), mB.expand_as(b["B"])
    assert torch.equal(v["fake_B"][both_A], b["A"][both_A])  # G(a)'s subject is a's own subject
    assert torch.equal(v["fake_A"][both_B], b["B"][both_B])
    assert not torch.equal(v["fake_B"][both_B & ~both_A], b["A"][both_B & ~both_A])
    assert torch.equal(v["mask_A"], b["mask_A"]) and torch.equal(v["mask_B"], b["mask_B"])


def test_mask_terms_match_an_independent_computation() -> None:
    """The logged mask terms are λ_cyc·λ_mask·‖M_x⊙x − M_x⊙G(x)‖₁ with x's own mask and G's raw output.

    Fails on: the mask loss on the overlaid output (``fake = seen``); ``lambda_mask`` not passed to the loss.
    """
    model = _model("mask_loss_overlay")
    b = _batch()
    t = model.cfg.train
    with torch.no_grad():
        G, F = model.nets["G"], model.nets["F"]
        want_A = t.lambda_cyc * t.lambda_mask * L.mask_norm_loss(b["A"], G(b["A"]), b["mask_A"])
        want_B = t.lambda_cyc * t.lambda_mask * L.mask_norm_loss(b["B"], F(b["B"]), b["mask_B"])
        _, terms = model._generator_losses(b["A"], b["B"], b["mask_A"], b["mask_B"])
    assert float(want_A) > 0 and float(want_B) > 0
    torch.testing.assert_close(terms["mask_norm_A"], want_A)
    torch.testing.assert_close(terms["mask_norm_B"], want_B)


def test_cycle_path_sees_the_overlay() -> None:
    """With the overlay on, F's output in the cycle is overlaid too (§3.4.2 "every time an image passes through a
    generator"): the reconstruction's subject is exactly the input's, and cycle_A is the L1 of that overlaid
    reconstruction. Fails on: the overlay dropped from the cycle path (``rec_A = F(fake_B)`` raw).
    """
    model = _model("mask_loss_overlay")
    b = _batch()
    with torch.no_grad():
        _, terms = model._generator_losses(b["A"], b["B"], b["mask_A"], b["mask_B"])
    v, t = model.visuals, model.cfg.train
    for side, m in (("A", b["mask_A"]), ("B", b["mask_B"])):
        sel = (m > 0.5).expand_as(b[side])
        assert torch.equal(v[f"rec_{side}"][sel], b[side][sel])
        torch.testing.assert_close(terms[f"cycle_{side}"], L.cycle_loss(v[f"rec_{side}"], b[side], t.lambda_cyc))


def test_generator_step_leaves_discriminators_alone() -> None:
    """The generators' update must not give the discriminators gradients nor move them.

    Fails on: ``set_requires_grad(frozen, False)`` removed from ``_generator_update`` (D then collects
    gradients from the adversarial terms).
    """
    model = _model("mask_loss_overlay")
    b = _batch()
    before = {k: [p.detach().clone() for p in model.nets[k].parameters()] for k in ("D_A", "D_B")}
    model._generator_step(b["A"], b["B"], b["mask_A"], b["mask_B"])
    for k in ("D_A", "D_B"):
        for p, q in zip(model.nets[k].parameters(), before[k], strict=True):
            assert p.grad is None and torch.equal(p, q)
            assert p.requires_grad  # switched back on for the discriminators' own step
    moved = [p.grad is not None for p in model.nets["G"].parameters()]
    assert all(moved)


# ---------------------------------------------------------------------------------------- iteration 1
@pytest.fixture(scope="module")
def soft_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Binary subject masks with a one-pixel soft edge (as a segmenter's), random images."""
    root = tmp_path_factory.mktemp("data") / "ds"
    rng = np.random.default_rng(0)
    for dom in "AB":
        d = root / f"train{dom}"
        d.mkdir(parents=True)
        for i in range(2):
            mask = np.zeros((40, 44), np.float32)
            mask[7:33, 11:31] = 0.5
            mask[8:32, 12:30] = 1
            write_rgba(d / f"{dom}{i}.png", rng.random((40, 44, 3)).astype(np.float32), mask)
    return root


def _iteration_1(config: str, data: Path, run_dir: Path, *extra: str) -> dict[str, float]:
    cfg = load_config(TrainConfig, config, overrides=[*TINY, "train.mask_vgg_weight=1", *extra])
    torch.manual_seed(0)
    vgg = vgg19_relu3_2()
    train(cfg, RunOptions(data=data, run_dir=run_dir, max_iters=1, vgg=vgg, progress=False))
    (row,) = read_jsonl(run_dir / "metrics.jsonl")
    return {k: v for k, v in row.items() if k.startswith("mask_")}


def test_logged_mask_terms_scale_with_lambda_mask_at_iteration_1(soft_dataset: Path, tmp_path: Path) -> None:
    """Same seed, nets and data: at iteration 1 the logged mask terms are in the ratio of λ_mask — between two
    configs that differ only in λ_mask, and between ``mask_loss_overlay`` (λ 0.5, overlay) and ``mask_loss``
    (λ 1) with the default ``mask_loss_on: raw``; with ``overlaid`` only the soft edge band is left (≈ 0).

    Fails on: the mask loss computed on the overlaid output (ratio ≈ 0.02 instead of 0.5); ``lambda_mask`` not
    passed to the loss; the ``mask_loss_on`` option ignored (always raw).
    """
    one = _iteration_1("mask_loss", soft_dataset, tmp_path / "one")
    half = _iteration_1("mask_loss", soft_dataset, tmp_path / "half", "train.lambda_mask=0.5")
    assert set(one) == {"mask_norm_A", "mask_norm_B", "mask_vgg_A", "mask_vgg_B"}
    for k in one:
        assert half[k] == pytest.approx(0.5 * one[k], rel=1e-5), k
    paper = _iteration_1("mask_loss_overlay", soft_dataset, tmp_path / "mlo")
    for k in one:
        assert paper[k] == pytest.approx(0.5 * one[k], rel=1e-5), k
    literal = _iteration_1("mask_loss_overlay", soft_dataset, tmp_path / "lit", "train.mask_loss_on=overlaid")
    for k in ("mask_norm_A", "mask_norm_B"):
        assert 0 < literal[k] < 0.1 * paper[k], k  # the soft edge band only
