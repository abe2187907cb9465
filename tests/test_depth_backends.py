"""Depth backends: the registry and ``auto``, Depth Anything V2 (real model class, tiny random-init config,
offline), MiDaS's three distinct errors, and the one inverse-depth conversion."""

from __future__ import annotations

import urllib.error

import numpy as np
import pytest

from gan_bokeh.depth import (
    AUTO_ORDER,
    DEPTH_BACKEND_CHOICES,
    DEPTH_BACKENDS,
    estimate_depth,
    inverse_depth_to_depth,
    midas,
)
from gan_bokeh.depth import depth_anything as da
from gan_bokeh.depth.registry import forget_failures
from gan_bokeh.errors import MissingDependencyError, RemoteCodeError, UserError, WeightsUnavailableError

pytest.importorskip("transformers")


def tiny_depth_anything(seed: int = 0):
    """The real ``DepthAnythingForDepthEstimation`` from a tiny random-init config (no weights needed)."""
    import torch
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config

    backbone = Dinov2Config(hidden_size=16, num_hidden_layers=4, num_attention_heads=2, intermediate_size=32,
                            patch_size=14, image_size=28, out_features=["stage1", "stage2", "stage3", "stage4"],
                            reshape_hidden_states=False)
    cfg = DepthAnythingConfig(backbone_config=backbone, reassemble_hidden_size=16, neck_hidden_sizes=[8, 8, 8, 8],
                              fusion_hidden_size=8, head_hidden_size=8, depth_estimation_type="relative")
    torch.manual_seed(seed)
    return DepthAnythingForDepthEstimation(cfg).eval()


@pytest.fixture(autouse=True)
def _fresh_caches():
    forget_failures()
    da.load_depth_anything.cache_clear()
    midas.load_midas.cache_clear()
    yield
    forget_failures()
    da.load_depth_anything.cache_clear()
    midas.load_midas.cache_clear()


def _image(h: int = 40, w: int = 60) -> np.ndarray:
    return np.random.default_rng(0).random((h, w, 3), dtype=np.float32)


def test_inverse_depth_becomes_zero_near_one_far_linearly():
    """Catches a conversion that forgets to flip (larger inverse depth = nearer) or that is not affine
    (the thin-lens blur needs depth linear in disparity)."""
    disparity = np.tile(np.linspace(10.0, 2.0, 9), (3, 1))  # left near
    d = inverse_depth_to_depth(disparity)
    assert d.dtype == np.float32 and d[0, 0] == 0 and d[0, -1] == 1
    np.testing.assert_allclose(np.diff(d[0]), 0.125, atol=1e-6)


def test_depth_anything_real_model_class_shapes_dtype_range():
    """The real transformers model at a tiny size: input resized to patch multiples, output back at the
    image size, float32 in [0, 1]. Catches preprocessing that breaks the ViT (non-multiple of 14) or
    returns the network's size."""
    model = tiny_depth_anything()
    assert da.network_size(40, 60, 28) == (28, 42)
    raw = da.predict_inverse_depth(model, _image(), input_size=28, device="cpu")
    assert raw.shape == (40, 60) and raw.dtype == np.float32
    d = da.estimate_depth_anything(_image(), model=model, device="cpu")
    assert d.shape == (40, 60) and d.dtype == np.float32 and 0.0 <= d.min() <= d.max() <= 1.0


def test_depth_anything_output_goes_through_the_one_conversion(monkeypatch):
    """A model whose inverse depth is large on the left (near): the library depth must be 0 there.
    Catches a backend that returns the raw inverse depth or converts it on its own."""
    import torch

    class Left(torch.nn.Module):
        def forward(self, pixel_values):
            h, w = pixel_values.shape[-2:]
            return type("Out", (), {"predicted_depth": torch.linspace(5, 1, w).expand(1, h, w)})()

    d = da.estimate_depth_anything(_image(), model=Left(), device="cpu")
    assert d[:, :5].mean() < 0.1 and d[:, -5:].mean() > 0.9
    calls = []
    monkeypatch.setattr("gan_bokeh.depth.files.inverse_depth_to_depth",
                        lambda p: calls.append(p.shape) or np.zeros(p.shape, np.float32))
    da.estimate_depth_anything(_image(), model=Left(), device="cpu")
    assert calls == [(40, 60)]


def test_depth_anything_loads_a_weights_folder(tmp_path):
    """``--depth-weights DIR``: the real ``from_pretrained`` path on a saved (tiny) model, through the
    registry; a folder without config.json is one clear line."""
    model = tiny_depth_anything()
    model.save_pretrained(tmp_path / "da")
    res = estimate_depth(_image(), backend="depth-anything", weights=tmp_path / "da", device="cpu")
    assert res.backend == "depth-anything" and res.linear_in == "disparity" and res.depth.shape == (40, 60)
    assert str(tmp_path / "da") in res.source
    with pytest.raises(UserError, match="config.json"):
        estimate_depth(_image(), backend="depth-anything", weights=tmp_path, device="cpu")


