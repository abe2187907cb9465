"""The rendering objective (``defocus``): G predicts a per-pixel blur radius and the differentiable renderer
(:mod:`gan_bokeh.render.differentiable`) makes the output from the input photo; D_B judges the rendered
photo against real shallow-depth-of-field photos. No F and no cycle: the output cannot hide anything, it is
a blur of the input by construction.

The paper's mask tools, translated: the **mask loss** becomes a penalty on blur inside the subject,
``λ_cyc·λ_mask·Σ M·r / (r_max·Σ M)`` (:func:`gan_bokeh.losses.subject_blur_penalty`; λ_cyc keeps the weights
comparable with the CycleGAN configs); the **overlay** (``train.mask_overlay``) pastes the real subject over
what D_B sees, as in :mod:`gan_bokeh.objectives.cyclegan`. With a mask in the batch the renderer gathers
background light only, so the subject never bleeds into the blur.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from gan_bokeh import losses as L
from gan_bokeh.errors import UserError
from gan_bokeh.nets import build_discriminator, build_generator
from gan_bokeh.objectives.base import unwrap
from gan_bokeh.objectives.one_sided import OneSidedObjective
from gan_bokeh.objectives.registry import register_objective
from gan_bokeh.train.config import TrainConfig
from gan_bokeh.train.models import net_archs
from gan_bokeh.train.pool import ImagePool
from gan_bokeh.train.schedule import make_scheduler

__all__ = ["DefocusModel"]


def defocus_archs(cfg: TrainConfig) -> dict[str, dict[str, Any]]:
    """Checkpoint arch record: the rendering generator G (with its radius range) and D_B."""
    m = cfg.model
    archs = net_archs(m)
    g = archs["G"]
    kw = {**g["kwargs"], "max_radius": m.max_radius, "n_radii": m.n_radii,
          "mask_channel": 3 if "mask" in m.inputs else None}
    return {"G": {"name": g["name"], "kwargs": kw}, "D_B": archs["D_B"]}


@register_objective("defocus")
class DefocusModel(OneSidedObjective):
    """G (a rendering generator such as ``defocus_resnet``), D_B, their Adam optimisers, LR schedules and
    D_B's image pool. The VGG argument is accepted and unused (the subject penalty needs none)."""

    LOSS_TERMS = ("D_B", "G_A", "blur_subject", "radius_mean")
    VISUAL_ROWS = (("A", ("real_A", "fake_B", "radius", "mask_A")), ("B", ("real_B",)))

    def __init__(self, cfg: TrainConfig, device: torch.device, vgg: nn.Module | None = None, rank: int = 0) -> None:
        t, m = cfg.train, cfg.model
        if m.max_radius <= 0 or m.n_radii < 2:
            raise UserError("model.max_radius must be > 0 and model.n_radii >= 2")
        self._init_common(cfg, device)
        self.archs = defocus_archs(cfg)
        with torch.random.fork_rng(devices=[]):  # identical init on every rank, global RNG untouched
            torch.manual_seed(t.seed)
            G = build_generator(self.archs["G"]["name"], **self.archs["G"]["kwargs"])
            D = build_discriminator(self.archs["D_B"]["name"], **self.archs["D_B"]["kwargs"])
        if not hasattr(G, "radius_map"):
            raise UserError(f"model.generator {m.generator!r} does not render; the defocus objective needs a "
                            "rendering generator (defocus_resnet)")
        self.nets = {k: n.to(device, memory_format=self.memory_format) for k, n in {"G": G, "D_B": D}.items()}
        self.optimizers = {k: torch.optim.Adam(self.nets[n].parameters(), lr=t.lr, betas=(t.beta1, t.beta2))
                           for k, n in (("G", "G"), ("D", "D_B"))}
        self.schedulers = {k: make_scheduler(o, t.n_epochs, t.n_epochs_decay) for k, o in self.optimizers.items()}
        self.pools = {"B": ImagePool(t.pool_size, seed=t.seed * 1000 + 2 * rank + 1)}

    def _generator_losses(self, real_A: Tensor, mA: Tensor | None, extra_A: Tensor | None
                          ) -> tuple[Tensor, dict[str, Tensor]]:
        t = self.cfg.train
        G, D_B = unwrap(self.nets["G"]), unwrap(self.nets["D_B"])
        radius = G.radius_map(self._net_input(real_A, extra_A))
        raw_B = G.render(real_A, radius, mA)
        fake_B = L.mask_overlay(raw_B, real_A, mA) if t.mask_overlay else raw_B
        terms: dict[str, Tensor] = {"G_A": L.gan_loss(D_B(fake_B), True, t.gan_mode)}
        if t.lambda_mask > 0:
            assert mA is not None  # the dataset loads masks whenever cfg.needs_masks
            terms["blur_subject"] = t.lambda_cyc * t.lambda_mask * L.subject_blur_penalty(radius, mA, G.max_radius)
        self.visuals = {"real_A": real_A, "fake_B": fake_B,
                        # grey map, white = largest blur (3 channels in [-1, 1], as the image rows)
                        "radius": (radius.detach() / G.max_radius * 2 - 1).expand(-1, 3, -1, -1)}
        if mA is not None:
            self.visuals["mask_A"] = mA
        self._radius_mean = radius.detach().mean() / G.max_radius
        return fake_B, terms

    def step(self, batch: dict[str, Any]) -> dict[str, float]:
        """Update G, then D_B; return every loss term (and the mean radius as a fraction of the largest,
        ``radius_mean``, a diagnostic that is not optimised) as floats.

        Raises:
            NonFiniteLossError: before any update is applied when a loss is NaN/inf.
        """
        real_A, real_B = self._to_device(batch["A"]), self._to_device(batch["B"])
        mA = self._to_device(batch["mask_A"]) if "mask_A" in batch else None
        extra_A = self._extras(batch, "A")
        out = self._one_sided_step(lambda: self._generator_losses(real_A, mA, extra_A), real_B, self.pools["B"])
        self.visuals["real_B"] = real_B
        out["radius_mean"] = float(self._radius_mean)
        return out
