"""VGG19 feature extractor up to ``relu3_2`` for the mask loss (paper eq. 12).

The module is built with random weights: ImageNet weights are resolved *outside* (see
:func:`gan_bokeh.train.models.build_mask_vgg`, which uses :mod:`gan_bokeh.weights`) and loaded with
:meth:`VGGFeatures.load_vgg_state_dict`, which accepts torchvision's full ``vgg19`` state dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

__all__ = ["VGG19_RELU3_2", "VGG19_RELU5_4", "VGGFeatures", "vgg19_relu3_2", "vgg19_relu5_4"]

#: torchvision ``vgg19().features`` layers 0..13: conv1_1 … conv3_2 and its ReLU (index 13).
VGG19_RELU3_2 = 14
#: torchvision ``vgg19().features`` layers 0..35: up to conv5_4 and its ReLU (PyNET's content layer).
VGG19_RELU5_4 = 36
# VGG19 ``features``; indices match torchvision's
_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512)

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class VGGFeatures(nn.Module):
    """Frozen VGG19 prefix of ``n_layers`` torchvision ``features`` layers (default: up to ``relu3_2``, the
    mask loss's layer; :data:`VGG19_RELU5_4` for PyNET's content loss); input in [-1, 1], ImageNet
    normalisation inside.

    Shape:
        ``(B, 3, H, W)`` in [-1, 1] → ``(B, 256, H/4, W/4)`` at relu3_2, ``(B, 512, H/16, W/16)`` at relu5_4
        (non-negative ReLU features).

    Parameters never require gradients (the mask loss trains the generators, not VGG); gradients still
    flow to the *input*.
    """

    def __init__(self, n_layers: int = VGG19_RELU3_2) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for v in _CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c_in, int(v), 3, padding=1), nn.ReLU(inplace=True)]
                c_in = int(v)
        self.features = nn.Sequential(*layers[:n_layers])
        # Map [-1, 1] straight to ImageNet-normalised input: (x+1)/2 - mean) / std = x*a + b.
        mean = torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1)
        self.register_buffer("scale", 0.5 / std, persistent=False)
        self.register_buffer("shift", (0.5 - mean) / std, persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> VGGFeatures:  # noqa: ARG002 - always inference behaviour
        """VGG has no train-mode behaviour worth having; stay in eval mode."""
        return super().train(False)

    def load_vgg_state_dict(self, state: Mapping[str, Any]) -> VGGFeatures:
        """Load torchvision ``vgg19`` weights (``features.N.*`` keys; the classifier is ignored).

        Raises:
            ValueError: a needed layer is missing or has the wrong shape.
        """
        own = self.state_dict()
        picked = {k: v for k, v in state.items() if k in own}
        missing = sorted(set(own) - set(picked))
        if missing:
            raise ValueError(f"not VGG19 weights: missing {', '.join(missing[:3])}")
        for k, v in picked.items():
            if tuple(v.shape) != tuple(own[k].shape):
                raise ValueError(f"not VGG19 weights: {k} has shape {tuple(v.shape)}, expected "
                                 f"{tuple(own[k].shape)}")
        self.load_state_dict(picked)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x * self.scale + self.shift)


def vgg19_relu3_2() -> VGGFeatures:
    """A random-init VGG19 prefix up to relu3_2 (load weights with ``load_vgg_state_dict``)."""
    return VGGFeatures()


def vgg19_relu5_4() -> VGGFeatures:
    """A random-init VGG19 prefix up to relu5_4 (PyNET's content layer)."""
    return VGGFeatures(VGG19_RELU5_4)
