"""The differentiable defocus renderer and the rendering generator/objective (tiny nets, synthetic data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_data import make_unpaired_dataset

from gan_bokeh import losses
from gan_bokeh.config import load_config
from gan_bokeh.io import read_jsonl
from gan_bokeh.nets import build_generator
from gan_bokeh.objectives import build_objective
from gan_bokeh.render.differentiable import (
    linear_to_srgb_t,
    render_at_size,
    render_defocus,
    srgb_to_linear_t,
)
from gan_bokeh.train.checkpoint import load_generator
from gan_bokeh.train.config import TrainConfig
from gan_bokeh.train.loop import RunOptions, train

TINY = ["model.ngf=4", "model.ndf=4", "model.n_blocks=1", "data.load_size=36", "data.crop_size=32",
        "data.num_workers=0", "train.pool_size=3", "log.image_every=2", "log.latest_every=2", "log.save_every=3",
        "model.max_radius=4"]


def _noise(h: int = 32, w: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(seed))


def _hf_energy(x: torch.Tensor) -> float:
    """Mean squared Laplacian (high-frequency energy)."""
    lap = 4 * x[..., 1:-1, 1:-1] - x[..., :-2, 1:-1] - x[..., 2:, 1:-1] - x[..., 1:-1, :-2] - x[..., 1:-1, 2:]
    return float(lap.square().mean())


def test_srgb_round_trip() -> None:
    x = torch.linspace(0, 1, 101)
    assert torch.allclose(linear_to_srgb_t(srgb_to_linear_t(x)), x, atol=1e-5)


@pytest.mark.parametrize("with_mask", [False, True])
def test_zero_radius_is_identity(with_mask: bool) -> None:
    """Catches a blend whose weights do not put all mass on the sharp level at r = 0 (or a lossy colour path)."""
    img = _noise()
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 8:24, 8:24] = 1
    out = render_defocus(img, torch.zeros(1, 1, 32, 32), mask if with_mask else None, max_radius=6, n_radii=4)
    assert torch.allclose(out, img, atol=1e-5)


def test_blur_grows_with_radius() -> None:
    """High-frequency energy falls strictly as a constant radius grows, also between stack levels (catches a
    blend that picks the wrong levels or a stack that is not ordered by radius)."""
    img = _noise(48, 48)
    radii = [0.0, 0.5, 1.0, 1.7, 2.0, 3.1, 4.0, 6.0]
    energies = [_hf_energy(render_defocus(img, torch.full((1, 1, 48, 48), r), max_radius=6, n_radii=4))
                for r in radii]
    assert all(a > b for a, b in zip(energies, energies[1:], strict=False)), energies


def test_gradient_reaches_the_radius_map() -> None:
    """Catches a hard level selection (argmax/rounding), which would cut the gradient to the map."""
    img = _noise()
    r = torch.full((1, 1, 32, 32), 1.3, requires_grad=True)
    out = render_defocus(img, r, max_radius=4, n_radii=5)
    (out - img).square().sum().backward()  # more blur = further from the input: d/dr > 0
    assert r.grad is not None and torch.isfinite(r.grad).all()
    assert float(r.grad.mean()) > 0


def test_subject_guided_gather_keeps_the_subject_out_of_the_background() -> None:
    """A white subject on a black background: with the gather, the blurred background beside the subject
    stays black; the plain blur spreads the subject's light there (catches a gather that is not normalised
    by the background weight, or that uses the subject's pixels)."""
    img = torch.zeros(1, 3, 40, 40)
    mask = torch.zeros(1, 1, 40, 40)
    img[..., 12:28, 12:28] = 1.0
    mask[..., 12:28, 12:28] = 1.0
    r = 4.0 * (1 - mask)  # sharp subject, blurred background
    plain = render_defocus(img, r, None, max_radius=4, n_radii=3)
    gathered = render_defocus(img, r, mask, max_radius=4, n_radii=3)
    ring = (slice(None), slice(None), slice(8, 12), slice(12, 28))  # background just above the subject
    assert float(plain[ring].mean()) > 0.2
    assert float(gathered[ring].max()) < 0.02  # only the gather's 1e-3 weight floor leaks
    assert torch.allclose(gathered[..., 12:28, 12:28], img[..., 12:28, 12:28], atol=1e-5)  # subject kept
    # a little blur inside the subject blurs the subject, it does not pull in background colour
    r_in = torch.full((1, 1, 40, 40), 2.0)
    inside = (slice(None), slice(None), slice(12, 28), slice(12, 28))
    assert torch.allclose(render_defocus(img, r_in, mask, max_radius=4, n_radii=3)[inside],
                          render_defocus(img, r_in, None, max_radius=4, n_radii=3)[inside], atol=1e-5)


def test_blur_mixes_in_linear_light() -> None:
    """Half black, half white, blurred flat: the mix is sRGB(0.5 linear) ≈ 0.735, not 0.5 (catches blending
    gamma-encoded values)."""
    img = torch.zeros(1, 3, 16, 16)
    img[..., :, 8:] = 1.0
    out = render_defocus(img, torch.full((1, 1, 16, 16), 40.0), max_radius=40, n_radii=2)
    assert float(out[..., 8, 7:9].mean()) == pytest.approx(0.735, abs=0.02)  # gamma-space mixing gives 0.5
    assert float(render_defocus(img, torch.full((1, 1, 16, 16), 40.0), max_radius=40, n_radii=2,
                                linear=False)[..., 8, 7:9].mean()) == pytest.approx(0.5, abs=0.02)


