"""Every registered net runs forward + backward at tiny size; the VGG feature extractor."""

from __future__ import annotations

import pytest
import torch

from gan_bokeh.errors import UserError
from gan_bokeh.nets import DISCRIMINATORS, GENERATORS, build_discriminator, build_generator
from gan_bokeh.nets.vgg import VGG19_RELU3_2, VGGFeatures, vgg19_relu3_2, vgg19_relu5_4


def _forward_backward(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    y = net(x)
    y.square().mean().backward()
    assert torch.isfinite(y).all()
    for name, p in net.named_parameters():
        assert p.grad is not None, f"{name} got no gradient"
        assert torch.isfinite(p.grad).all(), name
    return y


def _levels(net: torch.nn.Module) -> tuple[int | None, ...]:
    """Multi-level nets (PyNET) expose ``levels``; the others have one output."""
    return tuple(getattr(net, "levels", (None,)))


@pytest.mark.parametrize("name", sorted(GENERATORS))
@pytest.mark.parametrize("upsample", ["deconv", "resize"])
def test_every_generator_forward_backward(name: str, upsample: str) -> None:
    """Every registered generator, at tiny width, at every level it has: output shape, range, and a gradient
    for each parameter that level uses (a level whose head or lower levels are cut off fails here)."""
    torch.manual_seed(0)
    net = build_generator(name, ngf=4, n_blocks=1, upsample=upsample)
    n = 32 if _levels(net) == (None,) else 64  # PyNET's coarsest level is 1/32: instance norm needs > 1 px
    for level in _levels(net):
        net.zero_grad(set_to_none=True)
        x = torch.rand(2, 3, n, n) * 2 - 1
        if level is None:
            y = _forward_backward(net, x)
            side = n
        else:
            y = net(x, level=level)
            y.square().mean().backward()
            used = {id(p) for p in net.level_parameters(level)}
            for pname, p in net.named_parameters():
                if id(p) in used:
                    assert p.grad is not None and torch.isfinite(p.grad).all(), f"level {level}: {pname}"
                else:
                    assert p.grad is None, f"level {level} should not reach {pname}"
            side = round(n * net.level_scale(level))
        assert y.shape == (2, 3, side, side), (level, tuple(y.shape))
        assert torch.isfinite(y).all() and y.abs().max() <= 1.0  # tanh output


@pytest.mark.parametrize("name", sorted(DISCRIMINATORS))
def test_every_discriminator_forward_backward(name: str) -> None:
    torch.manual_seed(0)
    net = build_discriminator(name, ndf=4)
    y = _forward_backward(net, torch.rand(2, 3, 64, 64) * 2 - 1)
    assert y.shape == (2, 1, 6, 6)  # 70x70 PatchGAN: H/8 - 2


def test_registries_reject_unknown_names() -> None:
    with pytest.raises(UserError, match="resnet_9blocks"):
        build_generator("unet_1024")
    with pytest.raises(UserError, match="patchgan_3layers"):
        build_discriminator("nope")


def test_vgg_shape_frozen_and_gradient_to_input() -> None:
    torch.manual_seed(0)
    vgg = vgg19_relu3_2()
    assert len(vgg.features) == VGG19_RELU3_2
    assert all(not p.requires_grad for p in vgg.parameters())
    vgg.train()
    assert not vgg.training  # stays in eval mode
    x = (torch.rand(1, 3, 32, 32) * 2 - 1).requires_grad_()
    f = vgg(x)
    assert f.shape == (1, 256, 8, 8) and (f >= 0).all()
    f.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_vgg_loads_torchvision_layout_and_rejects_other_weights() -> None:
    src = vgg19_relu3_2().state_dict()
    # torchvision's vgg19 state dict has further feature layers and a classifier: ignored.
    full = {**src, "features.14.weight": torch.zeros(256, 256, 3, 3), "classifier.0.weight": torch.zeros(2, 2)}
    vgg = VGGFeatures().load_vgg_state_dict(full)
    assert torch.equal(vgg.features[0].weight, src["features.0.weight"])
    with pytest.raises(ValueError, match="missing"):
        VGGFeatures().load_vgg_state_dict({"features.0.weight": src["features.0.weight"]})
    bad = dict(src)
    bad["features.2.weight"] = torch.zeros(1, 1, 3, 3)
    with pytest.raises(ValueError, match="shape"):
        VGGFeatures().load_vgg_state_dict(bad)


def test_vgg_relu5_4_for_pynet_content_loss() -> None:
    """PyNET's content layer: 512 channels at 1/16, frozen, and it loads the same torchvision state dict
    (layers past relu3_2 included). Catches a truncated prefix or a shifted layer index."""
    vgg = vgg19_relu5_4()
    f = vgg(torch.rand(1, 3, 32, 32) * 2 - 1)
    assert f.shape == (1, 512, 2, 2) and all(not p.requires_grad for p in vgg.parameters())
    src = vgg19_relu5_4().state_dict()
    assert "features.34.weight" in src and torch.equal(VGGFeatures(36).load_vgg_state_dict(src).features[34].weight,
                                                       src["features.34.weight"])
