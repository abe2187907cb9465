"""LPIPS (Zhang et al., "The Unreasonable Effectiveness of Deep Features as a Perceptual Metric", CVPR 2018)
against paired targets, through torchmetrics (AlexNet backbone, the LPIPS authors' default).

torchmetrics ships the learned linear layers; the AlexNet ImageNet backbone comes from torchvision's cache or a
download. Offline with an empty cache, :func:`load_lpips` raises a one-line
:class:`~gan_bokeh.errors.WeightsUnavailableError` and ``evaluate`` reports the other metrics.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["load_lpips", "lpips_distance", "LPIPS_MAX_SIDE"]

#: Images are compared at most this long side (area-downscaled): LPIPS is a perceptual patch metric and a 12 MP
#: AlexNet pass is slow on a CPU; EBB!'s test photos (1024 px high) are compared at 1536 px, i.e. as stored.
LPIPS_MAX_SIDE = 1536


def load_lpips(device: Any = "cpu") -> torch.nn.Module:
    """The LPIPS (AlexNet) metric module on ``device``, eval mode.

    Raises:
        WeightsUnavailableError: AlexNet ImageNet weights neither cached nor downloadable.
    """
    from torchmetrics.image.lpip import LearnedPerceptualImagePatchSimilarity
    from torchvision.models import AlexNet_Weights

    from gan_bokeh.errors import WeightsUnavailableError
    from gan_bokeh.weights import cache_path_for_url, resolve_weights

    # Make sure torchvision's cache holds the backbone first: a clear offline message instead of torch's.
    url = AlexNet_Weights.IMAGENET1K_V1.url
    try:
        resolve_weights(url, what="AlexNet ImageNet weights for LPIPS", flag="--lpips-weights")
    except WeightsUnavailableError:
        raise WeightsUnavailableError(f"AlexNet ImageNet weights (LPIPS backbone) unavailable offline; download "
                                      f"{url} to {cache_path_for_url(url)}") from None
    return LearnedPerceptualImagePatchSimilarity(net_type="alex", normalize=True).to(device).eval()


def lpips_distance(model: torch.nn.Module, pred: np.ndarray, target: np.ndarray) -> float:
    """LPIPS between two same-shape ``(H, W, 3)`` [0, 1] images (lower = more alike)."""
    from gan_bokeh.io import resize_image

    h, w = pred.shape[:2]
    s = min(1.0, LPIPS_MAX_SIDE / max(h, w))
    if s < 1.0:
        size = (max(1, round(h * s)), max(1, round(w * s)))
        pred, target = resize_image(pred, size), resize_image(target, size)
    dev = next(model.parameters()).device

    def t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(np.clip(a, 0, 1).transpose(2, 0, 1)))[None].float().to(dev)

    with torch.inference_mode():
        return float(model(t(pred), t(target)))
