"""What every objective shares: device placement, AMP, DDP wrapping, the finite-loss guard, LR schedules
and checkpoint state. Subclasses build their networks, optimisers, schedulers and pools in ``__init__`` and
implement :meth:`Objective.step`; they own the order of the losses, never their math."""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from gan_bokeh.train.config import TrainConfig
from gan_bokeh.train.distributed import any_flag

__all__ = ["Objective", "NonFiniteLossError", "set_requires_grad", "unwrap"]


class NonFiniteLossError(RuntimeError):
    """A loss became NaN/inf; the step was not applied."""

    def __init__(self, terms: dict[str, float]) -> None:
        self.terms = terms
        bad = ", ".join(f"{k}={v}" for k, v in terms.items() if not math.isfinite(v))
        super().__init__(f"non-finite loss ({bad})")


def set_requires_grad(nets: list[nn.Module], flag: bool) -> None:
    for n in nets:
        for p in n.parameters():
            p.requires_grad_(flag)


def unwrap(net: nn.Module) -> nn.Module:
    """The module inside a DistributedDataParallel wrapper (or the module itself)."""
    return net.module if hasattr(net, "module") else net


class Objective:
    """Base class of registered objectives.

    Subclasses set, in ``__init__`` (after calling :meth:`_init_common`): ``self.archs`` (checkpoint arch
    record, ``{"G": {"name", "kwargs"}, ...}``), ``self.nets``, ``self.optimizers``, ``self.schedulers`` and
    ``self.pools`` (name → object with ``state_dict``/``load_state_dict``).

    Class attributes:
        name: registry name (set by ``@register_objective``).
        data_kind: ``"unpaired"`` (trainA/ trainB/) or ``"paired"``; the trainer picks the dataset from it.
        LOSS_TERMS: terms logged first, in this order, in the epoch summary.
        VISUAL_ROWS: TensorBoard image rows: ``(row name, visual keys)``.
        BATCH_KEY: the batch entry that is ``None`` when every item of a batch was skipped.
        SKIPPED: what a skipped item is called in warnings and the epoch summary.
        BAR_TERMS: loss terms shown on the progress bar.

    Data and schedule hooks (class methods, so the trainer can check the data before building anything):
    :meth:`make_dataset`, :meth:`make_sampler`, :meth:`collate`, :meth:`total_epochs`, :meth:`build_vgg`;
    per step :meth:`prepare_batch` (device-side augmentation), per epoch :meth:`start_epoch`. The defaults
    are the unpaired (``trainA/`` ``trainB/``) ones.
        LOSS_DESCRIPTIONS: what each logged term means (shown next to the TensorBoard curves); say where a
            name differs from a well-known implementation's, so runs are not compared crosswise.
    """

    name: ClassVar[str] = ""
    data_kind: ClassVar[str] = "unpaired"

    LOSS_TERMS: ClassVar[tuple[str, ...]] = ()
    VISUAL_ROWS: ClassVar[tuple[tuple[str, tuple[str, ...]], ...]] = ()
    BATCH_KEY: ClassVar[str] = "A"
    SKIPPED: ClassVar[str] = "unreadable image"
    BAR_TERMS: ClassVar[tuple[str, ...]] = ("G_A", "D_B", "cycle_A")
    LOSS_DESCRIPTIONS: ClassVar[dict[str, str]] = {}

    archs: dict[str, dict[str, Any]]
    nets: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    schedulers: dict[str, Any]
    pools: dict[str, Any]

    @classmethod
    def input_domains(cls, cfg: TrainConfig) -> str:
        """The domains whose masks and depth the dataset must load for ``cfg`` (``"AB"`` or ``"A"``)."""
        return "AB"

    def _init_common(self, cfg: TrainConfig, device: torch.device) -> None:
        self.cfg, self.device = cfg, device
        self.cuda = device.type == "cuda"
        self.amp = self.cuda and cfg.train.amp
        self.amp_dtype = torch.bfloat16 if cfg.train.amp_dtype == "bfloat16" else torch.float16
        self.memory_format = torch.channels_last if (self.cuda and cfg.train.channels_last) else torch.contiguous_format
        # bfloat16 has float32's exponent range: its gradients do not underflow, so no loss scaling
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp and self.amp_dtype == torch.float16)
        self.visuals: dict[str, Tensor] = {}
        self.pools = {}

    # -- data and schedule hooks (defaults: unpaired data, one LR schedule over all epochs) ---------------
    @classmethod
    def make_dataset(cls, cfg: TrainConfig, root: Path, cache_dir: str | Path | None) -> Any:
        """The training dataset (raises :class:`~gan_bokeh.errors.UserError` on a bad folder)."""
        from gan_bokeh.data import UnpairedDataset

        d = cfg.data
        return UnpairedDataset(root, "train", load_size=d.load_size, need_masks=cfg.needs_masks,
                               mask_dir=d.mask_dir, cache_dir=cache_dir, need_depth=cfg.needs_depth,
                               depth_dir=d.depth_dir, depth_kind=d.depth_kind, squash=d.squash,
                               domains=cls.input_domains(cfg))

    @classmethod
    def make_sampler(cls, ds: Any, cfg: TrainConfig, *, epoch: int, start: int, rank: int,
                     world_size: int) -> Any:
        """A resumable batch sampler for ``epoch`` starting at batch ``start`` (has ``batches_per_epoch``)."""
        from gan_bokeh.data import UnpairedBatchSampler

        return UnpairedBatchSampler(ds.n_a, ds.n_b, batch_size=cfg.train.batch_size, seed=cfg.train.seed,
                                    epoch=epoch, start_batch=start, rank=rank, world_size=world_size)

    @staticmethod
    def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
        from gan_bokeh.data import collate_unpaired

        return collate_unpaired(items)

    @classmethod
    def total_epochs(cls, cfg: TrainConfig) -> int:
        return cfg.train.n_epochs + cfg.train.n_epochs_decay

    @classmethod
    def build_vgg(cls, cfg: TrainConfig, weights: str | None) -> nn.Module:  # noqa: ARG003 - subclasses use cfg
        """The VGG feature extractor with ImageNet weights (only called when ``cfg.needs_vgg``)."""
        from gan_bokeh.train.models import build_mask_vgg

        return build_mask_vgg(weights)

    def prepare_batch(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Loader batch → training tensors on the device (default: kornia crop/flip/jitter, images in [-1, 1])."""
        from gan_bokeh.data import PairedAugment, augment_batch

        if getattr(self, "_augment", None) is None:
            d = self.cfg.data
            self._augment = PairedAugment(d.crop_size, flip=bool(d.flip), color_jitter=d.color_jitter)
        return augment_batch(batch, self._augment, self.device)

    def start_epoch(self, epoch: int) -> None:
        """Called before every epoch (also the first one after a resume)."""

    def log_extra(self) -> dict[str, Any]:
        """Extra fields of every metrics.jsonl row (e.g. the current level)."""
        return {}

    def epoch_note(self) -> str:
        """Extra words for the epoch summary line."""
        return ""

    # -- wiring ---------------------------------------------------------------------------------------
    def wrap_ddp(self, device_ids: list[int] | None = None) -> None:
        """Wrap every net in DistributedDataParallel (after the process group is up)."""
        from torch.nn.parallel import DistributedDataParallel as DDP

        for k in self.nets:
            self.nets[k] = DDP(self.nets[k], device_ids=device_ids)

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp:
            return torch.autocast("cuda", dtype=self.amp_dtype)
        return contextlib.nullcontext()

    def _to_device(self, x: Tensor) -> Tensor:
        if x.ndim == 4:
            return x.to(self.device, non_blocking=True, memory_format=self.memory_format)
        return x.to(self.device, non_blocking=True)

    def _extras(self, batch: dict[str, Any], dom: str) -> Tensor | None:
        """The generator's extra input channels for domain ``dom`` (``model.inputs`` after ``rgb``): the
        subject mask and/or the depth (0 near … 1 far), ``(B, k, H, W)`` on the device; ``None`` for RGB only."""
        names = [f"{k}_{dom}" for k in self.cfg.model.inputs[1:]]
        if not names:
            return None
        return torch.cat([self._to_device(batch[n]).float() for n in names], dim=1)

    @staticmethod
    def _net_input(x: Tensor, extras: Tensor | None) -> Tensor:
        """``x`` with the extra input channels appended (the discriminators never see them)."""
        return x if extras is None else torch.cat([x, extras.to(x.dtype)], dim=1)

    def _mask_loss_terms(self, side: str, real: Tensor, raw: Tensor, seen: Tensor, mask: Tensor) -> dict[str, Tensor]:
        """The paper's mask loss (eq. 10–12) of one direction, on the output ``train.mask_loss_on`` names:
        the generator's ``raw`` output or the overlaid one it ``seen``; uses ``self.vgg`` when set."""
        from gan_bokeh import losses as L

        t = self.cfg.train
        fake = raw if t.mask_loss_on == "raw" else seen
        vgg = getattr(self, "vgg", None)
        feats = None
        if vgg is not None:
            with torch.no_grad():  # the target needs no gradient: one VGG pass on the real image
                feats = vgg(L.masked(real, mask))
        parts = L.mask_loss(real, fake, mask, lambda_cyc=t.lambda_cyc, lambda_mask=t.lambda_mask,
                            vgg=vgg, vgg_weight=t.mask_vgg_weight, real_features=feats)
        return {f"mask_{k}_{side}": v for k, v in parts.items()}

    def _generator_update(self, frozen: list[nn.Module], opt: torch.optim.Optimizer,
                          losses: Callable[[], tuple[Any, dict[str, Tensor]]]) -> tuple[Any, dict[str, Tensor]]:
        """One generator update, the same for every GAN objective: the discriminators ``frozen`` (no
        gradients), ``losses() -> (outputs, terms)`` under autocast, their sum back-propagated and ``opt``
        stepped through the shared GradScaler; returns ``(outputs, terms)`` (the terms still attached).

        Raises:
            NonFiniteLossError: before the update is applied when a loss is NaN/inf.
        """
        set_requires_grad(frozen, False)
        opt.zero_grad(set_to_none=True)
        with self._autocast():
            out, terms = losses()
            loss = torch.stack([v.float() for v in terms.values()]).sum()
        self._check_finite(terms)
        self.scaler.scale(loss).backward()
        self.scaler.step(opt)
        set_requires_grad(frozen, True)
        return out, terms

    def _check_finite(self, terms: dict[str, Tensor]) -> None:
        vals = torch.stack([v.detach().float() for v in terms.values()])
        # All ranks must agree, or the others would wait forever in DDP's gradient all-reduce.
        (bad,) = any_flag(not bool(torch.isfinite(vals).all()), device=self.device)
        if bad:
            raise NonFiniteLossError({k: float(v.detach()) for k, v in terms.items()})

    @property
    def lr(self) -> float:
        first = next(iter(self.optimizers.values()))
        return float(first.param_groups[0]["lr"])

    # -- one iteration ----------------------------------------------------------------------------------
    def step(self, batch: dict[str, Any]) -> dict[str, float]:
        """Apply one optimisation step on ``batch``; return every loss term as a float."""
        raise NotImplementedError

    def end_epoch(self) -> None:
        """Advance the LR schedules (once per epoch)."""
        with warnings.catch_warnings():
            # A run resumed exactly at an epoch boundary steps the schedule before any optimiser step in
            # this process; the schedule is still right, so torch's order warning is noise here.
            warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step\(\)`")
            for s in self.schedulers.values():
                s.step()

    # -- checkpoint state -----------------------------------------------------------------------------
    def pools_state(self) -> dict[str, Any]:
        """This rank's image pools (saved per rank so a DDP run resumes exactly)."""
        return {k: p.state_dict() for k, p in self.pools.items()}

    def state_dict(self) -> dict[str, Any]:
        return {
            "objective": self.name,
            "arch": self.archs,
            "nets": {k: unwrap(v).state_dict() for k, v in self.nets.items()},
            "optim": {k: o.state_dict() for k, o in self.optimizers.items()},
            "sched": {k: s.state_dict() for k, s in self.schedulers.items()},
            "scaler": self.scaler.state_dict(),
            "pools": self.pools_state(),
        }

    def load_state_dict(self, state: dict[str, Any], pools: dict[str, Any] | None = None) -> None:
        for k, v in self.nets.items():
            unwrap(v).load_state_dict(state["nets"][k])
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optim"][k])
        for k, s in self.schedulers.items():
            s.load_state_dict(state["sched"][k])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        pools = pools if pools is not None else state.get("pools", {})
        for k, p in self.pools.items():
            p.load_state_dict(pools[k], self.device)
