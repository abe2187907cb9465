"""``gan-bokeh demo``: the whole product on a built-in demonstration set, offline, on a CPU.

* :mod:`gan_bokeh.demo.data` builds the demonstration dataset from photos that installed packages ship
  (scikit-image's bundled samples, matplotlib's Grace Hopper portrait) — nothing is downloaded.
* :mod:`gan_bokeh.demo.pipeline` runs the stages (photos → masks → dataset → train the paper's four
  variants → generate → render baselines → evaluate → compare) with resumable stage markers.
"""

from __future__ import annotations

__all__ = ["data", "pipeline"]
