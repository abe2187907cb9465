"""CUT / FastCUT: the PatchNCE loss, the generator's encoder features, the projection head, and short
training runs through the real trainer (tiny nets, synthetic images)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_data import make_unpaired_dataset

from gan_bokeh import losses
from gan_bokeh.config import load_config
from gan_bokeh.errors import UserError
from gan_bokeh.io import read_jsonl
from gan_bokeh.nets import build_generator
from gan_bokeh.nets.patchnce import PatchSampleMLP
from gan_bokeh.nets.vgg import vgg19_relu3_2
from gan_bokeh.objectives import build_objective
from gan_bokeh.train.checkpoint import load_checkpoint, load_generator
from gan_bokeh.train.config import TrainConfig
from gan_bokeh.train.loop import RunOptions, train

TINY = ["model.ngf=4", "model.ndf=4", "model.generator=resnet", "model.n_blocks=1", "data.load_size=36",
        "data.crop_size=32", "data.num_workers=0", "train.pool_size=3", "log.image_every=2", "log.latest_every=2",
        "log.save_every=3", "model.nce_mlp_dim=8", "train.nce_patches=16"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_unpaired_dataset(tmp_path_factory.mktemp("data") / "ds")


def _vgg() -> torch.nn.Module:
    torch.manual_seed(0)
    return vgg19_relu3_2()


# -- the loss -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("tau", [0.25, 1.0])
def test_patch_nce_known_values(tau: float) -> None:
    """Hand-computed cross-entropies; catches a wrong temperature, a positive left unmasked among the
    negatives (it would add e^{1/τ} to the denominator) or a wrong target index."""
    eye = torch.eye(2)[None]
    swapped = torch.tensor([[[0.0, 1.0], [1.0, 0.0]]])
    # q = k: positive 1, negatives 0 (and the masked duplicate −10)
    want = math.log(1 + math.exp(-1 / tau) + math.exp(-11 / tau))
    assert float(losses.patch_nce_loss(eye, eye, tau)) == pytest.approx(want, rel=1e-5)
    # q matches the *other* patch: positive 0, one negative 1
    want = math.log(1 + math.exp(-10 / tau) + math.exp(1 / tau))
    assert float(losses.patch_nce_loss(eye, swapped, tau)) == pytest.approx(want, rel=1e-5)


def test_patch_nce_gradient_reaches_queries_not_keys() -> None:
    """Catches a missing ``detach`` on the keys (CUT's keys carry no gradient) and a loss cut off from q."""
    g = torch.Generator().manual_seed(0)
    q = torch.nn.functional.normalize(torch.randn(2, 5, 4, generator=g), dim=-1).requires_grad_()
    k = torch.nn.functional.normalize(torch.randn(2, 5, 4, generator=g), dim=-1).requires_grad_()
    losses.patch_nce_loss(q, k).backward()
    assert q.grad is not None and float(q.grad.abs().sum()) > 0
    assert k.grad is None
    # matching queries score lower than random ones
    assert float(losses.patch_nce_loss(k.detach(), k.detach())) < float(losses.patch_nce_loss(q.detach(), k.detach()))


def test_patch_nce_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError):
        losses.patch_nce_loss(torch.zeros(1, 3, 4), torch.zeros(1, 2, 4))


# -- encoder features and the head ----------------------------------------------------------------------
def test_resnet_encode_layers_and_channels() -> None:
    """CUT's layers for ResNet-9 are 0, 4, 8, 12, 16; ``encode`` returns features with the channels
    ``feature_channels`` announces and leaves ``forward`` untouched (catches an off-by-one layer index)."""
    g9 = build_generator("resnet_9blocks", ngf=4)
    assert g9.default_feature_layers() == [0, 4, 8, 12, 16]
    g = build_generator("resnet_6blocks", ngf=4, n_blocks=1, in_channels=5)
    layers = g.default_feature_layers()
    assert layers == [0, 4, 8, 10]
    x = torch.randn(2, 5, 32, 32)
    feats = g.encode(x, layers)
    assert [f.shape[1] for f in feats] == g.feature_channels(layers) == [5, 8, 16, 16]
    assert [f.shape[-1] for f in feats] == [38, 16, 8, 8]  # padded input, /2, /4, /4
    assert g(x).shape == (2, 3, 32, 32)
    with pytest.raises(ValueError):
        g.encode(x, [99])


