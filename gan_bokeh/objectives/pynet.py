"""The paired PyNET objective (Ignatov, Patel, Timofte, "Rendering Natural Camera Bokeh Effect with Deep
Learning", CVPR Workshops 2020): one generator trained level by level on aligned photo pairs.

Schedule: ``pynet.levels`` (coarsest first) are trained one after the other, level ``levels[i]`` for
``level_epochs[i]`` epochs; each level starts from the weights the levels below it were trained to (the same
network object, so nothing is copied) and with fresh Adam moments, as the authors' separate per-level runs
do. The current level is a function of the epoch counter, so ``--resume`` continues in the same level,
mid-level, with that level's optimiser state.

Input/target geometry (the authors' recipe): the loader gives an aligned ``S×S`` crop of photo and target
at full resolution; the network sees the photo (and depth) downscaled ×2 (``S/2``), and level ``k`` is
compared with the target downscaled to ``S·2^(1−k)`` (level 1: full resolution).

Losses per level (:func:`gan_bokeh.losses.pynet_level_loss`): L1 at levels above ``pynet.fine_level``;
L1 + VGG19 relu5_4 content + (1 − SSIM) at the finest — the weights of the authors' bokeh training script
(100·L1; 10·L1 + 0.1·content + 10·(1 − SSIM), the content weight rescaled to torchvision's VGG input
normalisation, see :class:`~gan_bokeh.train.config.PyNETConfig`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_bokeh import losses as L
from gan_bokeh.objectives.base import Objective, unwrap
from gan_bokeh.objectives.registry import register_objective
from gan_bokeh.train.config import TrainConfig

__all__ = ["PyNETObjective", "pynet_arch", "level_at_epoch"]


def pynet_arch(cfg: TrainConfig) -> dict[str, Any]:
    """The checkpoint ``arch`` record of the generator."""
    return {"name": cfg.model.generator, "kwargs": {"ngf": cfg.model.ngf, "depth": ("depth" in cfg.model.inputs)}}


def level_at_epoch(cfg: TrainConfig, epoch: int) -> tuple[int, int]:
    """``(level, index in pynet.levels)`` trained in 0-based ``epoch`` (the last level past the end)."""
    p = cfg.pynet
    end = 0
    for i, (level, n) in enumerate(zip(p.levels, p.level_epochs, strict=True)):
        end += n
        if epoch < end:
            return level, i
    return p.levels[-1], len(p.levels) - 1


def prepare_paired(batch: dict[str, Any], level: int, device: torch.device, depth: bool) -> dict[str, Tensor]:
    """Loader batch (uint8 ``input``/``target`` ``(B, 3, S, S)``, float ``depth`` ``(B, 1, S, S)``) →
    ``{"x": (B, 3|4, S/2, S/2), "target": (B, 3, S·2^(1−level), …)}`` in [-1, 1] on ``device``.

    Area downscaling is the anti-aliased equivalent of the authors' bicubic ``imresize``.
    """
    inp = batch["input"].to(device, non_blocking=True).float().div_(255.0)
    tgt = batch["target"].to(device, non_blocking=True).float().div_(255.0)
    x = F.interpolate(inp, scale_factor=0.5, mode="area")
    if depth:
        d = F.interpolate(batch["depth"].to(device, non_blocking=True).float(), scale_factor=0.5, mode="area")
        x = torch.cat([x, d], 1)
    side = round(tgt.shape[-1] * 2.0 ** (1 - level))
    if side != tgt.shape[-1]:
        tgt = F.interpolate(tgt, size=(side, side), mode="area")
    return {"x": x.mul_(2).sub_(1), "target": tgt.mul_(2).sub_(1)}


@register_objective("pynet")
class PyNETObjective(Objective):
    """One PyNET generator ``G`` (so ``generate`` loads it like a GAN's ``G``), its Adam optimiser, the
    optional VGG of the content loss and AMP's grad scaler.

    Args:
        cfg: resolved training config (``model.objective: pynet``).
        device: where to train.
        vgg: VGG19 up to relu5_4 (required when ``cfg.needs_vgg``).
        rank: DDP rank (unused: no per-rank randomness in the objective).
    """

    data_kind = "paired"
    LOSS_TERMS = ("l1", "content", "ssim")
    VISUAL_ROWS = (("pair", ("target", "output", "input")),)
    BATCH_KEY = "input"
    SKIPPED = "bad pair"
    BAR_TERMS = ("l1", "ssim")

    def __init__(self, cfg: TrainConfig, device: torch.device, vgg: nn.Module | None = None,
                 rank: int = 0) -> None:  # noqa: ARG002 - same signature as every objective
        from gan_bokeh.nets import build_generator

        if cfg.needs_vgg and vgg is None:
            raise ValueError("the PyNET content loss (pynet.content_weight > 0) needs a VGG feature extractor")
        self._init_common(cfg, device)
        arch = pynet_arch(cfg)
        self.archs = {"G": arch}
        with torch.random.fork_rng(devices=[]):  # same init on every rank, global RNG untouched
            torch.manual_seed(cfg.train.seed)
            net = build_generator(arch["name"], **arch["kwargs"])
        self.nets = {"G": net.to(device, memory_format=self.memory_format)}
        self.vgg = vgg.to(device, memory_format=self.memory_format) if (vgg is not None and cfg.needs_vgg) else None
        t = cfg.train
        self.optimizers = {"G": torch.optim.Adam(self.nets["G"].parameters(), lr=t.lr, betas=(t.beta1, t.beta2))}
        self.schedulers = {}  # the authors keep the rate constant within a level
        self.level: int | None = None

    # -- data and schedule hooks ---------------------------------------------------------------------------
    @classmethod
    def make_dataset(cls, cfg: TrainConfig, root: Path, cache_dir: str | Path | None) -> Any:
        from gan_bokeh.data import PairedDataset
        from gan_bokeh.depth import check_colormap
        from gan_bokeh.errors import UserError

        check_colormap(cfg.data.depth_colormap)
        ds = PairedDataset(root, "train", crop_size=cfg.data.crop_size, load_size=cfg.data.load_size,
                           need_depth=("depth" in cfg.model.inputs), depth_kind=cfg.data.depth_kind,
                           depth_colormap=cfg.data.depth_colormap, flip=cfg.data.flip, seed=cfg.train.seed,
                           cache_dir=cache_dir)
        biggest = max(cfg.pynet.level_batch_size or [cfg.train.batch_size])
        if len(ds) < biggest:
            raise UserError(f"{root}: {len(ds)} pairs are fewer than the largest batch ({biggest}); lower "
                            "train.batch_size / pynet.level_batch_size")
        return ds

    @classmethod
    def make_sampler(cls, ds: Any, cfg: TrainConfig, *, epoch: int, start: int, rank: int, world_size: int) -> Any:
        from gan_bokeh.data import UnpairedBatchSampler

        _, i = level_at_epoch(cfg, epoch)
        bs = cfg.pynet.level_batch_size[i] if cfg.pynet.level_batch_size else cfg.train.batch_size
        # n_b = 1: the same deterministic, resumable, rank-sliced order, without a partner draw.
        return UnpairedBatchSampler(ds.n_a, 1, batch_size=bs, seed=cfg.train.seed, epoch=epoch, start_batch=start,
                                    rank=rank, world_size=world_size)

    @staticmethod
    def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
        from gan_bokeh.data import collate_paired

        return collate_paired(items)

    @classmethod
    def total_epochs(cls, cfg: TrainConfig) -> int:
        return sum(cfg.pynet.level_epochs)

    @classmethod
    def build_vgg(cls, cfg: TrainConfig, weights: str | None) -> nn.Module:  # noqa: ARG003
        from gan_bokeh.train.models import build_content_vgg

        return build_content_vgg(weights)

    def start_epoch(self, epoch: int) -> None:
        level, _ = level_at_epoch(self.cfg, epoch)
        if level != self.level:
            # A new level: fresh Adam moments (the authors train each level in its own run, restoring only the
            # weights). A resumed run restores self.level with the optimiser, so a mid-level resume keeps both.
            for opt in self.optimizers.values():
                opt.state.clear()
            self.level = level

    def prepare_batch(self, batch: dict[str, Any]) -> dict[str, Any]:
        assert self.level is not None, "start_epoch sets the level before the first step"
        return prepare_paired(batch, self.level, self.device, "depth" in self.cfg.model.inputs)

    def log_extra(self) -> dict[str, Any]:
        return {"level": self.level}

    def epoch_note(self) -> str:
        return f" (level {self.level})"

    def wrap_ddp(self, device_ids: list[int] | None = None) -> None:
        """DDP with ``find_unused_parameters``: a level leaves the finer levels' layers (and the other
        levels' output heads) out of the graph."""
        from torch.nn.parallel import DistributedDataParallel as DDP

        for k in self.nets:
            self.nets[k] = DDP(self.nets[k], device_ids=device_ids, find_unused_parameters=True)

    # -- one iteration ---------------------------------------------------------------------------------------
    def step(self, batch: dict[str, Any]) -> dict[str, float]:
        """One Adam step of the current level on ``batch`` (from :meth:`prepare_batch`).

        Raises:
            NonFiniteLossError: before the update when a loss is NaN/inf.
        """
        assert self.level is not None
        p, opt = self.cfg.pynet, self.optimizers["G"]
        x, target = self._to_device(batch["x"]), self._to_device(batch["target"])
        opt.zero_grad(set_to_none=True)
        with self._autocast():
            out = self.nets["G"](x, level=self.level)
        # Losses in float32 (SSIM's variances and the VGG MSE are fragile in half precision).
        terms = L.pynet_level_loss(out.float(), target, fine=self.level <= p.fine_level, pixel_weight=p.pixel_weight,
                                   fine_pixel_weight=p.fine_pixel_weight, content_weight=p.content_weight,
                                   ssim_weight=p.ssim_weight, vgg=self.vgg)
        loss = torch.stack(list(terms.values())).sum()
        self._check_finite(terms)
        self.scaler.scale(loss).backward()
        self.scaler.step(opt)
        self.scaler.update()
        self.visuals = {"target": target, "output": out.detach(), "input": x[:, :3]}
        return {k: float(v.detach()) for k, v in terms.items()}

    # -- checkpoint state ------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "level": self.level}

    def load_state_dict(self, state: dict[str, Any], pools: dict[str, Any] | None = None) -> None:
        super().load_state_dict(state, pools)
        self.level = state.get("level")

    @property
    def generator(self) -> nn.Module:
        return unwrap(self.nets["G"])
