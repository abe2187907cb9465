"""gan_bokeh.render: kernels, every method, and the properties of the layered renderer."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from gan_bokeh.render import KERNELS, METHODS, make_kernel, render_image
from gan_bokeh.render.crf import alpha_expansion, edge_weights, kmeans_1d, potts_energy, unary_costs
from gan_bokeh.render.smoothing import gaussian_kernel_1d, opencv_gaussian_sigma


def _texture(h: int = 64, w: int = 96, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.random((h, w, 3)).astype(np.float32)


def _two_plane_scene(h: int = 64, w: int = 96):
    """Red sharp subject on the left (near, masked), green far background on the right."""
    image = np.zeros((h, w, 3), np.float32)
    image[:, : w // 2, 0] = 1.0
    image[:, w // 2:, 1] = 1.0
    mask = np.zeros((h, w), np.float32)
    mask[:, : w // 2] = 1.0
    depth = np.where(mask > 0, 0.2, 1.0).astype(np.float32)
    return image, mask, depth


# ---------------------------------------------------------------- kernels

@pytest.mark.parametrize("shape", list(KERNELS))
@pytest.mark.parametrize("radius", [0.3, 1.0, 2.5, 7.0])
def test_kernels_are_normalised(shape, radius):
    k = make_kernel(shape, radius)
    assert k.dtype == np.float32 and k.shape[0] == k.shape[1] and k.shape[0] % 2 == 1
    assert k.sum() == pytest.approx(1.0, abs=1e-5) and k.min() >= 0
    if radius < 0.5:
        assert k.shape == (1, 1)


def test_disk_kernel_geometry():
    k = make_kernel("disk", 6.0)
    assert k.shape == (13, 13)
    np.testing.assert_allclose(k, k.T, atol=1e-7)
    np.testing.assert_allclose(k, k[::-1, ::-1], atol=1e-7)
    inside = (k > 0).sum()
    assert abs(inside - np.pi * 6.5 ** 2) < 20  # area of a disk (anti-aliased edge)
    assert k[0, 0] == 0 and k[6, 6] == k.max()
    hexagon = make_kernel("hexagon", 6.0)
    assert (hexagon > 0).sum() < inside  # a hexagon inscribed in the same circle is smaller
    with pytest.raises(ValueError, match="unknown kernel"):
        make_kernel("star", 3)


def test_gaussian_taps_follow_opencv_sigma_rule():
    for k in (11, 25, 31):  # OpenCV uses fixed tables for small k, the σ rule (eq. 9) above that
        assert opencv_gaussian_sigma(k) == pytest.approx(0.3 * ((k - 1) / 2 - 1) + 0.8)
        np.testing.assert_allclose(gaussian_kernel_1d(k), cv2.getGaussianKernel(k, 0).ravel(), atol=1e-6)
    with pytest.raises(ValueError, match="odd"):
        gaussian_kernel_1d(4)


# ---------------------------------------------------------------- every method

@pytest.mark.parametrize("method", METHODS)
def test_every_method_runs(method):
    image, mask, depth = _texture(), *_two_plane_scene()[1:]
    out, info = render_image(image, method=method, mask=mask, depth=depth)
    assert out.shape == image.shape and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1 and info["method"] == method
    # subject pixels come back unchanged (the mask is pasted / composited sharp)
    np.testing.assert_allclose(out[mask > 0.5], image[mask > 0.5], atol=1e-5)


@pytest.mark.parametrize("method", METHODS)
def test_flat_image_stays_flat(method):
    image = np.full((48, 64, 3), 0.4, np.float32)
    image[..., 2] = 0.7
    depth = np.tile(np.linspace(0, 1, 64, dtype=np.float32), (48, 1))
    out, _ = render_image(image, method=method, depth=depth, mask=None)
    if method == "interpolate":
        # the watercolour background (Enhancing high depth-of-field photos with image understanding)
        # is a re-levelled copy (min–max stretch to [40, 255]): it stays flat,
        # but it is not the input's level, so only the watercolour itself is checked here
        from gan_bokeh.render.interpolate import watercolour_background

        assert watercolour_background(image).reshape(-1, 3).std(axis=0).max() < 1e-5
        return
    np.testing.assert_allclose(out, image, atol=2e-3)


def test_render_image_errors():
    image = _texture()
    with pytest.raises(ValueError, match="unknown render method"):
        render_image(image, method="nope")
    with pytest.raises(ValueError, match="needs a depth"):
        render_image(image, method="layers")
    with pytest.raises(ValueError, match="mask shape"):
        render_image(image, method="average", mask=np.zeros((3, 3), np.float32))
    with pytest.raises(ValueError, match="aperture"):
        render_image(image, method="layers", depth=np.zeros((64, 96), np.float32), aperture=0)


def test_average_is_the_papers_box_filter():
    image = _texture()
    out, _ = render_image(image, method="average")
    np.testing.assert_allclose(out, cv2.blur(image, (5, 5), borderType=cv2.BORDER_REFLECT), atol=1e-6)
    out, _ = render_image(image, method="gaussian", ksize=7)
    np.testing.assert_allclose(out, cv2.GaussianBlur(image, (7, 7), 0, borderType=cv2.BORDER_REFLECT), atol=1e-6)


# ---------------------------------------------------------------- CRF layers

def test_kmeans_keeps_the_focal_centre_and_crf_lowers_energy():
    rng = np.random.default_rng(1)
    depth = np.clip(np.tile(np.linspace(0, 1, 48), (32, 1)) + rng.normal(0, 0.08, (32, 48)), 0, 1)
    centres, sigmas = kmeans_1d(depth, 6, fixed=0.37)
    assert 0.37 in centres and len(centres) <= 6 and (np.diff(centres) > 0).all()
    unary = unary_costs(depth, centres, sigmas)
    wr, wd = edge_weights(depth, 10.0)
    greedy = np.argmin(unary, axis=0)
    smoothed = alpha_expansion(unary, wr, wd, cycles=2)
    assert potts_energy(smoothed, unary, wr, wd) < potts_energy(greedy, unary, wr, wd)
    # the smoothed labelling still follows the ramp: layer index grows left → right
    col_labels = [np.bincount(smoothed[:, x], minlength=len(centres)).argmax() for x in range(0, 48, 6)]
    assert col_labels == sorted(col_labels)


# ---------------------------------------------------------------- layered renderer properties

def test_layers_keep_focus_pixels_unchanged():
    image = _texture(64, 96)
    depth = np.full((64, 96), 0.9, np.float32)
    depth[:, :40] = 0.3
    out, info = render_image(image, method="layers", depth=depth, focus=0.3, max_blur=6)
    np.testing.assert_allclose(out[:, :28], image[:, :28], atol=1e-6)  # well inside the focal layer
    assert np.abs(out[:, 60:] - image[:, 60:]).mean() > 0.05  # the far part is blurred
    assert info["focus"] == pytest.approx(0.3)


def test_focus_from_subject_point_or_value():
    image = _texture(64, 96)
    depth = np.tile(np.linspace(0, 1, 96, dtype=np.float32), (64, 1))
    mask = np.zeros((64, 96), np.float32)
    mask[20:40, 60:70] = 1
    _, auto = render_image(image, method="layers", depth=depth, mask=mask, max_blur=4)
    assert auto["focus"] == pytest.approx(float(np.median(depth[mask > 0])), abs=0.02)
    _, point = render_image(image, method="layers", depth=depth, focus=(24, 10), max_blur=4)
    assert point["focus"] == pytest.approx(24 / 95, abs=0.03)
    with pytest.raises(ValueError, match="outside"):
        render_image(image, method="layers", depth=depth, focus=(500, 10))
    out, matted = render_image(image, method="layers", depth=depth, mask=mask, max_blur=4, matting=True)
    assert matted["matte"].shape == mask.shape and out.shape == image.shape


def _detail(img: np.ndarray) -> float:
    g = img.mean(axis=2)
    return float(np.abs(cv2.Laplacian(g, cv2.CV_32F)).mean())


def test_blur_grows_with_distance_from_focus():
    h, w = 48, 240
    image = _texture(h, w, seed=3)
    depth = np.tile(np.linspace(0, 1, w, dtype=np.float32), (h, 1))
    out, info = render_image(image, method="layers", depth=depth, focus=0.0, max_blur=8, crf=False)
    radii = [layer["radius_px"] for layer in sorted(info["layers"], key=lambda x: x["centre"])]
    assert radii == sorted(radii) and radii[0] == 0
    detail = [_detail(out[:, x:x + 30]) for x in range(0, w, 30)]
    assert all(b <= a * 1.05 for a, b in zip(detail, detail[1:], strict=False)), detail


def test_sharp_subject_and_far_background_do_not_leak():
    image, mask, depth = _two_plane_scene()
    out, _ = render_image(image, method="layers", mask=mask, depth=depth, max_blur=12)
    w = image.shape[1]
    near_edge_bg = out[:, w // 2: w // 2 + 24]  # within 2 blur radii of the subject edge
    leak_into_bg = near_edge_bg[..., 0].max()  # subject red in the background
    leak_into_subject = out[:, : w // 2, 1].max()  # background green on the subject
    assert leak_into_bg < 0.01 and leak_into_subject < 0.01
    np.testing.assert_allclose(near_edge_bg[..., 1], 1.0, atol=0.01)  # background keeps its colour
    # the naive "blur everything, paste the subject" baseline does leak: the property is not vacuous
    naive, _ = render_image(image, method="gaussian", mask=mask, ksize=25)
    assert naive[:, w // 2: w // 2 + 4, 0].max() > 0.2


def test_foreground_blur_switch():
    image = _texture(64, 96, seed=5)
    depth = np.full((64, 96), 0.5, np.float32)
    depth[:, 60:] = 0.0  # an object in front of the focal plane
    on, _ = render_image(image, method="layers", depth=depth, focus=0.5, max_blur=5)
    off, info = render_image(image, method="layers", depth=depth, focus=0.5, max_blur=5,
                             foreground_blur=False)
    assert _detail(on[:, 70:]) < 0.6 * _detail(image[:, 70:])
    np.testing.assert_allclose(off[:, 70:], image[:, 70:], atol=1e-6)
    assert all(layer["role"] != "foreground" for layer in info["layers"])


def test_large_radius_blurs_at_reduced_resolution():
    image = _texture(128, 192)
    depth = np.tile(np.linspace(0, 1, 192, dtype=np.float32), (128, 1))
    _, info = render_image(image, method="layers", depth=depth, focus=0.0, max_blur=60)
    far = max(info["layers"], key=lambda x: x["radius_px"])
    assert far["radius_px"] >= 45 and far["scale"] >= 5  # kernel radius at its level stays small


def test_highlight_boost_makes_a_disc():
    image = np.full((96, 96, 3), 0.1, np.float32)
    image[47:49, 47:49] = 1.0
    depth = np.ones((96, 96), np.float32)
    depth[:8, :8] = 0.0  # the focal plane is elsewhere
    hard = {"kernel_softness": 0.0}  # a hard-edged disc, to measure its size
    plain, _ = render_image(image, method="layers", depth=depth, focus=0.0, max_blur=10, highlight=0, **hard)
    boosted, _ = render_image(image, method="layers", depth=depth, focus=0.0, max_blur=10, highlight=8, **hard)
    assert boosted[48, 48].max() > plain[48, 48].max() + 0.02
    disc = boosted[..., 0] > 0.12
    ys, xs = np.nonzero(disc)
    assert 12 <= np.ptp(ys) <= 26 and abs(np.ptp(ys) - np.ptp(xs)) <= 2  # a round disc about the kernel's size


def test_matting_refines_only_the_band():
    from gan_bokeh.render.matting import refine_matte, trimap_from_mask

    image, mask, _ = _two_plane_scene(48, 64)
    tri = trimap_from_mask(mask, 4)
    assert set(np.unique(tri)) == {0.0, 0.5, 1.0}
    alpha = refine_matte(image, mask, band=4)
    assert alpha.shape == mask.shape and alpha.min() >= 0 and alpha.max() <= 1
    np.testing.assert_array_equal(alpha[tri != 0.5], (mask > 0.5)[tri != 0.5])
    assert np.abs(alpha - mask).mean() < 0.05


# ---------------------------------------------------------------- CLI

def _write_inputs(tmp_path):
    from PIL import Image

    from gan_bokeh.io import write_image, write_mask

    image, mask, depth = _two_plane_scene(48, 64)
    image = np.clip(image * 0.7 + _texture(48, 64) * 0.3, 0, 1)
    src = tmp_path / "in"
    src.mkdir()
    write_image(src / "a.jpg", image)
    write_image(src / "b.png", image)
    (src / "broken.jpg").write_bytes(b"")  # a zero-byte download
    write_mask(tmp_path / "a_mask.png", mask)
    masks = tmp_path / "masks"
    masks.mkdir()
    write_mask(masks / "a.png", mask)
    write_mask(masks / "b.png", mask)
    depths = tmp_path / "depth"
    depths.mkdir()
    np.save(depths / "a.npy", depth)
    Image.fromarray((depth * 65535).astype(np.uint16)).save(depths / "b.png")
    return src, masks, depths


def test_cli_choices_match_the_registries():
    from gan_bokeh.cli import render as cli

    assert cli.METHOD_CHOICES == METHODS
    assert set(cli.KERNEL_CHOICES) == set(KERNELS)


def test_cli_batch_renders_skips_bad_and_records(tmp_path, capsys):
    import json

    from gan_bokeh.cli import main
    from gan_bokeh.io import image_info, read_jsonl

    src, masks, depths = _write_inputs(tmp_path)
    out = tmp_path / "out"
    rc = main(["render", str(src), "--out", str(out), "--mask", str(masks), "--depth", str(depths),
               "--save-maps", "--max-blur", "6", "--kernel", "hexagon", "--no-midas", "--no-segment"])
    assert rc == 1  # one input failed
    captured = capsys.readouterr()
    assert "2 done, 0 skipped" in captured.out and "1 failed" in captured.out
    assert "broken.jpg" in captured.err
    for name in ("a.jpg", "b.png"):
        info = image_info(out / name)
        assert (info["width"], info["height"]) == (64, 48)
    for name in ("a.depth.png", "a.radius.png", "b.depth.png", "b.radius.png"):
        assert (out / "maps" / name).is_file()
    records = {Path(r["input"]).name: r for r in read_jsonl(out / "render.jsonl")}
    assert records["broken.jpg"]["status"] == "failed"
    assert records["a.jpg"]["depth_source"].endswith("a.npy") and records["a.jpg"]["mask"].startswith("file:")
    assert json.loads((out / "render.json").read_text())["method"] == "layers"
    # resumable: a second run skips what exists
    rc = main(["render", str(src / "a.jpg"), "--out", str(out), "--mask", str(masks), "--depth", str(depths),
               "--no-midas", "--no-segment"])
    assert rc == 0 and "0 done, 1 skipped" in capsys.readouterr().out


def test_cli_fallback_depth_is_labelled_and_baselines_run(tmp_path, capsys):
    from gan_bokeh.cli import main
    from gan_bokeh.io import read_jsonl

    src, masks, _ = _write_inputs(tmp_path)
    for method in ("layers", "gaussian", "buckets", "interpolate", "average"):
        out = tmp_path / method
        rc = main(["render", str(src / "b.png"), "--out", str(out), "--method", method, "--mask",
                   str(tmp_path / "a_mask.png"), "--no-midas", "--no-segment", "--save-maps"])
        assert rc == 0, method
        rec = read_jsonl(out / "render.jsonl")[-1]
        if method in ("layers", "buckets", "interpolate"):
            assert rec["depth_source"].startswith("fallback")
        assert (out / "b.png").is_file()
    assert (tmp_path / "interpolate" / "maps" / "b.interpolation.png").is_file()


def test_cli_user_errors_are_one_line(tmp_path, capsys):
    from gan_bokeh.cli import main

    src, masks, depths = _write_inputs(tmp_path)
    base = ["render", str(src / "a.jpg"), "--out", str(tmp_path / "o"), "--no-midas", "--no-segment"]
    assert main([*base, "--focus", "near"]) == 2
    assert main([*base, "--focus", "1.5"]) == 2
    assert main([*base, "--depth", str(tmp_path / "nope.npy")]) == 2
    assert main(["render", str(src), "--out", str(tmp_path / "o"), "--depth", str(depths / "a.npy")]) == 2
    err = capsys.readouterr().err
    assert "--focus near" in err and "not found" in err and "single input" in err
    assert all(line.startswith("gan-bokeh render: error:") for line in err.strip().splitlines())


def test_cli_applies_exif_orientation(tmp_path):
    from PIL import Image

    from gan_bokeh.cli import main
    from gan_bokeh.io import image_info

    img = Image.fromarray((_texture(40, 60) * 255).astype(np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° on display
    img.save(tmp_path / "rot.jpg", exif=exif.tobytes())
    out = tmp_path / "o"
    assert main(["render", str(tmp_path / "rot.jpg"), "--out", str(out), "--method", "gaussian",
                 "--no-segment"]) == 0
    info = image_info(out / "rot.jpg")
    assert (info["width"], info["height"]) == (40, 60)  # the stored 60×40 pixels, rotated


def test_cli_refuses_out_equal_to_input_and_names_bad_side_files(tmp_path, capsys):
    """QA: --out = the input folder must not skip (or, with --overwrite, replace) the photos; a broken
    depth/mask file is named in the failure line, not the photo; an unknown colormap is exit 2."""
    from gan_bokeh.cli import main

    src, masks, depths = _write_inputs(tmp_path)
    before = (src / "a.jpg").read_bytes()
    for extra in ([], ["--overwrite"]):
        assert main(["render", str(src), "--out", str(src), "--method", "average", "--no-segment", *extra]) == 2
    assert "would overwrite an input" in capsys.readouterr().err and (src / "a.jpg").read_bytes() == before
    bad = tmp_path / "bad_depth.png"
    bad.write_text("<html>404</html>")
    rc = main(["render", str(src / "a.jpg"), "--out", str(tmp_path / "o1"), "--depth", str(bad),
               "--mask", str(masks), "--no-segment"])
    err = capsys.readouterr().err
    assert rc == 1 and "bad_depth.png: not a decodable image" in err and "Traceback" not in err
    rc = main(["render", str(src / "a.jpg"), "--out", str(tmp_path / "o2"), "--depth", str(depths),
               "--depth-colormap", "nosuch", "--no-segment"])
    err = capsys.readouterr().err
    assert rc == 2 and err.strip().splitlines() == [
        "gan-bokeh render: error: --depth-colormap nosuch: unknown colormap; use a matplotlib name such as "
        "Spectral or viridis"]


def test_cli_highlight_modes_match_the_renderer():
    """The CLI's literal --highlight-mode choices (kept literal for a fast --help) are the renderer's modes:
    fails when a mode is added to or renamed in gan_bokeh.render.layers but not in the CLI (or back)."""
    from gan_bokeh.cli.render import HIGHLIGHT_MODE_CHOICES
    from gan_bokeh.render.layers import HIGHLIGHT_MODES

    assert HIGHLIGHT_MODE_CHOICES == HIGHLIGHT_MODES
