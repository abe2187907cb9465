"""The depth-backend registry and :func:`estimate_depth`, the one entry point every command uses.

``auto`` tries :data:`AUTO_ORDER`: a depth ``file`` when one is given, then the learned backends
(``depth-anything`` — preferred —, ``midas``), then the offline ``fallback`` guess that always works.
A backend that cannot run here raises :class:`~gan_bokeh.errors.BackendUnavailableError`; ``auto``
records the one-line reason in :attr:`DepthResult.notes` and moves on, and remembers the failure for the
rest of the process so a batch tries each backend once.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gan_bokeh.errors import BackendUnavailableError, UserError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DepthRequest:
    """Everything a backend may use besides the image (each backend reads what it needs)."""

    mask: np.ndarray | None = None
    weights: str | os.PathLike[str] | None = None
    path: str | os.PathLike[str] | None = None
    kind: str = "depth"
    colormap: str | None = None
    device: Any = None
    download: bool = True


@dataclass(frozen=True)
class DepthBackend:
    """One depth source.

    Attributes:
        name: registry key (``--depth-backend`` choice, recorded in metadata).
        summary: one line for docs and ``--help``.
        linear_in: what the output is linear in — ``"disparity"`` (thin-lens blur applies exactly),
            ``"depth"`` or ``"guess"``; ``"request"`` = decided by :attr:`DepthRequest.kind` (files).
        fn: ``(image (H, W, 3) float [0, 1], request) → float32 (H, W)``, 0 = near … 1 = far.
    """

    name: str
    summary: str
    linear_in: str
    fn: Callable[[np.ndarray, DepthRequest], np.ndarray]


@dataclass
class DepthResult:
    """A depth map and where it came from (for output metadata)."""

    depth: np.ndarray
    backend: str
    source: str
    linear_in: str
    notes: list[str] = field(default_factory=list)

    def metadata(self) -> dict[str, Any]:
        return {"depth_backend": self.backend, "depth_source": self.source, "depth_linear_in": self.linear_in,
                **({"depth_notes": self.notes} if self.notes else {})}


def _file(image: np.ndarray, req: DepthRequest) -> np.ndarray:
    from gan_bokeh.depth.files import load_depth

    if req.path is None:
        raise UserError("the file depth backend needs --depth FILE|DIR")
    return load_depth(req.path, kind=req.kind, colormap=req.colormap)


def _depth_anything(image: np.ndarray, req: DepthRequest) -> np.ndarray:
    from gan_bokeh.depth.depth_anything import estimate_depth_anything

    return estimate_depth_anything(image, weights=req.weights, device=req.device, download=req.download)


def _midas(image: np.ndarray, req: DepthRequest) -> np.ndarray:
    from gan_bokeh.depth.midas import estimate_depth_midas

    return estimate_depth_midas(image, device=req.device)


def _fallback(image: np.ndarray, req: DepthRequest) -> np.ndarray:
    from gan_bokeh.depth.fallback import fallback_depth

    mask = req.mask if req.mask is not None else np.zeros(image.shape[:2], np.float32)
    return fallback_depth(mask)


DEPTH_BACKENDS: dict[str, DepthBackend] = {b.name: b for b in (
    DepthBackend("file", "a depth/disparity file (--depth FILE|DIR; 16/8-bit PNG, JPEG, .npy/.npz, colour maps)",
                 "request", _file),
    DepthBackend("depth-anything", "Depth Anything V2 Small via transformers (HF cache, --depth-weights DIR, "
                 "or download)", "disparity", _depth_anything),
    DepthBackend("midas", "MiDaS_small via torch.hub (intel-isl/MiDaS:v3_1; needs timm and internet once)",
                 "disparity", _midas),
    DepthBackend("fallback", "offline guess from the subject mask: subject plane on a ground-plane ramp",
                 "guess", _fallback),
)}
#: What ``auto`` tries, in order (``file`` only when a path is given).
AUTO_ORDER: tuple[str, ...] = ("file", "depth-anything", "midas", "fallback")
#: ``--depth-backend`` choices.
DEPTH_BACKEND_CHOICES: tuple[str, ...] = ("auto", *DEPTH_BACKENDS)
_failed: dict[str, str] = {}  # backend → one-line reason, remembered per process by ``auto``


def _linear_in(backend: DepthBackend, req: DepthRequest) -> str:
    return req.kind if backend.linear_in == "request" else backend.linear_in


def estimate_depth(image: np.ndarray, *, backend: str = "auto", mask: np.ndarray | None = None,
                   weights: str | os.PathLike[str] | None = None, path: str | os.PathLike[str] | None = None,
                   kind: str = "depth", colormap: str | None = None, device: Any = None,
                   download: bool = True) -> DepthResult:
    """Depth for an image from a named backend, or the first that works (``"auto"``).

    Args:
        image: ``(H, W, 3)`` float [0, 1].
        backend: ``"auto"`` or a key of :data:`DEPTH_BACKENDS`.
        mask: ``(H, W)`` subject mask [0, 1] (the fallback stands the subject on the ground).
        weights: local weights for the learned backend (Depth Anything: a model folder).
        path: a depth file (``file`` backend; under ``auto`` it wins when given).
        kind, colormap: how to read the file (see :func:`gan_bokeh.depth.load_depth`).
        device: torch device for the learned backends.
        download: let learned backends download weights when nothing is cached.

    Returns:
        :class:`DepthResult` with ``depth`` ``float32 (H', W')`` (a file keeps its own size; estimates
        have the image's), 0 = near … 1 = far, and the backend used; ``notes`` lists the backends
        ``auto`` skipped and why.

    Raises:
        UserError: unknown backend, bad file; a named backend that cannot run raises its own
            :class:`~gan_bokeh.errors.BackendUnavailableError` (three kinds: weights, dependency, remote code).
    """
    if backend != "auto" and backend not in DEPTH_BACKENDS:
        raise UserError(f"--depth-backend {backend}: unknown; choose from {', '.join(DEPTH_BACKEND_CHOICES)}")
    req = DepthRequest(mask=mask, weights=weights, path=path, kind=kind, colormap=colormap, device=device,
                       download=download)
    if backend != "auto":
        b = DEPTH_BACKENDS[backend]
        return DepthResult(b.fn(image, req), b.name, _source(b, req), _linear_in(b, req))
    notes: list[str] = []
    for name in AUTO_ORDER:
        if name == "file" and path is None:
            continue
        if name in _failed:
            notes.append(f"{name}: {_failed[name]}")
            continue
        b = DEPTH_BACKENDS[name]
        try:
            depth = b.fn(image, req)
        except BackendUnavailableError as err:
            _failed[name] = str(err)
            log.warning("depth backend %s unavailable: %s", name, err)
            notes.append(f"{name}: {err}")
            continue
        return DepthResult(depth, b.name, _source(b, req), _linear_in(b, req), notes)
    raise AssertionError("the fallback depth backend never fails")  # pragma: no cover


def _source(b: DepthBackend, req: DepthRequest) -> str:
    if b.name == "file":
        return f"file:{req.path}"
    if b.name == "fallback":
        from gan_bokeh.depth.fallback import FALLBACK_LABEL

        return FALLBACK_LABEL
    if b.name == "depth-anything":
        from gan_bokeh.depth.depth_anything import DEPTH_ANYTHING_MODEL

        return f"depth-anything:{req.weights or DEPTH_ANYTHING_MODEL}"
    return "midas:MiDaS_small"


def forget_failures() -> None:
    """Let ``auto`` try every backend again (failures are otherwise remembered for the process)."""
    _failed.clear()
