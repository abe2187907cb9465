"""Renderers against real optics: f/16 inputs rendered with their depth vs the real f/1.8 photos.

``shared/data/vabm``: EBB! (``input/`` f/16, ``target/`` f/1.8) and VABD (``input/`` f/16, ``1_8/``
f/1.8), each with a Spectral-colour-mapped ``depth/`` (0 = near) and an in-focus ``focal/`` mask, at
768 px wide, focus = median depth of the focal mask. Scores are PSNR/SSIM after a least-squares
per-channel gain fit (the real pairs differ slightly in exposure); settings are fitted leave-one-out
(:mod:`gan_bokeh.render.calibrate`). Tables are printed (``pytest -s``) and written to test-artifacts.
"""

from __future__ import annotations

import numpy as np
import pytest

WIDTH = 768


@pytest.fixture(scope="module")
def pairs_f18(shared_data):
    """The six f/16 → f/1.8 pairs at working size, loaded once for the module."""
    from gan_bokeh.render.calibrate import load_vabm_pairs

    return load_vabm_pairs(shared_data, WIDTH)


def test_layers_fitted_on_other_pairs_beat_the_baselines_on_the_held_out_pair(pairs_f18, artifacts_dir):
    """Leave-one-out over the six real pairs: the ``layers`` strength (third-stop f-numbers f/1–f/4) is
    chosen on five pairs and scored on the sixth, never on a pair that chose it; the library's other
    defaults were chosen by the same procedure over a larger grid (scripts/fit_render_optics.py).

    Held out against the naive six-bucket depth blur with *its* strength (best of three) also chosen on the
    other pairs, ``layers`` must win by ≥ 0.5 dB mean gain-fitted PSNR and on SSIM (measured +0.78 dB,
    +0.006), and beat the unmodified input on both. Against references that are not fitted on other pairs —
    the paper's Gaussian (library defaults) and the naive blur with its strength chosen on the scored pairs
    themselves — it is measured ahead on PSNR (+0.3 dB) and ≈ 0.01 behind on SSIM: those lines only keep it
    from falling further (docs/rendering.md explains why no fixed strength transfers between scenes).
    Fails when the depth does not belong to the photo (flipped upside down) or the strength is ignored."""
    from gan_bokeh.render.calibrate import (
        GAUSSIAN_ROW,
        INPUT_ROW,
        LAYERS_HELD_OUT,
        NAIVE_HELD_OUT,
        NAIVE_ON_SCORED,
        layers_grid,
        loo_report,
    )

    pairs = pairs_f18
    assert len(pairs) == 6, [p.name for p in pairs]
    table, means = loo_report(pairs, layers_grid(full=False))
    table = f"layers fitted leave-one-out vs real f/1.8 ({WIDTH} px, gain-fitted PSNR / SSIM)\n\n" + table
    print("\n" + table)
    (artifacts_dir / "render_quality.md").write_text(table)
    layers, naive_held = means[LAYERS_HELD_OUT], means[NAIVE_HELD_OUT]
    naive_scored = next(v for k, v in means.items() if k.startswith(NAIVE_ON_SCORED))
    raw, gauss = means[INPUT_ROW], means[GAUSSIAN_ROW]
    assert layers[0] > naive_held[0] + 0.5 and layers[1] > naive_held[1], (layers, naive_held)
    assert layers[0] > raw[0] + 2.5 and layers[1] > raw[1] + 0.1
    assert layers[0] > gauss[0] + 0.2 and layers[0] > naive_scored[0] + 0.2
    assert layers[1] > gauss[1] - 0.02 and layers[1] > naive_scored[1] - 0.02


def test_aperture_control_follows_real_f_numbers(shared_data, pairs_f18, artifacts_dir):
    """VABD has the same scenes at f/1.8 and f/2.8: rendering with ``aperture=2.8`` must match the real
    f/2.8 photos better than the f/1.8 setting does (mean gain-fitted PSNR and SSIM over the scenes).
    No setting is fitted on the f/2.8 photos."""
    from gan_bokeh.render.calibrate import load_vabm_pairs, render_layers_pair, scores

    rows: dict[tuple[str, float], list[tuple[float, float]]] = {}
    for real in ("1_8", "2_8"):
        pairs = pairs_f18 if real == "1_8" else load_vabm_pairs(shared_data, WIDTH, target=real)
        pairs = [p for p in pairs if p.name.startswith("VABD")]
        assert len(pairs) == 3
        for pair in pairs:
            for a in (1.8, 2.8):
                rows.setdefault((real, a), []).append(scores(render_layers_pair(pair, {"aperture": a}),
                                                             pair.target))
    lines = ["| real photo | render aperture | PSNR (gain fit) | SSIM (gain fit) |", "|---|---|---|---|"]
    means = {}
    for (real, a), vals in sorted(rows.items()):
        m = means[(real, a)] = np.array(vals).mean(axis=0)
        lines.append(f"| f/{real.replace('_', '.')} | {a} | {m[0]:.2f} | {m[1]:.4f} |")
    table = "\n".join(["Aperture control on VABD (3 scenes, 768 px, means)", "", *lines, ""])
    print("\n" + table)
    (artifacts_dir / "render_aperture.md").write_text(table)
    assert means[("2_8", 2.8)][0] > means[("2_8", 1.8)][0]
    assert means[("2_8", 2.8)][1] > means[("2_8", 1.8)][1]
