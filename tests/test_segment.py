"""gan_bokeh.segment: refinement, main subject, DeepLab (random init), model-file resolution."""

from __future__ import annotations

import urllib.error
from pathlib import Path

import cv2
import numpy as np
import pytest

from gan_bokeh.errors import UserError, WeightsUnavailableError
from gan_bokeh.segment import get_segmenter, mask_iou, model_files, refine_mask, select_main_subject
from gan_bokeh.segment.selfie import letterbox, tile_starts


def _two_people(h: int = 96, w: int = 128) -> np.ndarray:
    """A big 'person' on the left, a small one on the right (two separate ellipses)."""
    m = np.zeros((h, w), np.float32)
    cv2.ellipse(m, (35, 55), (18, 38), 0, 0, 360, 1.0, -1)
    cv2.ellipse(m, (100, 40), (9, 20), 0, 0, 360, 1.0, -1)
    return m


# ----------------------------------------------------------------------------------------- refinement
def test_refine_fills_holes_and_drops_specks():
    m = _two_people()
    m[50:54, 30:34] = 0.0          # small hole inside the big person
    m[5:7, 5:7] = 1.0              # 4-px speck
    out = refine_mask(m, min_area=0.002)
    assert out.dtype == np.float32 and out.shape == m.shape
    assert out[52, 32] == 1.0 and out[6, 6] == 0.0
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert mask_iou(out, _two_people()) == 1.0


def test_largest_component_keeps_the_biggest_blob_with_its_holes_filled():
    """Two blobs (the larger with a hole): the larger comes back, hole filled, the smaller gone; an empty
    mask stays empty. Catches the smallest blob kept (argmin) or the hole left open."""
    from gan_bokeh.segment.refine import largest_component

    m = np.zeros((40, 60), bool)
    m[5:30, 5:30] = True
    m[15:20, 15:20] = False  # a hole in the big blob
    m[10:14, 45:50] = True  # a small blob
    out = largest_component(m)
    assert out.dtype == np.float32 and out.shape == m.shape
    assert out[5:30, 5:30].all() and out[10:14, 45:50].sum() == 0 and out.sum() == 25 * 25
    assert largest_component(np.zeros((4, 4), bool)).sum() == 0


def test_refine_keeps_soft_edge_and_large_holes():
    m = cv2.GaussianBlur(_two_people(), (0, 0), 2.0)
    hole = m.copy()
    hole[30:80, 20:50] = 0.0       # a big gap (arm akimbo): bigger than max_hole, stays open
    out = refine_mask(hole, max_hole=0.01)
    assert out[55, 35] == 0.0
    soft = refine_mask(m)
    assert ((soft > 0.05) & (soft < 0.95)).sum() > 50   # anti-aliased boundary survives


def test_refine_open_close_and_feather():
    m = _two_people()
    m[40, :] = 1.0                 # a 1-px line joining everything: opening removes it
    out = refine_mask(m, open_close=2, min_area=0)
    assert out[40, 70] == 0.0
    feathered = refine_mask(_two_people(), feather=3.0)
    assert 0.2 < feathered[55, 35 + 18] < 0.8           # the edge is now a ramp
    with pytest.raises(ValueError, match="mask"):
        refine_mask(np.zeros((4, 4, 3)))


# ------------------------------------------------------------------------------------- main subject
def test_main_subject_closest_uses_depth():
    m = _two_people()
    depth = np.full(m.shape, 0.8, np.float32)
    depth[:, 80:] = 0.2            # the small person on the right is nearer
    closest = select_main_subject(m, depth)
    assert closest[40, 100] == 1.0 and closest[55, 35] == 0.0
    largest = select_main_subject(m, mode="largest")
    assert largest[55, 35] == 1.0 and largest[40, 100] == 0.0
    # depth at another resolution is resized
    small = cv2.resize(depth, (32, 24), interpolation=cv2.INTER_NEAREST)
    assert select_main_subject(m, small)[40, 100] == 1.0


def test_main_subject_splits_touching_people_by_depth():
    m = _two_people()
    m[38:44, 50:95] = 1.0          # an arm joins the two people into one component
    depth = np.full(m.shape, 0.7, np.float32)
    depth[:, 80:] = 0.2            # right person nearer
    out = select_main_subject(m, depth)
    assert out[40, 100] == 1.0 and out[55, 35] == 0.0
    kept_together = select_main_subject(m, depth, depth_gap=0.0)
    assert kept_together[40, 100] == 1.0 and kept_together[55, 35] == 1.0
    flat = select_main_subject(m, np.full(m.shape, 0.5, np.float32))   # no depth contrast: no split
    assert flat[55, 35] == 1.0 and flat[40, 100] == 1.0