def test_depth_anything_offline_message_and_download_when_online(monkeypatch):
    """Offline, nothing cached: one line naming the HF cache, --depth-weights and --depth. Online: the
    download is attempted (the cache miss is not reported as offline)."""
    monkeypatch.setattr(da, "hub_reachable", lambda *a, **k: False)
    with pytest.raises(WeightsUnavailableError) as err:
        da.load_depth_anything()
    msg = str(err.value)
    assert "offline" in msg and "--depth-weights" in msg and da._hf_cache() in msg and "\n" not in msg
    calls = []

    def fake(source, **kwargs):
        calls.append(kwargs)
        if kwargs.get("local_files_only"):
            raise OSError("not cached")
        return tiny_depth_anything()

    da.load_depth_anything.cache_clear()
    monkeypatch.setattr(da, "hub_reachable", lambda *a, **k: True)
    monkeypatch.setattr(da, "_from_pretrained", fake)
    assert da.load_depth_anything() is not None
    assert calls == [{"local_files_only": True}, {}]


def test_midas_three_distinct_errors(monkeypatch):
    """Missing timm, offline, and broken remote code each get their own error class and fix (before, one
    ``except Exception`` called everything 'not available offline'). The hub repo is pinned to a tag."""
    assert ":v" in midas.MIDAS_REPO
    monkeypatch.setattr(midas.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MissingDependencyError, match=r"timm: pip install 'gan-bokeh\[depth\]'"):
        midas.load_midas()
    monkeypatch.setattr(midas, "check_midas_dependencies", lambda: None)
    cases = [(ModuleNotFoundError("No module named 'timm'", name="timm"), MissingDependencyError, "timm"),
             (urllib.error.URLError("Name or service not known"), WeightsUnavailableError, midas._hub_cache()),
             (urllib.error.URLError("Name or service not known"), WeightsUnavailableError, "--depth FILE"),
             (AttributeError("module has no attribute 'Foo'"), RemoteCodeError, "AttributeError")]
    for exc, cls, text in cases:
        def boom(model, exc=exc):
            raise exc
        midas.load_midas.cache_clear()
        monkeypatch.setattr(midas, "_hub_load", boom)
        with pytest.raises(cls) as err:
            midas.load_midas()
        assert type(err.value) is cls and text in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ValueError, match="unknown MiDaS model"):
        midas.load_midas("nope")


def test_registry_every_backend_returns_the_convention(monkeypatch, tmp_path):
    """Registry-wide: every backend gives float32 (H, W) in [0, 1] and names itself; the choices are the
    registry plus auto."""
    import torch

    monkeypatch.setattr(da, "load_depth_anything", lambda *a, **k: tiny_depth_anything())

    class FakeMidas(torch.nn.Module):
        def forward(self, x):
            return x.mean(1)

    monkeypatch.setattr(midas, "load_midas", lambda model="MiDaS_small": (
        FakeMidas(), lambda rgb8: torch.from_numpy(rgb8.astype(np.float32) / 255).permute(2, 0, 1)[None]))
    np.save(tmp_path / "d.npy", np.random.default_rng(1).random((40, 60)))
    mask = np.zeros((40, 60), np.float32)
    mask[10:30, 20:40] = 1
    assert ("auto", *DEPTH_BACKENDS) == DEPTH_BACKEND_CHOICES and set(AUTO_ORDER) == set(DEPTH_BACKENDS)
    for name in DEPTH_BACKENDS:
        res = estimate_depth(_image(), backend=name, mask=mask, path=tmp_path / "d.npy", device="cpu")
        assert res.backend == name, name
        assert res.depth.shape == (40, 60) and res.depth.dtype == np.float32, name
        assert 0.0 <= res.depth.min() <= res.depth.max() <= 1.0, name
        assert res.metadata()["depth_backend"] == name
    with pytest.raises(UserError, match="--depth-backend"):
        estimate_depth(_image(), backend="zoedepth")


def test_auto_order_records_what_was_used_and_skipped(monkeypatch, tmp_path):
    """auto: a file wins; otherwise depth-anything, then midas, then the fallback, with each skipped
    backend's one-line reason in the metadata; failures are tried once per process."""
    np.save(tmp_path / "d.npy", np.ones((4, 4)))
    assert estimate_depth(_image(), path=tmp_path / "d.npy").backend == "file"
    tries = []

    def offline(*a, **k):
        tries.append("da")
        raise WeightsUnavailableError("Depth Anything V2 weights are not cached")

    monkeypatch.setattr(da, "load_depth_anything", offline)
    monkeypatch.setattr(midas, "check_midas_dependencies",
                        lambda: (_ for _ in ()).throw(MissingDependencyError("MiDaS needs timm")))
    res = estimate_depth(_image())
    assert res.backend == "fallback" and res.linear_in == "guess"
    assert [n.split(":")[0] for n in res.notes] == ["depth-anything", "midas"]
    assert "depth_notes" in res.metadata() and "not cached" in res.metadata()["depth_notes"][0]
    estimate_depth(_image())
    assert tries == ["da"]
    forget_failures()
    monkeypatch.setattr(da, "load_depth_anything", lambda *a, **k: tiny_depth_anything())
    assert estimate_depth(_image(), device="cpu").backend == "depth-anything"
