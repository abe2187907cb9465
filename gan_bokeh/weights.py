"""Pretrained-weight resolution, kept out of the model constructors.

Order: an explicit file (``--weights PATH``) → the torch hub cache → a download (users with internet).
Offline with nothing cached raises :class:`~gan_bokeh.errors.WeightsUnavailableError` whose one-line
message names the cache file to fill, the URL to fetch it from and the flag that takes a local file.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from gan_bokeh.errors import UserError, WeightsUnavailableError, first_line

logger = logging.getLogger(__name__)

__all__ = ["cache_path_for_url", "load_state_dict_file", "resolve_weights", "weights_available"]


def cache_path_for_url(url: str) -> Path:
    """Where torch.hub / torchvision keep a downloaded checkpoint: ``$TORCH_HOME/hub/checkpoints/<file>``."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)


def torch_load_reason(err: BaseException) -> str:
    """A short reason for a failed ``torch.load(..., weights_only=True)`` (its own message is a paragraph
    about PyTorch 2.6 defaults; a zero-byte file gives an ``EOFError`` without any text)."""
    if isinstance(err, EOFError):
        return "empty or truncated file"
    line = first_line(err)
    # A cut-off zip archive surfaces as EINVAL from a seek or as a zip-reader message.
    if (isinstance(err, OSError) and err.errno == 22) or "PytorchStreamReader" in line or "zip archive" in line:
        return "truncated or corrupt file"
    if line.startswith("Weights only load failed"):
        return "not a PyTorch tensor file, or one whose loading would run code"
    return line


def load_state_dict_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a state dict from ``.pt/.pth`` (``weights_only=True``) or ``.safetensors``."""
    import torch

    p = Path(path)
    if not p.is_file():
        raise UserError(f"{p}: weights file not found")
    try:
        if p.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(p))
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - corrupt/unsafe files raise many types
        raise UserError(f"{p}: cannot load weights ({torch_load_reason(err)}); pass a .pt/.pth state dict or "
                        ".safetensors file") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise UserError(f"{p}: expected a state dict of tensors")
    return state


def weights_available(url: str, path: str | os.PathLike[str] | None = None) -> bool:
    """True when :func:`resolve_weights` would succeed without a download."""
    return (path is not None and Path(path).is_file()) or cache_path_for_url(url).is_file()


def resolve_weights(url: str, *, what: str, flag: str, path: str | os.PathLike[str] | None = None,
                    download: bool = True) -> dict[str, Any]:
    """Return a state dict for ``url`` from ``path``, the cache, or a download.

    Args:
        url: the official download URL (e.g. ``torchvision.models.VGG19_Weights.IMAGENET1K_V1.url``).
        what: human name for messages ("VGG19 ImageNet weights").
        flag: the CLI flag that takes a local file ("--vgg-weights").
        path: explicit local file; wins over everything.
        download: allow a network download when the cache is empty.

    Raises:
        WeightsUnavailableError: nothing cached and the download failed or was not allowed.
    """
    if path is not None:
        return load_state_dict_file(path)
    cached = cache_path_for_url(url)
    if cached.is_file():
        return load_state_dict_file(cached)
    hint = f"download {url} to {cached}, or pass {flag} PATH"
    if not download:
        raise WeightsUnavailableError(f"{what} are not cached at {cached}; {hint}")
    import torch.hub

    # torchvision file names carry the first hex digits of the SHA-256 ("vgg19-dcbb9e9d.pth").
    match = re.search(r"-([a-f0-9]{6,})\.", cached.name)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        logger.debug("downloading %s to %s", url, cached)
        torch.hub.download_url_to_file(url, str(cached), hash_prefix=match.group(1) if match else None,
                                       progress=True)
    except Exception as err:  # noqa: BLE001 - URLError, socket errors, HTTP errors, hash mismatch
        reason = first_line(err)
        raise WeightsUnavailableError(f"{what} could not be downloaded ({reason}); {hint}") from None
    return load_state_dict_file(cached)