def test_main_subject_central_and_errors():
    m = _two_people()
    centred = np.roll(m, 30, axis=1)          # big person now near the centre, small one wraps left
    assert select_main_subject(centred, mode="central")[55, 65] == 1.0
    one = np.zeros_like(m)
    one[10:20, 10:20] = 0.7
    assert np.array_equal(select_main_subject(one), one)   # single component: unchanged
    with pytest.raises(ValueError, match="depth"):
        select_main_subject(m, mode="closest")
    with pytest.raises(ValueError, match="mode"):
        select_main_subject(m, mode="tallest")


# -------------------------------------------------------------------------------------- image planes
def test_letterbox_and_tiles():
    img = np.random.default_rng(0).random((50, 200, 3)).astype(np.float32)
    canvas, (top, left, h, w) = letterbox(img, 256)
    assert canvas.shape == (256, 256, 3) and (h, w) == (64, 256) and top == 96 and left == 0
    assert np.allclose(canvas[:top], 0.5)
    assert tile_starts(100, 256, 128) == [0]
    starts = tile_starts(700, 256, 128)
    assert starts[0] == 0 and starts[-1] == 700 - 256
    assert all(b - a <= 128 for a, b in zip(starts, starts[1:], strict=False))


# ------------------------------------------------------------------------------------------ DeepLab
@pytest.fixture(scope="module")
def deeplab_weights(tmp_path_factory) -> Path:
    """A random-init DeepLabV3-MobileNetV3 state dict file (no download)."""
    import torch

    from gan_bokeh.segment.deeplab import build_deeplab

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("deeplab") / "random_mnv3.pt"
    torch.save(build_deeplab("mobilenet_v3").state_dict(), path)
    return path


def test_deeplab_random_init_shapes(deeplab_weights):
    seg = get_segmenter("deeplab", weights=deeplab_weights, device="cpu", arch="mobilenet_v3", short_side=64)
    assert seg.name == "deeplab-mobilenet_v3"
    rng = np.random.default_rng(1)
    a, b = rng.random((48, 80, 3), dtype=np.float32), rng.random((60, 40, 3), dtype=np.float32)
    out = seg.batch([a, b, a])
    assert [o.shape for o in out] == [(48, 80), (60, 40), (48, 80)]
    for o in out:
        assert o.dtype == np.float32 and 0.0 <= o.min() <= o.max() <= 1.0
    assert np.allclose(out[0], out[2], atol=1e-5)
    assert seg((a * 255).astype(np.uint8)).shape == (48, 80)
    # auto picks DeepLab when its weights are given
    assert get_segmenter("auto", weights=deeplab_weights, arch="mobilenet_v3").name.startswith("deeplab")


def test_deeplab_wrong_arch_is_user_error(deeplab_weights):
    with pytest.raises(UserError, match="deeplab-arch"):
        get_segmenter("deeplab", weights=deeplab_weights, arch="resnet50")


def test_deeplab_offline_error(tmp_path, monkeypatch):
    import torch.hub

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None, raising=False)

    def offline(*a, **k):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(WeightsUnavailableError) as info:
        get_segmenter("deeplab", arch="mobilenet_v3")
    msg = str(info.value)
    assert "\n" not in msg and "--weights PATH" in msg
    assert str(tmp_path / "torch") in msg and "deeplabv3_mobilenet_v3_large" in msg


# ---------------------------------------------------------------------------- selfie model resolution
def test_selfie_offline_error_and_hash_check(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_BOKEH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(model_files, "_from_url", lambda url, timeout: b"not a model")

    def no_pip(timeout):
        raise OSError("No matching distribution found")

    monkeypatch.setattr(model_files, "_from_wheel", no_pip)
    with pytest.raises(WeightsUnavailableError) as info:
        get_segmenter("selfie")
    msg = str(info.value)
    assert "sha256 mismatch" in msg and "No matching distribution" in msg and "--weights PATH" in msg
    assert str(tmp_path / "cache" / "models" / "selfie_segmentation.tflite") in msg
    assert not (tmp_path / "cache" / "models" / "selfie_segmentation.tflite").exists()
    with pytest.raises(WeightsUnavailableError, match="not cached"):
        model_files.selfie_model_path(download=False)


def test_selfie_bad_weights_path(tmp_path):
    with pytest.raises(UserError, match="not found"):
        get_segmenter("selfie", weights=tmp_path / "missing.tflite")
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"\0" * 64)
    with pytest.raises(UserError, match="TFLite"):
        get_segmenter("selfie", weights=junk)
    with pytest.raises(UserError, match="backend"):
        get_segmenter("sam")
    with pytest.raises(UserError, match="selfie"):
        get_segmenter("deeplab", weights=junk)


