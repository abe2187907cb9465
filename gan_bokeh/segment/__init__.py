"""Subject segmentation: a registry of segmenters (person: DeepLabV3, the paper's choice, or an offline
MediaPipe selfie model; any salient subject: U²-Net).

Public API (cross-room contract)::

    SEGMENTERS["u2net"].summary  # the registry: name → SegmenterSpec (feeds --backend and the docs)
    seg = get_segmenter("auto" | "deeplab" | "selfie" | "u2net", weights=None, device=None, **opts)
    seg.name            # backend name stored in output metadata
    mask = seg(image)   # image float32 (H, W, 3) [0, 1] → mask float32 (H, W) [0, 1]
    refine_mask(mask, ...); select_main_subject(mask, depth=None, mode=None)

Heavy imports (torch, torchvision, ai_edge_litert) happen inside the factories.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gan_bokeh.errors import UserError
from gan_bokeh.segment.base import Segmenter
from gan_bokeh.segment.refine import MAIN_SUBJECT_MODES, mask_iou, refine_mask, select_main_subject

__all__ = [
    "BACKENDS", "DEEPLAB_ARCHS", "MAIN_SUBJECT_MODES", "SEGMENTERS", "Segmenter", "SegmenterSpec",
    "LazySegmenter", "deeplab_available", "get_segmenter", "mask_iou", "refine_mask", "select_main_subject",
]

log = logging.getLogger(__name__)

DEEPLAB_ARCHS = ("resnet101", "resnet50", "mobilenet_v3")


def _is_tflite(path: str | os.PathLike[str] | None) -> bool:
    return path is not None and Path(path).suffix.lower() == ".tflite"


def deeplab_available(arch: str = "resnet101", weights: str | os.PathLike[str] | None = None) -> bool:
    """True when DeepLab weights are given (non-``.tflite`` file) or already in the torch hub cache."""
    from gan_bokeh.segment.deeplab import deeplab_weights_url
    from gan_bokeh.weights import weights_available

    if weights is not None:
        return not _is_tflite(weights) and Path(weights).is_file()
    return weights_available(deeplab_weights_url(arch))


def _deeplab(weights: Any, device: Any, arch: str = "resnet101", short_side: int = 520,
             download: bool = True) -> Segmenter:
    from gan_bokeh.runtime import pick_device
    from gan_bokeh.segment.deeplab import DeepLabSegmenter, deeplab_weights_url
    from gan_bokeh.weights import resolve_weights

    if _is_tflite(weights):
        raise UserError(f"{weights}: a .tflite file is a selfie model; use --backend selfie")
    state = resolve_weights(deeplab_weights_url(arch), what=f"DeepLabV3-{arch} weights", flag="--weights",
                            path=weights, download=download)
    dev = pick_device(device)
    return DeepLabSegmenter(arch, state, device=dev, short_side=short_side)


def _selfie(weights: Any, download: bool = True, num_threads: int | None = None, **options: Any) -> Segmenter:
    from gan_bokeh.segment.model_files import selfie_model_path
    from gan_bokeh.segment.selfie import SelfieOptions, SelfieSegmenter

    try:
        opts = SelfieOptions(**options)
        opts.validate()
    except (TypeError, ValueError) as err:
        raise UserError(f"selfie options: {err}") from None
    return SelfieSegmenter(selfie_model_path(weights, download=download), opts, num_threads=num_threads)


def _u2net(weights: Any, device: Any, variant: str = "u2net", size: int = 320,
           download: bool = True) -> Segmenter:
    from gan_bokeh.runtime import pick_device
    from gan_bokeh.segment.u2net import U2NET_URLS, U2NetSegmenter, check_variant
    from gan_bokeh.weights import resolve_weights

    if _is_tflite(weights):
        raise UserError(f"{weights}: a .tflite file is a selfie model; use --backend selfie")
    check_variant(variant)  # before any download (building the net here would build it twice)
    state = resolve_weights(U2NET_URLS[variant], what=f"U²-Net ({variant}) weights", flag="--weights",
                            path=weights, download=download)
    dev = pick_device(device)
    return U2NetSegmenter(variant, state, device=dev, size=size)


@dataclass(frozen=True)
class SegmenterSpec:
    """One segmenter backend.

    Attributes:
        name: registry key (``--backend`` choice).
        subject: what it finds: ``"person"`` or ``"salient object"`` (any kind of subject).
        summary: one line for docs and ``--help``.
        options: keyword options the factory accepts (others given to :func:`get_segmenter` are ignored,
            so one CLI can pass every backend's options); ``None``: every option no other backend claims
            (the factory validates them itself).
        factory: ``(weights, device, **options) → Segmenter``.
    """

    name: str
    subject: str
    summary: str
    options: frozenset[str] | None
    factory: Callable[..., Segmenter]


def _selfie_factory(weights: Any, device: Any, **options: Any) -> Segmenter:
    return _selfie(weights, **options)


SEGMENTERS: dict[str, SegmenterSpec] = {s.name: s for s in (
    SegmenterSpec("deeplab", "person", "DeepLabV3 person class (the paper's segmenter; torchvision weights)",
                  frozenset({"arch", "short_side", "download"}), _deeplab),
    SegmenterSpec("selfie", "person", "MediaPipe selfie segmentation (.tflite, offline after one PyPI fetch)",
                  None, _selfie_factory),
    SegmenterSpec("u2net", "salient object", "U²-Net salient object (any subject, not only people)",
                  frozenset({"variant", "size", "download"}), _u2net),
)}
#: ``--backend`` choices: ``auto`` then the registry.
BACKENDS: tuple[str, ...] = ("auto", *SEGMENTERS)


def get_segmenter(backend: str = "auto", weights: str | os.PathLike[str] | None = None, device: Any = None,
                  **opts: Any) -> Segmenter:
    """Build a segmenter from :data:`SEGMENTERS`.

    Args:
        backend: a key of :data:`SEGMENTERS`, or ``"auto"`` (DeepLab when its weights are given or
            cached, else selfie; the choice is logged and available as ``.name``).
        weights: a local weights file: a DeepLab or U²-Net state dict (``.pt``/``.pth``/``.safetensors``)
            or a selfie ``.tflite``.
        device: torch device (DeepLab, U²-Net; ``None`` = CUDA if present, else CPU).
        **opts: backend options, each backend taking those in its :attr:`SegmenterSpec.options`.
            DeepLab: ``arch`` (``resnet101``/``resnet50``/``mobilenet_v3``), ``short_side``, ``download``.
            Selfie: the fields of :class:`~gan_bokeh.segment.selfie.SelfieOptions`, ``download``,
            ``num_threads``. U²-Net: ``variant`` (``u2net``/``u2netp``), ``size``, ``download``.

    Raises:
        WeightsUnavailableError: the backend's model is neither given, cached nor downloadable.
        UserError: unknown backend/option or a bad weights file.
    """
    if backend not in BACKENDS:
        raise UserError(f"--backend {backend}: unknown; choose from {', '.join(BACKENDS)}")
    if backend == "auto":
        arch = opts.get("arch", "resnet101")
        if not _is_tflite(weights) and deeplab_available(arch, weights):
            backend = "deeplab"
        else:
            backend = "selfie"
            if weights is not None and not _is_tflite(weights):
                raise UserError(f"{weights}: weights file not found")
        log.info("segmentation backend: %s (auto)", backend)
    spec = SEGMENTERS[backend]
    if spec.options is None:
        claimed = set().union(*(s.options for s in SEGMENTERS.values() if s.options is not None)) - {"download"}
        chosen = {k: v for k, v in opts.items() if k not in claimed}
    else:
        chosen = {k: v for k, v in opts.items() if k in spec.options}
    return spec.factory(weights, device, **chosen)


class LazySegmenter:
    """A segmenter built on first use, for jobs that only need one when a photo has no mask.

    When it cannot be built here (no weights offline, a missing package, a bad option) the one-line
    reason is kept in :attr:`error`, ``on_unavailable(reason)`` is called once (warn, note it, or raise to
    make masks required) and every later call returns ``None`` without trying again.

    Args:
        backend, device: as :func:`get_segmenter`.
        on_unavailable: called once with the reason; ``None``: log a warning.
    """

    def __init__(self, backend: str = "auto", device: Any = None,
                 on_unavailable: Callable[[str], None] | None = None) -> None:
        self.backend, self.device = backend, device
        self.on_unavailable = on_unavailable
        self.error: str | None = None
        self._segmenter: Segmenter | None = None

    @property
    def name(self) -> str:
        """The backend actually built (``auto`` resolves on first use)."""
        return self._segmenter.name if self._segmenter is not None else self.backend

    def __call__(self, image: Any) -> Any:
        """``(H, W)`` float32 mask in [0, 1] of an ``(H, W, 3)`` image, or ``None`` when unavailable."""
        import numpy as np

        if self.error is not None:
            return None
        if self._segmenter is None:
            try:
                self._segmenter = get_segmenter(self.backend, device=self.device)
            except (ImportError, UserError) as err:  # BackendUnavailableError is a UserError
                self.error = str(err)
                if self.on_unavailable is None:
                    log.warning("no segmenter: %s", self.error)
                else:
                    self.on_unavailable(self.error)
                return None
        return np.clip(self._segmenter(image), 0.0, 1.0).astype(np.float32)