def test_render_at_size_scales_the_map() -> None:
    """A constant map of r working pixels renders the 2x image like radius 2r at full size."""
    big = _noise(64, 64)
    small_r = torch.full((1, 1, 32, 32), 1.5)
    a = render_at_size(big, small_r, max_radius=4, n_radii=5)
    b = render_defocus(big, torch.full((1, 1, 64, 64), 3.0), max_radius=8, n_radii=5)
    assert torch.allclose(a, b, atol=1e-5)


def test_subject_blur_penalty() -> None:
    r = torch.zeros(1, 1, 4, 4)
    m = torch.zeros(1, 1, 4, 4)
    m[..., :2, :] = 1
    r[..., :2, :2] = 8.0  # half the subject at full blur
    assert float(losses.subject_blur_penalty(r, m, 8.0)) == pytest.approx(0.5)
    assert float(losses.subject_blur_penalty(r, torch.zeros_like(m), 8.0)) == 0.0


def test_defocus_generator_outputs_a_blur_of_its_input() -> None:
    """The generator's output is the renderer's output for its own radius map (nothing synthesised)."""
    torch.manual_seed(0)
    g = build_generator("defocus_resnet", ngf=4, n_blocks=1, in_channels=4, mask_channel=3, max_radius=4)
    x = torch.cat([_noise() * 2 - 1, torch.zeros(1, 1, 32, 32)], 1)
    with torch.no_grad():
        r = g.radius_map(x)
    assert r.shape == (1, 1, 32, 32) and float(r.min()) >= 0 and float(r.max()) <= 4
    want = render_defocus((x[:, :3] + 1) / 2, r, x[:, 3:], max_radius=4, n_radii=6) * 2 - 1
    assert torch.allclose(g(x), want, atol=1e-6)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_unpaired_dataset(tmp_path_factory.mktemp("data") / "ds")


def test_defocus_config_trains(dataset: Path, tmp_path: Path) -> None:
    """Two iterations through the trainer: finite losses, a checkpoint whose G loads and renders."""
    cfg = load_config(TrainConfig, "defocus", overrides=TINY)
    res = train(cfg, RunOptions(data=dataset, run_dir=tmp_path / "run", max_iters=2, progress=False))
    assert res.iteration == 2
    rows = read_jsonl(tmp_path / "run" / "metrics.jsonl")
    assert set(rows[0]) - {"epoch", "iter", "lr"} == {"D_B", "G_A", "blur_subject", "radius_mean"}
    assert all(np.isfinite(v) for r in rows for v in r.values())
    net, state = load_generator(tmp_path / "run", "AtoB")
    assert set(state["nets"]) == {"G", "D_B"} and getattr(net, "renders", False)
    assert net(torch.zeros(1, 3, 32, 32)).shape == (1, 3, 32, 32)


def test_subject_penalty_sharpens_the_subject() -> None:
    """With the penalty alone (GAN weight irrelevant at this scale), the subject's radius falls within a few
    steps: the penalty's gradient reaches G through the map."""
    cfg = load_config(TrainConfig, "defocus", overrides=[*TINY, "train.lambda_mask=5", "train.lr=0.01"])
    model = build_objective(cfg, torch.device("cpu"))
    mask = torch.zeros(2, 1, 32, 32)
    mask[..., 8:24, 8:24] = 1
    batch = {"A": _noise(32, 32).expand(2, -1, -1, -1) * 2 - 1, "B": _noise(32, 32, 1).expand(2, -1, -1, -1) * 2 - 1,
             "mask_A": mask, "mask_B": mask}
    first = model.step(batch)["blur_subject"]
    for _ in range(10):
        last = model.step(batch)["blur_subject"]
    assert last < 0.5 * first


def test_one_sided_objectives_keep_real_b_photos_without_masks(tmp_path: Path) -> None:
    """Real shallow-DoF photos rarely have masks: the one-sided objectives read masks of domain A only, so
    an unmasked B folder trains (CycleGAN's mask loss still needs B masks and says so). Catches the dataset
    filtering B by masks the objective never reads."""
    from gan_bokeh.errors import UserError
    from gan_bokeh.io import write_image

    root = make_unpaired_dataset(tmp_path / "ds")
    for p in (root / "trainB").glob("*.png"):
        write_image(p, np.random.default_rng(0).random((40, 44, 3)).astype(np.float32))  # RGB: no alpha
    for config in ("defocus", "fastcut"):
        net = [] if config == "defocus" else ["model.generator=resnet"]  # n_blocks=1 needs the generic ResNet
        cfg = load_config(TrainConfig, config, overrides=[*TINY, *net, "train.lambda_mask=0.5",
                                                          "train.mask_vgg_weight=0"])
        assert train(cfg, RunOptions(data=root, run_dir=tmp_path / config, max_iters=1, progress=False)).iteration == 1
    cfg = load_config(TrainConfig, "mask_loss", overrides=[*TINY, "model.generator=resnet", "train.mask_vgg_weight=0"])
    with pytest.raises(UserError, match="no subject masks"):
        train(cfg, RunOptions(data=root, run_dir=tmp_path / "cyc", max_iters=1, progress=False))
