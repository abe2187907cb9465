"""Build the four CycleGAN networks from a config, and the VGG of the mask loss with its weights."""

from __future__ import annotations

import os
from typing import Any

from torch import nn

from gan_bokeh.errors import UserError, WeightsUnavailableError
from gan_bokeh.nets import build_discriminator, build_generator
from gan_bokeh.nets.vgg import VGGFeatures, vgg19_relu3_2, vgg19_relu5_4
from gan_bokeh.train.config import ModelConfig

__all__ = ["net_archs", "build_nets", "vgg_weights_url", "build_mask_vgg", "build_content_vgg"]


def net_archs(m: ModelConfig) -> dict[str, dict[str, Any]]:
    """The ``arch`` record of a checkpoint: registry name + kwargs of G, F, D_A, D_B."""
    # extra input channels (model.inputs) go to the generators only: the discriminators judge RGB
    g = {"name": m.generator, "kwargs": {"in_channels": len(m.inputs) + 2, "ngf": m.ngf, "n_blocks": m.n_blocks,
                                         "norm": m.norm, "dropout": m.dropout, "upsample": m.upsample}}
    d = {"name": m.discriminator, "kwargs": {"ndf": m.ndf, "n_layers": m.n_layers_d, "norm": m.norm}}
    return {"G": g, "F": {**g, "kwargs": dict(g["kwargs"])}, "D_A": d, "D_B": {**d, "kwargs": dict(d["kwargs"])}}


def build_nets(archs: dict[str, dict[str, Any]]) -> dict[str, nn.Module]:
    """Instantiate G, F, D_A, D_B on CPU (call ``torch.manual_seed`` first for a reproducible init)."""
    return {
        "G": build_generator(archs["G"]["name"], **archs["G"]["kwargs"]),
        "F": build_generator(archs["F"]["name"], **archs["F"]["kwargs"]),
        "D_A": build_discriminator(archs["D_A"]["name"], **archs["D_A"]["kwargs"]),
        "D_B": build_discriminator(archs["D_B"]["name"], **archs["D_B"]["kwargs"]),
    }


def vgg_weights_url() -> str:
    """torchvision's official VGG19 ImageNet checkpoint URL."""
    from torchvision.models import VGG19_Weights

    return VGG19_Weights.IMAGENET1K_V1.url


def build_mask_vgg(path: str | os.PathLike[str] | None = None, *, download: bool = True) -> VGGFeatures:
    """VGG19 up to relu3_2 with ImageNet weights from ``path``, the torch cache, or a download.

    Raises:
        WeightsUnavailableError: offline with nothing cached (message names cache file, URL, flag).
        UserError: the file is not a VGG19 state dict.
    """
    return _build_vgg(vgg19_relu3_2(), "VGG19 ImageNet weights for the mask loss", path, download,
                      "or --set train.mask_vgg_weight=0 to train the mask loss without its VGG part")


def build_content_vgg(path: str | os.PathLike[str] | None = None, *, download: bool = True) -> VGGFeatures:
    """VGG19 up to relu5_4 (PyNET's content loss) with ImageNet weights, resolved like :func:`build_mask_vgg`."""
    return _build_vgg(vgg19_relu5_4(), "VGG19 ImageNet weights for the PyNET content loss", path, download,
                      "or --set pynet.content_weight=0 to train without the VGG content term")


def _build_vgg(net: VGGFeatures, what: str, path: str | os.PathLike[str] | None, download: bool,
               alternative: str) -> VGGFeatures:
    from gan_bokeh.weights import resolve_weights

    try:
        state = resolve_weights(vgg_weights_url(), what=what, flag="--vgg-weights", path=path, download=download)
    except WeightsUnavailableError as err:
        raise WeightsUnavailableError(f"{err} ({alternative})") from None
    try:
        return net.load_vgg_state_dict(state)
    except ValueError as err:
        raise UserError(f"{path or 'cached VGG19 weights'}: {err}") from None
