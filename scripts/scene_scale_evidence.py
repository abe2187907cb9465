#!/usr/bin/env python
"""How much each real scene blurs as the aperture opens: evidence for why no single ``layers`` strength fits.

The depth maps of ``shared/data/vabm`` are normalised per image, so they say where a pixel lies between
the nearest and the farthest point of *its* scene, not how far that is: the blur a real f/1.8 lens gives
each scene cannot be read from them. The VABD scenes were also shot at f/8 and f/2.8; the edge blur of
their background (pixels far from the focal plane) against their in-focus subject
(:func:`gan_bokeh.render.calibrate.edge_blur`) shows how differently the scenes respond to the same
f-number. The last column is the ``layers`` strength each f/1.8 photo is best matched by — an oracle, for
description only; nothing here is fitted. Prints Markdown::

    .venv/bin/python scripts/scene_scale_evidence.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

APERTURES = ("16", "8", "2_8", "1_8")


def main() -> None:
    import cv2

    from gan_bokeh.depth import load_depth, resize_depth
    from gan_bokeh.io import read_image, read_mask
    from gan_bokeh.render.calibrate import LAYERS_STRENGTHS, edge_blur, load_vabm_pairs, render_layers_pair, scores

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    args = ap.parse_args()
    vabd = args.data / "vabm" / "VABD" / "train"
    best = {p.name: LAYERS_STRENGTHS[int(np.argmax([scores(render_layers_pair(p, {"aperture": a}), p.target)[0]
                                                    for a in LAYERS_STRENGTHS]))]
            for p in load_vabm_pairs(args.data, 768) if p.name.startswith("VABD")}
    print("| scene | " + " | ".join(f"f/{a.replace('_', '.')} subject / background σ" for a in APERTURES)
          + " | best `layers` aperture at f/1.8 (oracle) |")
    print("|---|" + "---|" * (len(APERTURES) + 1))
    for inp in sorted((vabd / "input").glob("*.JPG")):
        mask = read_mask(vabd / "focal" / f"{inp.stem}.png") > 0.5
        depth = resize_depth(load_depth(vabd / "depth" / f"{inp.stem}.png", colormap="Spectral"), mask.shape)
        focus = float(np.median(depth[mask]))
        near_subject = cv2.dilate(mask.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
        background = ~near_subject & (np.abs(depth - focus) > 0.5)
        cells = []
        for a in APERTURES:
            photo = read_image(inp if a == "16" else vabd / a / inp.name)
            (s_subj, _), (s_bg, _) = edge_blur(photo, mask), edge_blur(photo, background)
            cells.append(f"{s_subj:.2f} / {s_bg:.2f}")
        print(f"| VABD {inp.stem} | " + " | ".join(cells) + f" | {best[f'VABD {inp.stem}']} |")


if __name__ == "__main__":
    main()
