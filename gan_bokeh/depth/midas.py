"""MiDaS monocular depth through ``torch.hub`` (needs internet once; cached afterwards).

The hub repository is pinned to a release tag (:data:`MIDAS_REPO`), so the code that runs is the code
this module was written against. That code imports ``timm``: install it with
``pip install 'gan-bokeh[depth]'``. A failure is reported as one of three errors, each with its fix:

* :class:`~gan_bokeh.errors.MissingDependencyError` — ``timm`` (or another import of the hub code) missing;
* :class:`~gan_bokeh.errors.WeightsUnavailableError` — nothing cached in ``torch.hub.get_dir()`` and no
  network;
* :class:`~gan_bokeh.errors.RemoteCodeError` — the cached/downloaded hub code raised something else.
"""

from __future__ import annotations

import functools
import importlib.util
import socket
import urllib.error
from typing import Any

import numpy as np

from gan_bokeh.errors import MissingDependencyError, RemoteCodeError, WeightsUnavailableError, first_line

#: torch.hub entry points of the MiDaS repository and the input transform each expects.
MIDAS_MODELS = {"MiDaS_small": "small_transform", "DPT_Hybrid": "dpt_transform", "DPT_Large": "dpt_transform"}
#: ``owner/repo:tag`` — MiDaS v3.1, the last release (December 2022).
MIDAS_REPO = "intel-isl/MiDaS:v3_1"
#: Python packages the hub code imports beyond torch (and the extra that installs them).
MIDAS_REQUIRES = ("timm",)
DEPTH_EXTRA = "pip install 'gan-bokeh[depth]'"
# Errors that mean "could not reach the network" (torch.hub raises these while fetching code or weights).
_NETWORK_ERRORS = (urllib.error.URLError, ConnectionError, socket.timeout, socket.gaierror, TimeoutError)


def _hub_cache() -> str:
    import torch.hub

    return torch.hub.get_dir()


def check_midas_dependencies() -> None:
    """Raise :class:`MissingDependencyError` unless every package of :data:`MIDAS_REQUIRES` imports."""
    missing = [m for m in MIDAS_REQUIRES if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingDependencyError(f"MiDaS needs the Python package {', '.join(missing)}: {DEPTH_EXTRA}")


def _hub_load(model: str) -> tuple[Any, Any]:  # pragma: no cover - needs internet or a filled hub cache
    import torch

    net = torch.hub.load(MIDAS_REPO, model, trust_repo=True)
    transforms = torch.hub.load(MIDAS_REPO, "transforms", trust_repo=True)
    return net.eval(), getattr(transforms, MIDAS_MODELS[model])


@functools.lru_cache(maxsize=2)
def load_midas(model: str = "MiDaS_small") -> tuple[Any, Any]:
    """``(network in eval mode, input transform)`` for a key of :data:`MIDAS_MODELS`, cached per process.

    Raises:
        MissingDependencyError: ``timm`` (or another module the hub code imports) is not installed.
        WeightsUnavailableError: neither code nor weights are cached and the network is unreachable.
        RemoteCodeError: the hub code failed in any other way.
    """
    if model not in MIDAS_MODELS:
        raise ValueError(f"unknown MiDaS model {model!r}; choose from {sorted(MIDAS_MODELS)}")
    check_midas_dependencies()
    try:
        return _hub_load(model)
    except ModuleNotFoundError as err:
        raise MissingDependencyError(
            f"MiDaS hub code ({MIDAS_REPO}) needs the Python package {err.name}: {DEPTH_EXTRA}") from None
    except _NETWORK_ERRORS as err:
        raise WeightsUnavailableError(
            f"MiDaS ({model}) is not cached in {_hub_cache()} and cannot be downloaded ({first_line(err)}); "
            "run once with internet, or use --depth-backend depth-anything with --depth-weights DIR, "
            "or --depth FILE") from None
    except Exception as err:  # noqa: BLE001 - remote code can raise anything; reported as such, not as offline
        raise RemoteCodeError(
            f"MiDaS hub code {MIDAS_REPO} failed ({type(err).__name__}: {first_line(err)}); delete "
            f"{_hub_cache()}/intel-isl_MiDaS_v3_1 to fetch it again, or use --depth-backend depth-anything"
        ) from None


def estimate_depth_midas(image: np.ndarray, *, model: str = "MiDaS_small", device: str | None = None) -> np.ndarray:
    """Relative depth of an RGB image with MiDaS.

    Args:
        image: ``(H, W, 3)`` float [0, 1].
        model: a key of :data:`MIDAS_MODELS`.
        device: torch device name (default: CUDA if present).

    Returns:
        ``float32 (H, W)``, 0 = near … 1 = far, linear in disparity (MiDaS predicts relative inverse
        depth; converted by :func:`gan_bokeh.depth.files.inverse_depth_to_depth`).

    Raises:
        MissingDependencyError, WeightsUnavailableError, RemoteCodeError: see :func:`load_midas`.
    """
    import torch

    from gan_bokeh.depth.files import inverse_depth_to_depth
    from gan_bokeh.runtime import pick_device

    net, transform = load_midas(model)
    dev = pick_device(device)
    net = net.to(dev)
    rgb8 = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
    with torch.no_grad():
        batch = transform(rgb8).to(dev)
        pred = net(batch)
        pred = torch.nn.functional.interpolate(pred.unsqueeze(1), size=image.shape[:2], mode="bicubic",
                                               align_corners=False).squeeze()
    return inverse_depth_to_depth(pred.cpu().numpy())
