"""gan_bokeh.depth: file formats, normalisation, fallback (learned backends: tests/test_depth_backends.py)."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from PIL import Image

from gan_bokeh.depth import fallback_depth, load_depth, normalize_depth, resize_depth
from gan_bokeh.depth.files import colormap_to_index
from gan_bokeh.errors import UserError


def _ramp(h: int = 16, w: int = 24) -> np.ndarray:
    return np.tile(np.linspace(0, 1, w, dtype=np.float32), (h, 1))


def test_normalize_depth_and_disparity():
    raw = np.array([[2.0, 4.0], [6.0, 10.0]])
    d = normalize_depth(raw, "depth")
    assert d.dtype == np.float32 and d.min() == 0 and d.max() == 1
    np.testing.assert_allclose(d, [[0, 0.25], [0.5, 1]])
    np.testing.assert_allclose(normalize_depth(raw, "disparity"), 1 - d)
    assert not normalize_depth(np.full((3, 3), 5.0)).any()
    with pytest.raises(UserError, match="kind"):
        normalize_depth(raw, "meters")


def test_unknown_values_take_nearest_known():
    raw = np.array([[1.0, np.inf, 3.0, np.nan], [1.0, 1.0, 3.0, 3.0]])
    d = normalize_depth(raw, "depth")
    assert np.isfinite(d).all()
    assert d[0, 1] == 0.0 and d[0, 3] == 1.0
    with pytest.raises(UserError, match="no finite"):
        normalize_depth(np.full((2, 2), np.nan))


def test_load_16bit_8bit_jpeg_npy_npz(tmp_path):
    ramp = _ramp()
    Image.fromarray((ramp * 65535).astype(np.uint16)).save(tmp_path / "d16.png")
    Image.fromarray((ramp * 255).astype(np.uint8)).save(tmp_path / "d8.png")
    Image.fromarray((ramp * 255).astype(np.uint8)).convert("RGB").save(tmp_path / "d.jpg", quality=98)
    np.save(tmp_path / "d.npy", ramp * 7 + 3)
    np.savez(tmp_path / "d.npz", disparity=(1 - ramp) * 50)
    for name, tol in (("d16.png", 1e-4), ("d8.png", 1e-2), ("d.jpg", 4e-2), ("d.npy", 1e-6)):
        np.testing.assert_allclose(load_depth(tmp_path / name), ramp, atol=tol, err_msg=name)
    np.testing.assert_allclose(load_depth(tmp_path / "d.npz", kind="disparity"), ramp, atol=1e-6)


def test_colour_mapped_depth_roundtrip(tmp_path):
    idx = (np.arange(256, dtype=np.float32)).reshape(16, 16)
    rgb = (matplotlib.colormaps["Spectral"](idx / 255.0)[..., :3] * 255 + 0.5).astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / "vis.png")
    np.testing.assert_array_equal(colormap_to_index(rgb, "Spectral"), idx)
    np.testing.assert_allclose(load_depth(tmp_path / "vis.png", colormap="Spectral"), idx / 255, atol=1e-6)
    with pytest.raises(UserError, match="--depth-colormap"):
        load_depth(tmp_path / "vis.png")
    with pytest.raises(UserError, match="unknown colormap"):
        load_depth(tmp_path / "vis.png", colormap="NoSuchMap")


def test_bad_depth_files(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_depth(tmp_path / "missing.png")
    np.save(tmp_path / "three.npy", np.zeros((2, 3, 4)))
    with pytest.raises(UserError, match="2-D"):
        load_depth(tmp_path / "three.npy")
    np.savez(tmp_path / "two.npz", a=np.zeros((2, 2)), b=np.ones((2, 2)))
    with pytest.raises(UserError, match="name the depth array"):
        load_depth(tmp_path / "two.npz")


def test_resize_depth():
    d = _ramp(8, 12)
    assert resize_depth(d, (16, 24)).shape == (16, 24)
    assert resize_depth(d, (4, 6)).shape == (4, 6)
    assert resize_depth(d, (8, 12)) is d


def test_fallback_depth_subject_plane_and_ground_ramp():
    mask = np.zeros((40, 30), np.float32)
    mask[10:30, 10:20] = 1
    d = fallback_depth(mask)
    assert d.shape == mask.shape and d.dtype == np.float32
    assert d.min() >= 0 and d.max() <= 1
    assert np.ptp(d[mask > 0]) == 0  # one plane
    column = d[:, 0]
    assert (np.diff(column) <= 1e-6).all() and column[-1] == 0 and column[0] == 1  # bottom near, top far
    assert d[mask > 0][0] == pytest.approx(column[29])  # stands on the ground at its lowest row
    plain = fallback_depth(np.zeros((20, 10), np.float32))
    assert plain[-1, 0] == 0 and plain[0, 0] == 1


def test_real_depth_files(shared_data):
    # Middlebury motorcycle: true disparity with inf holes (larger = nearer)
    d = load_depth(shared_data / "skimage_data" / "motorcycle_disp.npz", kind="disparity")
    assert d.shape == (500, 741) and np.isfinite(d).all() and d.min() == 0 and d.max() == 1
    # vabm: Spectral colour visualisation, 0 = near; the lamp (focal mask) is nearer than the scene
    vis = shared_data / "vabm" / "EBB" / "train"
    d = load_depth(vis / "depth" / "2977.png", colormap="Spectral")
    focal = np.asarray(Image.open(vis / "focal" / "2977.jpg").convert("L")) > 127
    assert d.shape == focal.shape
    assert np.median(d[focal]) < np.median(d[~focal]) - 0.3
    # BokehMe: 16-bit disparity PNG
    d = load_depth(shared_data / "bokehme" / "inputs" / "13.png", kind="disparity")
    assert d.dtype == np.float32 and d.shape == (1050, 976) and 0 <= d.min() < d.max() <= 1


def test_find_depth_file_same_names_for_every_command(tmp_path):
    """QA: segment, render and compare used three different ``--depth DIR`` lookups."""
    from gan_bokeh.depth import depth_stems, find_depth_file

    d = tmp_path / "depth"
    d.mkdir()
    for name in ("photo.depth.npy", "street_12_disparity.jpg", "ebb_1_depth.png", "other.png", "x_wide.PNG"):
        (d / name).write_bytes(b"")
    img = tmp_path / "img"
    assert find_depth_file(img / "photo.jpg", d).name == "photo.depth.npy"
    assert find_depth_file(img / "street_12_all-in-focus.jpg", d).name == "street_12_disparity.jpg"
    assert find_depth_file(img / "ebb_1_wide.jpg", d).name == "ebb_1_depth.png"
    assert find_depth_file(img / "x_wide.jpg", d).name == "x_wide.PNG"
    assert find_depth_file(img / "nothing.jpg", d) is None and find_depth_file(img / "a.jpg", None) is None
    assert find_depth_file(img / "a.jpg", d / "other.png").name == "other.png"  # a file is used as is
    assert find_depth_file(d / "other.png", d) is None  # never the image itself
    assert "photo" not in depth_stems("photo_2")  # a bare base may be another photo
