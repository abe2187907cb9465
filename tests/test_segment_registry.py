"""The segmenter registry (one test over every backend) and U²-Net (real architecture, random init)."""

from __future__ import annotations

import urllib.error

import numpy as np
import pytest

from gan_bokeh.errors import UserError, WeightsUnavailableError
from gan_bokeh.segment import BACKENDS, SEGMENTERS, get_segmenter


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory):
    """Random-init state dicts for the torch backends (no download): DeepLab-MobileNetV3 and U²-Net-P."""
    import torch

    from gan_bokeh.segment.deeplab import build_deeplab
    from gan_bokeh.segment.u2net import build_u2net

    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("weights")
    torch.save(build_deeplab("mobilenet_v3").state_dict(), d / "deeplab.pt")
    torch.save(build_u2net("u2netp").state_dict(), d / "u2netp.pth")
    return {"deeplab": (d / "deeplab.pt", {"arch": "mobilenet_v3", "short_side": 64}),
            "u2net": (d / "u2netp.pth", {"variant": "u2netp", "size": 64})}


def _selfie_cached() -> bool:
    from gan_bokeh.segment.model_files import selfie_model_path

    try:
        selfie_model_path(download=False)
    except WeightsUnavailableError:
        return False
    return True


def test_every_registered_segmenter_gives_a_mask(random_weights):
    """Registry-wide: every backend is a --backend choice, documents itself, and returns float32 (H, W)
    in [0, 1] for an image of any size. Catches a backend added to the registry but not buildable, or
    one returning the network's size."""
    assert ("auto", *SEGMENTERS) == BACKENDS
    image = np.random.default_rng(0).random((48, 80, 3), dtype=np.float32)
    # every option of every backend at once, as the CLI passes them: each backend must ignore the others'
    common = {"arch": "mobilenet_v3", "short_side": 64, "variant": "u2netp", "size": 64}
    for name, spec in SEGMENTERS.items():
        assert spec.summary and spec.subject in ("person", "salient object"), name
        if name == "selfie" and not _selfie_cached():
            continue
        weights = random_weights[name][0] if name in random_weights else None
        seg = get_segmenter(name, weights=weights, device="cpu", **common)
        mask = seg(image)
        assert mask.shape == (48, 80) and mask.dtype == np.float32, name
        assert 0.0 <= mask.min() <= mask.max() <= 1.0, name
        assert seg.name.startswith(name), name
    with pytest.raises(UserError, match="--backend"):
        get_segmenter("sam")


def test_u2net_architecture_matches_the_release():
    """U²-Net 44.0 M and U²-Net† (u2netp) 1.13 M parameters, as in the paper, under the release's
    module names (so its checkpoints load strictly). Catches a wrong channel plan or renamed module."""
    from gan_bokeh.segment.u2net import build_u2net

    counts = {v: sum(p.numel() for p in build_u2net(v).parameters()) for v in ("u2net", "u2netp")}
    assert counts == {"u2net": 44_009_869, "u2netp": 1_131_181}
    keys = set(build_u2net("u2netp").state_dict())
    for key in ("stage1.rebnconvin.conv_s1.weight", "stage1.rebnconv7.bn_s1.running_mean",
                "stage5.rebnconv4.conv_s1.weight", "stage1d.rebnconv1d.conv_s1.weight", "side6.weight",
                "outconv.weight"):
        assert key in keys, key


def test_u2net_random_init_forward_and_weights_rules(random_weights, tmp_path, monkeypatch):
    """--weights PATH loads strictly (a u2netp file under variant u2net is one clear line); offline with
    nothing cached is one line naming the cache file, the URL and --weights."""
    import torch

    path, opts = random_weights["u2net"]
    seg = get_segmenter("u2net", weights=path, device="cpu", **opts)
    x = torch.rand(1, 3, 64, 48)
    assert seg.net(x).shape == (1, 1, 64, 48)
    with pytest.raises(UserError, match="u2net-variant"):
        get_segmenter("u2net", weights=path, device="cpu", variant="u2net")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None, raising=False)

    def offline(*a, **k):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(WeightsUnavailableError) as info:
        get_segmenter("u2net", variant="u2netp")
    msg = str(info.value)
    assert "\n" not in msg and "--weights PATH" in msg and "u2netp.pth" in msg and str(tmp_path / "torch") in msg


def test_u2net_checks_the_variant_cheaply_and_builds_the_net_once(random_weights, monkeypatch):
    """An unknown variant is one clear line before any download; a good one builds the network once
    (catches validation that builds a throw-away 44 M-parameter U²-Net before the real one)."""
    import torch

    from gan_bokeh.segment import u2net

    def no_download(*a, **k):
        raise AssertionError("downloaded before checking the variant")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    with pytest.raises(UserError, match="--u2net-variant u2netx"):
        get_segmenter("u2net", variant="u2netx")
    built = []
    real_init = u2net.U2Net.__init__

    def counting_init(self, *a, **k):
        built.append(1)
        real_init(self, *a, **k)

    monkeypatch.setattr(u2net.U2Net, "__init__", counting_init)
    path, opts = random_weights["u2net"]
    get_segmenter("u2net", weights=path, device="cpu", **opts)
    assert len(built) == 1