def test_cli_deeplab_random_weights_writes_files(deeplab_weights, tmp_path, capsys):
    import json

    from PIL import Image

    from gan_bokeh.cli import main
    from gan_bokeh.io import read_image_alpha, read_mask

    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(2)
    for name, (h, w) in {"a": (48, 64), "b": (64, 40)}.items():
        Image.fromarray((rng.random((h, w, 3)) * 255).astype(np.uint8)).save(src / f"{name}.jpg")
    out = tmp_path / "out"
    argv = ["segment", str(src), "--out", str(out), "--weights", str(deeplab_weights),
            "--deeplab-arch", "mobilenet_v3", "--format", "both", "--no-refine", "--device", "cpu"]
    assert main(argv) == 0                                     # --backend auto → DeepLab (weights given)
    assert "2 done" in capsys.readouterr().out
    rgb, alpha = read_image_alpha(out / "b.png")
    assert rgb.shape == (64, 40, 3) and alpha is not None and alpha.shape == (64, 40)
    assert np.abs(read_mask(out / "b.mask.png") - alpha).max() <= 1 / 255 + 1e-6
    assert Image.open(out / "a.png").text["gan-bokeh:segment-backend"] == "deeplab-mobilenet_v3"
    assert json.loads((out / "segment.json").read_text())["backend_resolved"] == "deeplab-mobilenet_v3"


def test_cli_rgba_output_into_the_input_folder_is_refused(tmp_path, capsys):
    """QA: ``--out`` = the input folder wrote ``<stem>.png`` RGBA files among the photos (a later run then
    saw two inputs per stem); sidecar masks (``--format mask``) are still allowed there."""
    from gan_bokeh.cli import main

    cv2.imwrite(str(tmp_path / "a.jpg"), np.full((32, 32, 3), 128, np.uint8))
    for fmt in ("rgba", "both"):
        assert main(["segment", str(tmp_path), "--out", str(tmp_path), "--format", fmt]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "--format mask" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jpg"]


def test_cli_one_depth_file_for_several_images_is_a_flag_error(tmp_path, capsys, monkeypatch):
    """``--depth FILE`` with several inputs is exit 2 before any work: one line, no model built, nothing
    written (catches the check sitting in the per-image step, which segmented every image then failed it)."""
    import gan_bokeh.segment as segment
    from gan_bokeh.cli import main

    def no_model(*a, **k):
        raise AssertionError("segmenter built for a flag error")

    monkeypatch.setattr(segment, "get_segmenter", no_model)
    src = tmp_path / "in"
    src.mkdir()
    for name in ("a", "b"):
        cv2.imwrite(str(src / f"{name}.jpg"), np.full((32, 32, 3), 128, np.uint8))
    depth = tmp_path / "d.npy"
    np.save(depth, np.zeros((32, 32), np.float32))
    out = tmp_path / "out"
    assert main(["segment", str(src), "--out", str(out), "--depth", str(depth)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "single input" in err and str(depth) in err
    assert not out.exists()


def test_u2net_batch_honours_gan_bokeh_threads(tmp_path, monkeypatch):
    """GAN_BOKEH_THREADS reaches every torch segmenter, U²-Net included (catches the thread setting being
    applied to DeepLab only)."""
    import torch

    import gan_bokeh.runtime as runtime
    from gan_bokeh.batch.segment import SegmentJob, segment_files
    from gan_bokeh.segment.u2net import build_u2net

    weights = tmp_path / "u2netp.pth"
    torch.save(build_u2net("u2netp").state_dict(), weights)
    calls = []
    monkeypatch.setattr(runtime, "torch_threads", lambda n=None: calls.append(n))
    cv2.imwrite(str(tmp_path / "a.jpg"), np.full((32, 32, 3), 128, np.uint8))
    job = SegmentJob(out=tmp_path / "out", backend="u2net", weights=weights, device="cpu",
                     segmenter_options={"variant": "u2netp", "size": 32})
    assert segment_files([tmp_path / "a.jpg"], job, progress=False).exit_code == 0
    assert calls == [None]


def test_lazy_segmenter_builds_once_and_gives_up_once(monkeypatch):
    """Built on the first call only, reused after; a segmenter that cannot be built calls ``on_unavailable``
    once with the reason and is never tried again (every later call is ``None``). Catches a retry per
    photo, a build per call, or an unclipped mask."""
    import gan_bokeh.segment as segment
    from gan_bokeh.errors import WeightsUnavailableError
    from gan_bokeh.segment import LazySegmenter

    builds: list[str] = []

    class Over:
        name = "fake"

        def __call__(self, image):
            return np.full(image.shape[:2], 1.5, np.float32)

    monkeypatch.setattr(segment, "get_segmenter", lambda backend, **k: builds.append(backend) or Over())
    lazy = LazySegmenter("selfie")
    assert builds == [] and lazy.name == "selfie"
    image = np.zeros((8, 8, 3), np.float32)
    masks = [lazy(image), lazy(image)]
    assert builds == ["selfie"] and lazy.name == "fake" and all(m.max() == 1.0 for m in masks)

    def offline(backend, **k):
        builds.append(backend)
        raise WeightsUnavailableError("no weights offline")

    monkeypatch.setattr(segment, "get_segmenter", offline)
    reasons: list[str] = []
    lazy = LazySegmenter("auto", on_unavailable=reasons.append)
    assert lazy(image) is None and lazy(image) is None
    assert reasons == ["no weights offline"] and builds.count("auto") == 1 and lazy.error == reasons[0]
