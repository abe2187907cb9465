"""gan_bokeh.depth — depth sources normalised to one convention.

Inside the library a depth map is ``float32 (H, W)`` with **0 = nearest … 1 = farthest**. Sources:

* :func:`load_depth` — files: 16-bit / 8-bit PNG, JPEG, ``.npy``, ``.npz`` (``inf``/``NaN`` = unknown,
  filled from the nearest known pixel), colour-mapped visualisations (nearest-colour lookup in a named
  matplotlib colormap);
* :func:`estimate_depth_midas` — MiDaS through ``torch.hub`` (needs internet once);
* :func:`fallback_depth` — offline guess from a subject mask (subject plane + ground-plane ramp).
"""

from gan_bokeh.depth.fallback import fallback_depth
from gan_bokeh.depth.files import (
    DEPTH_EXTENSIONS,
    DEPTH_KINDS,
    check_colormap,
    depth_stems,
    find_depth_file,
    load_depth,
    normalize_depth,
    resize_depth,
)
from gan_bokeh.depth.midas import MIDAS_MODELS, estimate_depth_midas

__all__ = ["DEPTH_EXTENSIONS", "DEPTH_KINDS", "MIDAS_MODELS", "check_colormap", "depth_stems",
           "estimate_depth_midas", "fallback_depth", "find_depth_file", "load_depth", "normalize_depth",
           "resize_depth"]
