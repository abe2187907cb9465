"""One CycleGAN training step (paper §3.3–3.4): the networks, optimisers and pools, and the order in which
the loss functions of :mod:`gan_bokeh.losses` are applied. No loss math lives here."""

from __future__ import annotations

import contextlib
import itertools
import math
import warnings
from typing import Any

import torch
from torch import Tensor, nn

from gan_bokeh import losses as L
from gan_bokeh.train.config import TrainConfig
from gan_bokeh.train.distributed import any_flag
from gan_bokeh.train.models import build_nets, net_archs
from gan_bokeh.train.pool import ImagePool
from gan_bokeh.train.schedule import make_scheduler

__all__ = ["CycleGANModel", "NonFiniteLossError", "LOSS_TERMS"]

#: Loss terms logged every iteration (mask terms only when the mask loss is on).
LOSS_TERMS = ("D_A", "D_B", "G_A", "G_B", "cycle_A", "cycle_B", "idt_A", "idt_B")


class NonFiniteLossError(RuntimeError):
    """A loss became NaN/inf; the step was not applied."""

    def __init__(self, terms: dict[str, float]) -> None:
        self.terms = terms
        bad = ", ".join(f"{k}={v}" for k, v in terms.items() if not math.isfinite(v))
        super().__init__(f"non-finite loss ({bad})")


def _set_requires_grad(nets: list[nn.Module], flag: bool) -> None:
    for n in nets:
        for p in n.parameters():
            p.requires_grad_(flag)


def _unwrap(net: nn.Module) -> nn.Module:
    return net.module if hasattr(net, "module") else net


