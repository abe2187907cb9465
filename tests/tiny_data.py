"""A tiny unpaired dataset for training tests: RGBA photos (alpha = a rectangular subject mask)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gan_bokeh.io import write_rgba


def make_unpaired_dataset(root: Path, n: int = 3) -> Path:
    """``root/trainA`` and ``root/trainB`` with ``n`` random 40×44 RGBA photos each."""
    rng = np.random.default_rng(0)
    for dom in "AB":
        d = root / f"train{dom}"
        d.mkdir(parents=True)
        for i in range(n):
            mask = np.zeros((40, 44), np.float32)
            mask[8:32, 12:30] = 1
            write_rgba(d / f"{dom}{i}.png", rng.random((40, 44, 3)).astype(np.float32), mask)
    return root
