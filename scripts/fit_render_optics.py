#!/usr/bin/env python
"""Leave-one-out fit of the ``layers`` renderer against real f/16 → f/1.8 pairs (``shared/data/vabm``).

For each pair, the setting (strength, blur curve, kernel softness, highlight restoration, matting, feather)
with the best mean gain-fitted PSNR on the *other* pairs is chosen and the held-out pair is scored under
it; the table lists which pairs fitted each score. References: the unmodified input, the paper's Gaussian
baseline and a naive six-bucket depth blur (best of three strengths, chosen leave-one-out like ``layers``,
on the scored pairs themselves, and per pair). Prints Markdown::

    OMP_NUM_THREADS=1 .venv/bin/python scripts/fit_render_optics.py [--data ../shared/data] [--quick]
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path


def main() -> None:
    from gan_bokeh.render.calibrate import layers_grid, load_vabm_pairs, loo_report

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--width", type=int, default=768)
    ap.add_argument("--quick", action="store_true", help="fit the strength only (the test suite's grid)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    t0 = time.perf_counter()
    pairs = load_vabm_pairs(args.data, args.width)
    grid = layers_grid(full=not args.quick)
    table, _ = loo_report(pairs, grid)
    print(f"{len(pairs)} pairs at {args.width} px, {len(grid)} candidate settings, "
          f"{time.perf_counter() - t0:.0f} s\n")
    print(table)


if __name__ == "__main__":
    main()