class CycleGANModel:
    """G: A→B, F: B→A, D_A (judges domain A), D_B (judges domain B), their Adam optimisers, LR schedulers,
    the two image pools, the optional VGG of the mask loss, and AMP's grad scaler.

    Args:
        cfg: the resolved training config.
        device: where to train.
        vgg: VGG feature extractor (required when ``cfg.needs_vgg``); injected so tests can pass a
            random-init one and the caller decides where its weights come from.
        rank: DDP rank (decorrelates the pools' randomness across ranks).
    """

    def __init__(self, cfg: TrainConfig, device: torch.device, vgg: nn.Module | None = None, rank: int = 0) -> None:
        t = cfg.train
        if cfg.needs_vgg and vgg is None:
            raise ValueError("the mask loss with mask_vgg_weight > 0 needs a VGG feature extractor")
        self.cfg, self.device = cfg, device
        self.archs = net_archs(cfg.model)
        # Identical init on every rank and every run with this seed, without resetting the global RNG: each
        # rank's device-side augmentation keeps drawing from its own (seed + rank) stream.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(t.seed)
            nets = build_nets(self.archs)
        self.cuda = device.type == "cuda"
        self.amp = self.cuda and t.amp
        self.memory_format = torch.channels_last if (self.cuda and t.channels_last) else torch.contiguous_format
        self.nets: dict[str, nn.Module] = {k: n.to(device, memory_format=self.memory_format) for k, n in nets.items()}
        self.vgg = vgg.to(device, memory_format=self.memory_format) if (vgg is not None and cfg.needs_vgg) else None
        self.opt_G = torch.optim.Adam(itertools.chain(self.nets["G"].parameters(), self.nets["F"].parameters()),
                                      lr=t.lr, betas=(t.beta1, t.beta2))
        self.opt_D = torch.optim.Adam(itertools.chain(self.nets["D_A"].parameters(), self.nets["D_B"].parameters()),
                                      lr=t.lr, betas=(t.beta1, t.beta2))
        self.sched_G = make_scheduler(self.opt_G, t.n_epochs, t.n_epochs_decay)
        self.sched_D = make_scheduler(self.opt_D, t.n_epochs, t.n_epochs_decay)
        self.pool_A = ImagePool(t.pool_size, seed=t.seed * 1000 + 2 * rank)
        self.pool_B = ImagePool(t.pool_size, seed=t.seed * 1000 + 2 * rank + 1)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.visuals: dict[str, Tensor] = {}

    # -- wiring ---------------------------------------------------------------------------------------
    def wrap_ddp(self, device_ids: list[int] | None = None) -> None:
        """Wrap the four nets in DistributedDataParallel (after the process group is up)."""
        from torch.nn.parallel import DistributedDataParallel as DDP

        for k in self.nets:
            self.nets[k] = DDP(self.nets[k], device_ids=device_ids)

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp:
            return torch.autocast("cuda", dtype=torch.float16)
        return contextlib.nullcontext()

    def _to_device(self, x: Tensor) -> Tensor:
        if x.ndim == 4:
            return x.to(self.device, non_blocking=True, memory_format=self.memory_format)
        return x.to(self.device, non_blocking=True)

    def translate(self, net: nn.Module, x: Tensor, mask: Tensor | None) -> Tensor:
        """One pass through a generator, with the mask overlay (eq. 13) when training uses it."""
        y = net(x)
        if self.cfg.train.mask_overlay:
            y = L.mask_overlay(y, x, mask)
        return y

    @property
    def lr(self) -> float:
        return float(self.opt_G.param_groups[0]["lr"])

    # -- one iteration ----------------------------------------------------------------------------------
    def step(self, batch: dict[str, Any]) -> dict[str, float]:
        """Update G and F, then D_A and D_B, on one batch; return every loss term as a float.

        Raises:
            NonFiniteLossError: before any update is applied when a loss is NaN/inf.
        """
        real_A, real_B = self._to_device(batch["A"]), self._to_device(batch["B"])
        mA = self._to_device(batch["mask_A"]) if "mask_A" in batch else None
        mB = self._to_device(batch["mask_B"]) if "mask_B" in batch else None
        fakes, terms_G = self._generator_step(real_A, real_B, mA, mB)
        terms_D = self._discriminator_step(real_A, real_B, *fakes)
        self.scaler.update()
        return {k: float(v) for k, v in {**terms_G, **terms_D}.items()}

    def _generator_losses(self, real_A: Tensor, real_B: Tensor, mA: Tensor | None,
                          mB: Tensor | None) -> tuple[tuple[Tensor, Tensor], dict[str, Tensor]]:
        t, n = self.cfg.train, self.nets
        G, F = n["G"], n["F"]
        D_A, D_B = _unwrap(n["D_A"]), _unwrap(n["D_B"])  # frozen here: no DDP gradient sync needed
        fake_B = self.translate(G, real_A, mA)
        rec_A = self.translate(F, fake_B, mA)
        fake_A = self.translate(F, real_B, mB)
        rec_B = self.translate(G, fake_A, mB)
        terms: dict[str, Tensor] = {
            "G_A": L.gan_loss(D_B(fake_B), True, t.gan_mode),
            "G_B": L.gan_loss(D_A(fake_A), True, t.gan_mode),
            "cycle_A": L.cycle_loss(rec_A, real_A, t.lambda_cyc),
            "cycle_B": L.cycle_loss(rec_B, real_B, t.lambda_cyc),
        }
        if t.lambda_idt > 0:
            terms["idt_A"] = L.identity_loss(self.translate(G, real_B, mB), real_B, t.lambda_cyc, t.lambda_idt)
            terms["idt_B"] = L.identity_loss(self.translate(F, real_A, mA), real_A, t.lambda_cyc, t.lambda_idt)
        else:
            zero = real_A.new_zeros(())
            terms["idt_A"], terms["idt_B"] = zero, zero
        if t.lambda_mask > 0:
            for side, real, fake, m in (("A", real_A, fake_B, mA), ("B", real_B, fake_A, mB)):
                feats = None
                if self.vgg is not None:
                    with torch.no_grad():  # the target needs no gradient: one VGG pass on the real image
                        feats = self.vgg(L.masked(real, m))
                parts = L.mask_loss(real, fake, m, lambda_cyc=t.lambda_cyc, lambda_mask=t.lambda_mask,
                                    vgg=self.vgg, vgg_weight=t.mask_vgg_weight, real_features=feats)
                for k, v in parts.items():
                    terms[f"mask_{k}_{side}"] = v
        self.visuals = {"real_A": real_A, "fake_B": fake_B, "rec_A": rec_A,
                        "real_B": real_B, "fake_A": fake_A, "rec_B": rec_B}
        if mA is not None and mB is not None:
            self.visuals.update(mask_A=mA, mask_B=mB)
        return (fake_A, fake_B), terms

    def _generator_step(self, real_A: Tensor, real_B: Tensor, mA: Tensor | None,
                        mB: Tensor | None) -> tuple[tuple[Tensor, Tensor], dict[str, Tensor]]:
        n = self.nets
        _set_requires_grad([n["D_A"], n["D_B"]], False)
        self.opt_G.zero_grad(set_to_none=True)
        with self._autocast():
            fakes, terms = self._generator_losses(real_A, real_B, mA, mB)
            loss = torch.stack([v.float() for v in terms.values()]).sum()
        self._check_finite(terms)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.opt_G)
        _set_requires_grad([n["D_A"], n["D_B"]], True)
        return fakes, {k: v.detach() for k, v in terms.items()}

    def _discriminator_step(self, real_A: Tensor, real_B: Tensor, fake_A: Tensor, fake_B: Tensor) -> dict[str, Tensor]:
        t, n = self.cfg.train, self.nets
        self.opt_D.zero_grad(set_to_none=True)
        with self._autocast():
            pooled_B = self.pool_B.query(fake_B.detach())
            pooled_A = self.pool_A.query(fake_A.detach())
            terms = {
                "D_A": L.discriminator_loss(n["D_A"](real_A), n["D_A"](pooled_A), t.gan_mode),
                "D_B": L.discriminator_loss(n["D_B"](real_B), n["D_B"](pooled_B), t.gan_mode),
            }
        self._check_finite(terms)
        self.scaler.scale(terms["D_A"] + terms["D_B"]).backward()
        self.scaler.step(self.opt_D)
        return {k: v.detach() for k, v in terms.items()}

    def _check_finite(self, terms: dict[str, Tensor]) -> None:
        vals = torch.stack([v.detach().float() for v in terms.values()])
        # All ranks must agree, or the others would wait forever in DDP's gradient all-reduce.
        (bad,) = any_flag(not bool(torch.isfinite(vals).all()), device=self.device)
        if bad:
            raise NonFiniteLossError({k: float(v.detach()) for k, v in terms.items()})

    def end_epoch(self) -> None:
        """Advance the LR schedule (once per epoch)."""
        with warnings.catch_warnings():
            # A run resumed exactly at an epoch boundary steps the schedule before any optimiser step in
            # this process; the schedule is still right, so torch's order warning is noise here.
            warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step\(\)`")
            self.sched_G.step()
            self.sched_D.step()

    # -- checkpoint state -----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "arch": self.archs,
            "nets": {k: _unwrap(v).state_dict() for k, v in self.nets.items()},
            "optim": {"G": self.opt_G.state_dict(), "D": self.opt_D.state_dict()},
            "sched": {"G": self.sched_G.state_dict(), "D": self.sched_D.state_dict()},
            "scaler": self.scaler.state_dict(),
            "pools": {"A": self.pool_A.state_dict(), "B": self.pool_B.state_dict()},
        }

    def load_state_dict(self, state: dict[str, Any], pools: dict[str, Any] | None = None) -> None:
        for k, v in self.nets.items():
            _unwrap(v).load_state_dict(state["nets"][k])
        self.opt_G.load_state_dict(state["optim"]["G"])
        self.opt_D.load_state_dict(state["optim"]["D"])
        self.sched_G.load_state_dict(state["sched"]["G"])
        self.sched_D.load_state_dict(state["sched"]["D"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        pools = pools or state["pools"]
        self.pool_A.load_state_dict(pools["A"], self.device)
        self.pool_B.load_state_dict(pools["B"], self.device)