def test_patch_sample_mlp_same_places_for_query_and_key() -> None:
    """Passing the key's ids samples the query at the same places (unit vectors, ≤ num_patches each)."""
    torch.manual_seed(0)
    head = PatchSampleMLP([3, 6], nc=8)
    feats = [torch.randn(2, 3, 4, 4), torch.randn(2, 6, 2, 2)]
    k, ids = head(feats, num_patches=10)
    assert [t.shape for t in k] == [(2, 10, 8), (2, 4, 8)]
    assert torch.allclose(k[0].norm(dim=-1), torch.ones(2, 10), atol=1e-5)
    q, ids2 = head(feats, num_patches=10, patch_ids=ids)
    assert all(torch.equal(a, b) for a, b in zip(ids, ids2, strict=True))
    assert torch.allclose(q[0], k[0])


# -- the objectives through the trainer -----------------------------------------------------------------
@pytest.mark.parametrize(("config", "extra", "terms"), [
    ("cut", [], {"D_B", "G_A", "nce", "nce_idt"}),
    ("fastcut", ["train.lambda_mask=0.5", "train.mask_overlay=true"],
     {"D_B", "G_A", "nce", "nce_idt", "mask_norm_A", "mask_vgg_A"}),
])
def test_cut_configs_train(config: str, extra: list[str], terms: set[str], dataset: Path, tmp_path: Path) -> None:
    """Both configs train two iterations with finite losses, write a checkpoint whose G loads for
    ``generate`` (and has no F), and FastCUT's identity term is off."""
    cfg = load_config(TrainConfig, config, overrides=[*TINY, *extra])
    res = train(cfg, RunOptions(data=dataset, run_dir=tmp_path / config, max_iters=2, vgg=_vgg(), progress=False))
    assert res.iteration == 2
    rows = read_jsonl(tmp_path / config / "metrics.jsonl")
    assert set(rows[0]) - {"epoch", "iter", "lr"} == terms
    assert all(np.isfinite(v) for r in rows for v in r.values())
    assert rows[0]["nce"] > 0
    if config == "fastcut":
        assert all(r["nce_idt"] == 0 for r in rows)
    net, state = load_generator(tmp_path / config, "AtoB")
    assert set(state["nets"]) == {"G", "H", "D_B"}
    assert net(torch.zeros(1, 3, 32, 32)).shape == (1, 3, 32, 32)
    with pytest.raises(UserError):
        load_generator(tmp_path / config, "BtoA")


def test_cut_resume_restores_head_and_optimisers(dataset: Path, tmp_path: Path) -> None:
    """The generic state dict covers the NCE head: a resumed run equals an uninterrupted one."""
    cfg = load_config(TrainConfig, "cut", overrides=[*TINY, "train.deterministic=true"])
    full, part = tmp_path / "full", tmp_path / "part"
    train(cfg, RunOptions(data=dataset, run_dir=full, max_iters=4, progress=False))
    train(cfg, RunOptions(data=dataset, run_dir=part, max_iters=2, progress=False))
    train(cfg, RunOptions(data=dataset, run_dir=part, max_iters=4, resume=True, progress=False))
    assert read_jsonl(full / "metrics.jsonl") == read_jsonl(part / "metrics.jsonl")
    sa, sb = load_checkpoint(full), load_checkpoint(part)
    for k in sa["nets"]["H"]:
        assert torch.equal(sa["nets"]["H"][k], sb["nets"]["H"][k])


def test_cut_nce_step_moves_output_towards_input() -> None:
    """With only PatchNCE on (no GAN weight), a few steps lower the NCE loss (the gradient path through
    G's encoder and the head is wired)."""
    cfg = load_config(TrainConfig, "fastcut", overrides=[*TINY, "train.flip_equivariance=false", "train.lr=0.002"])
    model = build_objective(cfg, torch.device("cpu"))
    g = torch.Generator().manual_seed(0)
    batch = {"A": torch.rand(2, 3, 32, 32, generator=g) * 2 - 1, "B": torch.rand(2, 3, 32, 32, generator=g) * 2 - 1}
    torch.manual_seed(0)
    first = model.step(batch)["nce"]
    for _ in range(15):
        last = model.step(batch)["nce"]
    assert last < first


def test_cut_rejects_generator_without_encoder_and_bad_layers() -> None:
    cfg = load_config(TrainConfig, "cut", overrides=[*TINY, "model.nce_layers=[0, 40]"])
    with pytest.raises(UserError, match="nce_layers"):
        build_objective(cfg, torch.device("cpu"))
