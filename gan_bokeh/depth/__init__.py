"""gan_bokeh.depth — depth sources normalised to one convention.

Inside the library a depth map is ``float32 (H, W)`` with **0 = nearest … 1 = farthest**. Every command
gets depth through :func:`estimate_depth` (``backend="auto"`` or a key of :data:`DEPTH_BACKENDS`):

* ``file`` — :func:`load_depth`: 16-bit / 8-bit PNG, JPEG, ``.npy``, ``.npz`` (``inf``/``NaN`` = unknown,
  filled from the nearest known pixel), colour-mapped visualisations (nearest-colour lookup in a named
  matplotlib colormap);
* ``depth-anything`` — Depth Anything V2 Small through ``transformers`` (preferred learned backend);
* ``midas`` — MiDaS through ``torch.hub`` (pinned release, needs ``timm`` and internet once);
* ``fallback`` — :func:`fallback_depth`, an offline guess from a subject mask.

Learned backends predict relative inverse depth; :func:`inverse_depth_to_depth` is the one conversion.
"""

from gan_bokeh.depth.fallback import fallback_depth
from gan_bokeh.depth.files import (
    DEPTH_EXTENSIONS,
    DEPTH_KINDS,
    check_colormap,
    depth_stems,
    fill_unknown,
    find_depth_file,
    inverse_depth_to_depth,
    load_depth,
    normalize_depth,
    resize_depth,
)
from gan_bokeh.depth.midas import MIDAS_MODELS, estimate_depth_midas
from gan_bokeh.depth.registry import (
    AUTO_ORDER,
    DEPTH_BACKEND_CHOICES,
    DEPTH_BACKENDS,
    DepthResult,
    estimate_depth,
)

__all__ = ["AUTO_ORDER", "DEPTH_BACKENDS", "DEPTH_BACKEND_CHOICES", "DEPTH_EXTENSIONS", "DEPTH_KINDS",
           "MIDAS_MODELS", "DepthResult", "check_colormap", "depth_stems", "estimate_depth", "estimate_depth_midas",
           "fallback_depth", "fill_unknown", "find_depth_file", "inverse_depth_to_depth", "load_depth",
           "normalize_depth", "resize_depth"]
