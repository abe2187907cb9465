"""Building blocks shared by the generators and discriminators."""

from __future__ import annotations

import functools

from torch import nn

from gan_bokeh.errors import UserError


def norm_layer(kind: str) -> type[nn.Module] | functools.partial[nn.Module]:
    """``instance`` (CycleGAN default: no affine, no running stats), ``batch`` or ``none``."""
    if kind == "instance":
        return functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)
    if kind == "batch":
        return functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True)
    if kind == "none":
        return lambda _c: nn.Identity()  # type: ignore[return-value]
    raise UserError(f"unknown norm {kind!r}; choose instance, batch or none")


def init_weights(net: nn.Module, gain: float = 0.02) -> nn.Module:
    """CycleGAN init: conv weights ~ N(0, gain), biases 0; norm weights ~ N(1, gain)."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)
    return net
