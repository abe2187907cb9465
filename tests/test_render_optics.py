"""The optics of ``layers``: thin-lens blur curve, linear-light compositing, highlight restoration and the
kernel's soft edge (synthetic scenes; the real-photo scores are in tests/test_render_quality.py)."""

from __future__ import annotations

import numpy as np
import pytest

from gan_bokeh.render import render_image
from gan_bokeh.render.color import linear_to_srgb, srgb_to_linear
from gan_bokeh.render.layers import boosted_linear, mix_linear


def _steps(h: int = 32, w: int = 96) -> np.ndarray:
    """Depth in three vertical bands: 0.0 (focus), 0.4, 0.8."""
    d = np.zeros((h, w), np.float32)
    d[:, w // 3:] = 0.4
    d[:, 2 * w // 3:] = 0.8
    return d


def test_thin_lens_radius_is_linear_in_depth_difference():
    """thin-lens: the layer at |Δ| = 0.8 gets twice the radius of |Δ| = 0.4 (circle of confusion linear in
    disparity); power (γ = 0.5) gives √2. Catches a curve option that is ignored or swapped."""
    image = np.full((32, 96, 3), 0.5, np.float32)
    ratios = {}
    for curve in ("thin-lens", "power"):
        _, info = render_image(image, method="layers", depth=_steps(), focus=0.0, max_blur=8, curve=curve,
                               crf=False, n_layers=3)
        radii = sorted(p["radius_px"] for p in info["layers"] if p["role"] == "background")
        ratios[curve] = radii[1] / radii[0]
    assert ratios["thin-lens"] == pytest.approx(2.0, rel=0.02)
    assert ratios["power"] == pytest.approx(2 ** 0.5, rel=0.02)
    with pytest.raises(ValueError, match="curve"):
        render_image(image, method="layers", depth=_steps(), curve="cubic")


def test_mix_linear_mixes_light_not_code_values():
    """Half of a white light over black is 50 % of the *light* (sRGB 0.735), not sRGB 0.5; alpha 0 keeps
    the pixel bit for bit, alpha 1 takes the colour. Catches compositing back in sRGB."""
    out = np.zeros((1, 3, 3), np.float32)
    out[0, 2] = 0.123456
    colour = np.ones((1, 3, 3), np.float32)
    mixed = mix_linear(out.copy(), colour, np.array([[1.0, 0.5, 0.0]], np.float32))
    assert mixed[0, 0, 0] == 1.0 and mixed[0, 2, 0] == np.float32(0.123456)
    assert mixed[0, 1, 0] == pytest.approx(float(linear_to_srgb(np.float32(0.5))), abs=1e-4)
    assert mixed[0, 1, 0] > 0.7


def test_subject_edge_over_a_bright_background_is_composited_in_linear_light(monkeypatch):
    """A dark subject with a soft matte edge in front of a bright far plane: the focal composite goes
    through :func:`mix_linear` with the matte as coverage, and the output edge is that linear-light mix
    (brighter than an sRGB mix of the same two colours). Catches a renderer that composites in sRGB."""
    import gan_bokeh.render.layers as layers

    h, w = 40, 80
    image = np.full((h, w, 3), 0.9, np.float32)
    image[:, :42] = 0.05
    mask = np.zeros((h, w), np.float32)
    mask[:, :38] = 1.0
    mask[:, 38:42] = np.linspace(0.8, 0.2, 4)
    depth = np.ones((h, w), np.float32)
    depth[:, :38] = 0.0  # the matte alone says where the subject ends
    calls = []
    real = layers.mix_linear
    monkeypatch.setattr(layers, "mix_linear",
                        lambda out, colour, alpha: calls.append((out.copy(), colour.copy(), alpha.copy()))
                        or real(out, colour, alpha))
    out, _ = render_image(image, method="layers", mask=mask, depth=depth, focus=0.0, max_blur=6, crf=False)
    under, colour, alpha = calls[0]
    a = float(alpha[20, 40])
    assert a == pytest.approx(1 - mask[20, 40], abs=0.05)  # the background shows through 1 − matte
    top, bottom = float(colour[20, 40, 0]), float(under[20, 40, 0])
    lin = a * srgb_to_linear(np.float32(top)) + (1 - a) * srgb_to_linear(np.float32(bottom))
    assert out[20, 40, 0] == pytest.approx(float(linear_to_srgb(lin)), abs=2e-3)
    assert out[20, 40, 0] > a * top + (1 - a) * bottom + 0.05


def test_highlight_restoration_points_and_all():
    """points: a small clipped lamp is boosted, a clipped sky is not; all: both are. Catches a boost that
    ignores its mode or touches unclipped pixels."""
    image = np.full((60, 60, 3), 0.3, np.float32)
    image[:20] = 1.0            # clipped sky
    image[40:42, 30:32] = 1.0   # lamp
    base = srgb_to_linear(image)
    pts = boosted_linear(image, gain=4, threshold=0.8, mode="points")
    every = boosted_linear(image, gain=4, threshold=0.8, mode="all")
    assert pts[41, 31, 0] > 3 * base[41, 31, 0] and pts[5, 30, 0] == pytest.approx(base[5, 30, 0], abs=1e-3)
    assert every[5, 30, 0] > 3 * base[5, 30, 0]
    assert np.allclose(every[50, 10], base[50, 10], atol=2e-3)
    with pytest.raises(ValueError, match="highlight mode"):
        boosted_linear(image, gain=1, mode="sky")


def test_kernel_softness_rolls_off_the_disc_edge_and_keeps_energy():
    """A point light behind the focal plane: with a hard kernel its disc is flat with a sharp edge; with
    ``kernel_softness`` the edge rolls off (light beyond the radius) and the total light is the same.
    Catches a softness option that is ignored or that loses energy."""
    image = np.zeros((64, 64, 3), np.float32)
    image[31:33, 31:33] = 1.0
    depth = np.ones((64, 64), np.float32)
    outs = {s: render_image(image, method="layers", depth=depth, focus=0.0, max_blur=8, crf=False,
                            kernel_softness=s)[0] for s in (0.0, 0.4)}
    hard, soft = (srgb_to_linear(outs[s][..., 0]) for s in (0.0, 0.4))
    assert hard[32, 32 + 11] < 1e-4 < soft[32, 32 + 11]      # beyond radius 8 + the 1-px ramp
    assert soft.sum() == pytest.approx(hard.sum(), rel=0.03)
    assert soft[32, 32] < hard[32, 32]


@pytest.mark.parametrize("sigma", [0.8, 1.5, 2.5])
def test_edge_blur_reads_back_a_known_gaussian_blur(sigma):
    """A step edge blurred with σ reads back as sqrt(σ² + own²), own = what a pixel-sharp step reads
    (the estimator's own blur), within 5 %; a region with no edge gives nan. Catches the re-blur ratio
    inverted or the wrong σ₀ in the formula."""
    import cv2

    from gan_bokeh.render.calibrate import edge_blur

    step = np.zeros((64, 128, 3), np.float32)
    step[:, 64:] = 0.8
    step[:, :, 0] += 0.1
    blurred = cv2.GaussianBlur(step, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    everywhere = np.ones((64, 128), bool)
    own, _ = edge_blur(step, everywhere)
    estimate, n = edge_blur(blurred, everywhere)
    assert 0.5 < own < 1.2
    assert n > 0 and estimate == pytest.approx(np.hypot(sigma, own), rel=0.05)
    flat_only = np.zeros_like(everywhere)
    flat_only[:, :20] = True
    assert np.isnan(edge_blur(blurred, flat_only)[0])
