"""Depth Anything V2 (Small, Apache-2.0) through Hugging Face ``transformers``.

Weights, in this order: ``--depth-weights DIR`` (a folder holding ``config.json`` and the weights, as
written by ``save_pretrained`` or a Hugging Face snapshot) → the Hugging Face cache (``HF_HOME``) → a
download of :data:`DEPTH_ANYTHING_MODEL` when huggingface.co is reachable. The network predicts relative
inverse depth; :func:`gan_bokeh.depth.files.inverse_depth_to_depth` converts it.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import socket
from pathlib import Path
from typing import Any

import numpy as np

from gan_bokeh.errors import MissingDependencyError, UserError, WeightsUnavailableError, first_line

#: Hugging Face model id of the default checkpoint.
DEPTH_ANYTHING_MODEL = "depth-anything/Depth-Anything-V2-Small-hf"
#: Network input: short side resized to this (a multiple of the ViT patch, 14), as the model card does.
INPUT_SIZE = 518
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)
_EXTRA = "pip install 'gan-bokeh[depth]'"


def _require_transformers() -> None:
    if importlib.util.find_spec("transformers") is None:
        raise MissingDependencyError(f"Depth Anything needs the Python package transformers: {_EXTRA}")


def hub_reachable(host: str = "huggingface.co", timeout: float = 3.0) -> bool:
    """True when a TCP connection to ``host:443`` opens (a quick probe: the hub client itself retries
    for ~25 s before failing offline). ``HF_HUB_OFFLINE=1`` counts as unreachable."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0"):
        return False
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def _hf_cache() -> str:
    from huggingface_hub.constants import HF_HUB_CACHE

    return str(HF_HUB_CACHE)


def _from_pretrained(source: str, **kwargs: Any) -> Any:
    from transformers import AutoModelForDepthEstimation

    return AutoModelForDepthEstimation.from_pretrained(source, **kwargs)


@functools.lru_cache(maxsize=2)
def load_depth_anything(weights: str | None = None, *, download: bool = True) -> Any:
    """The Depth Anything V2 model (eval mode, CPU), cached per process.

    Args:
        weights: a local folder (or a file inside one) with ``config.json`` and the weights; ``None``:
            the Hugging Face cache, then a download.
        download: allow the download when nothing is cached.

    Raises:
        MissingDependencyError: ``transformers`` is not installed.
        UserError: ``weights`` is missing or not a model folder.
        WeightsUnavailableError: nothing given or cached, and no network (or ``download=False``).
    """
    _require_transformers()
    if weights is not None:
        p = Path(weights)
        folder = p.parent if p.is_file() else p
        if not (folder / "config.json").is_file():
            raise UserError(f"{p}: --depth-weights expects a folder with config.json and model.safetensors "
                            f"(a save_pretrained or Hugging Face snapshot of {DEPTH_ANYTHING_MODEL})")
        try:
            return _from_pretrained(str(folder), local_files_only=True).eval()
        except (OSError, ValueError) as err:
            raise UserError(f"{folder}: cannot load Depth Anything weights ({first_line(err)})") from None
    try:
        return _from_pretrained(DEPTH_ANYTHING_MODEL, local_files_only=True).eval()
    except OSError:
        pass  # not in the cache
    hint = (f"run once with internet to fill the Hugging Face cache {_hf_cache()}, or pass --depth-weights DIR "
            f"(a download of {DEPTH_ANYTHING_MODEL}), or --depth FILE")
    if not download:
        raise WeightsUnavailableError(f"Depth Anything V2 weights are not cached; {hint}")
    if not hub_reachable():
        raise WeightsUnavailableError(f"Depth Anything V2 weights are not cached and huggingface.co is "
                                      f"unreachable (offline); {hint}")
    try:
        return _from_pretrained(DEPTH_ANYTHING_MODEL).eval()
    except OSError as err:  # transformers reports HTTP/connection failures as OSError
        raise WeightsUnavailableError(f"Depth Anything V2 weights could not be downloaded "
                                      f"({first_line(err)}); {hint}") from None


def network_size(h: int, w: int, input_size: int = INPUT_SIZE, multiple: int = 14) -> tuple[int, int]:
    """``(h', w')``: short side ≈ ``input_size``, aspect kept, both multiples of the patch size."""
    s = input_size / min(h, w)
    return (max(multiple, int(round(h * s / multiple)) * multiple),
            max(multiple, int(round(w * s / multiple)) * multiple))


def predict_inverse_depth(model: Any, image: np.ndarray, *, input_size: int = INPUT_SIZE,
                          device: Any = None) -> np.ndarray:
    """Raw relative inverse depth (larger = nearer) at the image's size.

    Args:
        model: a ``DepthAnythingForDepthEstimation`` (any size; a random-init one in tests).
        image: ``(H, W, 3)`` float [0, 1].
        input_size: short side fed to the network.
        device: torch device (default: CUDA if present).

    Returns:
        ``float32 (H, W)``.
    """
    import torch

    from gan_bokeh.io import resize_image
    from gan_bokeh.runtime import pick_device

    h, w = image.shape[:2]
    nh, nw = network_size(h, w, input_size)
    x = resize_image(np.asarray(image, np.float32), (nh, nw), up="linear")
    x = (x - np.asarray(_MEAN, np.float32)) / np.asarray(_STD, np.float32)
    dev = pick_device(device)
    model = model.to(dev)
    with torch.inference_mode():
        t = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None].to(dev)
        pred = model(pixel_values=t).predicted_depth  # (1, nh, nw)
    pred = pred.reshape(pred.shape[-2:]).float().cpu().numpy()
    return resize_image(pred, (h, w), up="linear").astype(np.float32)


def estimate_depth_anything(image: np.ndarray, *, weights: str | os.PathLike[str] | None = None,
                            device: Any = None, download: bool = True, model: Any = None) -> np.ndarray:
    """Depth of an RGB image with Depth Anything V2.

    Args:
        image: ``(H, W, 3)`` float [0, 1].
        weights: see :func:`load_depth_anything`.
        device: torch device (default: CUDA if present).
        download: allow a download when nothing is given or cached.
        model: an already built model (skips loading; tests pass a random-init one).

    Returns:
        ``float32 (H, W)``, 0 = near … 1 = far, linear in disparity.
    """
    from gan_bokeh.depth.files import inverse_depth_to_depth

    if model is None:
        model = load_depth_anything(None if weights is None else str(weights), download=download)
    return inverse_depth_to_depth(predict_inverse_depth(model, image, device=device))
