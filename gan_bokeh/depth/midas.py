"""MiDaS monocular depth through ``torch.hub`` (needs internet once; cached afterwards)."""

from __future__ import annotations

import numpy as np

from gan_bokeh.errors import WeightsUnavailableError

#: torch.hub entry points of ``intel-isl/MiDaS`` and the input transform each expects.
MIDAS_MODELS = {"MiDaS_small": "small_transform", "DPT_Hybrid": "dpt_transform", "DPT_Large": "dpt_transform"}
MIDAS_REPO = "intel-isl/MiDaS"


def _load_midas(model: str):  # pragma: no cover - needs internet or a filled hub cache
    import torch

    net = torch.hub.load(MIDAS_REPO, model, trust_repo=True)
    transforms = torch.hub.load(MIDAS_REPO, "transforms", trust_repo=True)
    return net.eval(), getattr(transforms, MIDAS_MODELS[model])


def estimate_depth_midas(image: np.ndarray, *, model: str = "MiDaS_small", device: str | None = None) -> np.ndarray:
    """Relative depth of an RGB image with MiDaS.

    Args:
        image: ``(H, W, 3)`` float [0, 1].
        model: a key of :data:`MIDAS_MODELS`.
        device: torch device name (default: CUDA if present).

    Returns:
        ``float32 (H, W)``, 0 = near … 1 = far (MiDaS predicts inverse depth, handled as disparity).

    Raises:
        WeightsUnavailableError: the model is neither cached in ``torch.hub.get_dir()`` nor downloadable.
    """
    import torch

    from gan_bokeh.depth.files import normalize_depth
    from gan_bokeh.runtime import pick_device

    if model not in MIDAS_MODELS:
        raise ValueError(f"unknown MiDaS model {model!r}; choose from {sorted(MIDAS_MODELS)}")
    try:
        net, transform = _load_midas(model)
    except Exception as err:  # network errors come in many types (URLError, HTTPError, OSError, ...)
        raise WeightsUnavailableError(
            f"MiDaS ({model}) is not available offline: torch.hub could not load {MIDAS_REPO} "
            f"({type(err).__name__}); run once with internet to fill the hub cache {torch.hub.get_dir()}, "
            "or pass --depth FILE") from err
    dev = pick_device(device)
    net = net.to(dev)
    rgb8 = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
    with torch.no_grad():
        batch = transform(rgb8).to(dev)
        pred = net(batch)
        pred = torch.nn.functional.interpolate(pred.unsqueeze(1), size=image.shape[:2], mode="bicubic",
                                               align_corners=False).squeeze()
    return normalize_depth(pred.cpu().numpy(), kind="disparity")
