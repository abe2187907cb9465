#!/usr/bin/env python
"""Leave-one-out fit of the ``layers`` renderer against real f/16 → f/1.8 pairs (``shared/data/vabm``).

For each pair, the setting (strength, blur curve, kernel softness, highlight restoration, matting, feather)
with the best mean gain-fitted PSNR on the *other* pairs is chosen and the held-out pair is scored under
it; the table lists which pairs fitted each score. References: the unmodified input, the paper's Gaussian
baseline and a naive six-bucket depth blur (best of three strengths). Prints Markdown::

    OMP_NUM_THREADS=1 .venv/bin/python scripts/fit_render_optics.py [--data ../shared/data] [--quick]
"""

from __future__ import annotations

import argparse
import collections
import logging
import time
from pathlib import Path

import numpy as np


def main() -> None:
    from gan_bokeh.render.calibrate import (
        baseline_scores,
        layers_grid,
        leave_one_out,
        load_vabm_pairs,
        render_layers_pair,
        score_grid,
    )

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--width", type=int, default=768)
    ap.add_argument("--quick", action="store_true", help="fit the strength only (the test suite's grid)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    t0 = time.perf_counter()
    pairs = load_vabm_pairs(args.data, args.width)
    names = [p.name for p in pairs]
    grid = layers_grid(full=not args.quick)
    scores = score_grid(pairs, grid, render_layers_pair)
    labels = list(grid)
    chosen, held = leave_one_out(scores)
    print(f"{len(pairs)} pairs at {args.width} px, {len(grid)} candidate settings, "
          f"{time.perf_counter() - t0:.0f} s\n")
    print("| scored pair | fitted on | chosen setting | layers PSNR / SSIM (held out) |")
    print("|---|---|---|---|")
    for j, name in enumerate(names):
        others = ", ".join(n for k, n in enumerate(names) if k != j)
        print(f"| {name} | {others} | {labels[chosen[j]]} | {held[j, 0]:.2f} / {held[j, 1]:.3f} |")
    rows = {"layers, leave-one-out": held, **baseline_scores(pairs)}
    best_all = int(np.argmax(scores[:, :, 0].mean(axis=1)))
    rows[f"layers, fitted on all six (not held out): {labels[best_all]}"] = scores[best_all]
    print("\n| method | " + " | ".join(names) + " | mean PSNR | mean SSIM |")
    print("|---|" + "---|" * (len(names) + 2))
    for label, r in rows.items():
        cells = " | ".join(f"{a:.2f} / {b:.3f}" for a, b in r)
        print(f"| {label} | {cells} | {r[:, 0].mean():.2f} | {r[:, 1].mean():.4f} |")
    print("\nsettings chosen across folds:", dict(collections.Counter(labels[c] for c in chosen)))


if __name__ == "__main__":
    main()
