"""Loss math on hand-made tensors (paper eq. 1, 2, 10–13), the LR schedule and the image pool."""

from __future__ import annotations

import pytest
import torch
from torch.autograd import gradcheck

from gan_bokeh import losses as L
from gan_bokeh.nets.vgg import vgg19_relu3_2
from gan_bokeh.train.pool import ImagePool
from gan_bokeh.train.schedule import lr_factor


def _pair(seed: int = 0, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    real = torch.rand(2, 3, 16, 16, generator=g, dtype=dtype) * 2 - 1
    fake = torch.rand(2, 3, 16, 16, generator=g, dtype=dtype) * 2 - 1
    mask = torch.zeros(2, 1, 16, 16, dtype=dtype)
    mask[:, :, 4:12, 5:11] = 1
    return real, fake, mask


def test_gan_loss_known_values() -> None:
    ones, zeros = torch.ones(1, 1, 4, 4), torch.zeros(1, 1, 4, 4)
    assert L.gan_loss(ones, True, "lsgan") == 0
    assert L.gan_loss(zeros, True, "lsgan") == 1
    assert L.gan_loss(zeros, False, "lsgan") == 0
    assert torch.isclose(L.gan_loss(zeros, True, "vanilla"), torch.log(torch.tensor(2.0)))
    assert L.discriminator_loss(ones, zeros) == 0
    assert L.discriminator_loss(zeros, ones) == 1  # 0.5 * (1 + 1)
    with pytest.raises(ValueError, match="lsgan"):
        L.gan_loss(ones, True, "wgan")


def test_cycle_and_identity_weights() -> None:
    a, b = torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 0.5)
    assert L.cycle_loss(a, a) == 0
    assert torch.isclose(L.cycle_loss(b, a, 10.0), torch.tensor(5.0))
    assert torch.isclose(L.identity_loss(b, a, 10.0, 0.5), torch.tensor(2.5))


def test_mask_loss_is_zero_when_fake_equals_real_inside_the_mask() -> None:
    real, fake, mask = _pair()
    fake_same_inside = torch.where(mask.bool().expand_as(real), real, fake)  # differs only outside M
    torch.manual_seed(0)
    vgg = vgg19_relu3_2()
    parts = L.mask_loss(real, fake_same_inside, mask, lambda_cyc=10, lambda_mask=1, vgg=vgg, vgg_weight=1)
    assert set(parts) == {"norm", "vgg"}
    assert parts["norm"] == 0 and parts["vgg"] == 0
    # and positive when the subject changes
    parts = L.mask_loss(real, fake, mask, lambda_cyc=10, lambda_mask=1, vgg=vgg, vgg_weight=1)
    assert parts["norm"] > 0 and parts["vgg"] > 0


def test_mask_loss_scaling_and_precomputed_features() -> None:
    real, fake, mask = _pair(1)
    torch.manual_seed(0)
    vgg = vgg19_relu3_2()
    base = L.mask_loss(real, fake, mask, lambda_cyc=1, lambda_mask=1, vgg=vgg, vgg_weight=1)
    half = L.mask_loss(real, fake, mask, lambda_cyc=10, lambda_mask=0.5, vgg=vgg, vgg_weight=2,
                       real_features=vgg(L.masked(real, mask)))
    assert torch.isclose(half["norm"], 5 * base["norm"])
    assert torch.isclose(half["vgg"], 10 * base["vgg"])
    assert torch.isclose(base["norm"], (fake * mask - real * mask).abs().mean())
    l1_only = L.mask_loss(real, fake, mask, vgg=None, vgg_weight=0)
    assert set(l1_only) == {"norm"}
    with pytest.raises(ValueError, match="VGG"):
        L.mask_loss(real, fake, mask, vgg=None, vgg_weight=1)


def test_overlay_exact_where_mask_is_binary() -> None:
    real, fake, mask = _pair(2)
    mask[0, 0, 0, 0] = 0.25  # one soft pixel
    out = L.mask_overlay(fake, real, mask)
    inside = mask.expand_as(real) == 1
    outside = mask.expand_as(real) == 0
    assert torch.equal(out[inside], real[inside])
    assert torch.equal(out[outside], fake[outside])
    assert torch.allclose(out[0, :, 0, 0], 0.75 * fake[0, :, 0, 0] + 0.25 * real[0, :, 0, 0])
    assert torch.equal(L.MaskOverlay()(fake, real, mask), out)


def test_gradcheck_overlay_and_losses() -> None:
    real, fake, mask = _pair(3, torch.float64)
    mask = mask * 0.7 + 0.1  # soft, so both branches carry gradient
    fake.requires_grad_()
    real.requires_grad_()
    assert gradcheck(lambda f, r: L.mask_overlay(f, r, mask), (fake, real))
    assert gradcheck(lambda f: L.mask_norm_loss(real.detach(), f + 0.01, mask), (fake,))
    assert gradcheck(lambda f: L.cycle_loss(f + 0.01, real.detach()), (fake,))
    assert gradcheck(lambda f: L.gan_loss(f, True, "lsgan"), (fake,))


def test_lr_schedule_constant_then_linear() -> None:
    f = [lr_factor(e, 3, 3) for e in range(7)]
    assert f[:3] == [1.0, 1.0, 1.0]
    assert f[3:6] == pytest.approx([0.75, 0.5, 0.25])
    assert f[6] == 0.0
    assert lr_factor(49, 50, 25) == 1.0 and lr_factor(74, 50, 25) == pytest.approx(1 / 26)


def test_image_pool_history_and_state_roundtrip() -> None:
    pool = ImagePool(2, seed=0)
    a, b = torch.zeros(1, 3, 2, 2), torch.ones(1, 3, 2, 2)
    assert torch.equal(pool.query(a), a) and torch.equal(pool.query(b), b)  # filling: returns the input
    clone = ImagePool(2, seed=99)
    clone.load_state_dict(pool.state_dict())
    for i in range(10):
        x = torch.full((1, 3, 2, 2), float(i + 2))
        assert torch.equal(pool.query(x), clone.query(x))
    assert torch.equal(ImagePool(0).query(a), a)
