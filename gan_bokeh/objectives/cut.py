"""One-sided objectives: CUT and FastCUT (Park et al., ECCV 2020, "Contrastive Learning for Unpaired
Image-to-Image Translation").

Bokeh destroys information, and a cycle asks F to undo the blur, which pushes G to hide the lost detail as a
faint high-frequency signal in its output (Chu et al. 2017, "CycleGAN, a master of steganography"). CUT
drops F and the cycle: one generator G (A→B), one discriminator D_B, and PatchNCE — each output patch, seen
through G's own encoder and a small MLP head, must be closer to the input patch at the same place than to
the other input patches — keeps the content.

- ``cut``: λ_NCE = 1 plus the NCE identity term on real B photos (``G(y)`` against ``y``), averaged as in CUT.
- ``fastcut``: λ_NCE = 10, no identity term, flip-equivariance on (the input is flipped at random and
  G's output features are flipped back before PatchNCE).

``train.lambda_nce``, ``train.nce_idt`` and ``train.flip_equivariance`` override those defaults.

With the paper's mask tools (same semantics as :mod:`gan_bokeh.objectives.cyclegan`): the overlay is applied
to what the discriminator sees; the mask loss (λ_cyc·λ_mask·(L1 + VGG), so the weights read as in the
CycleGAN configs) compares ``M⊙x`` with the generator's raw output ``M⊙G(x)`` (``train.mask_loss_on``);
PatchNCE always compares the raw output, since the overlay would make every subject patch a trivial match.
No image pool (CUT uses none).
"""

from __future__ import annotations

import itertools
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from gan_bokeh import losses as L
from gan_bokeh.errors import UserError
from gan_bokeh.nets import build_discriminator, build_generator
from gan_bokeh.nets.patchnce import PatchSampleMLP
from gan_bokeh.objectives.base import unwrap
from gan_bokeh.objectives.one_sided import OneSidedObjective
from gan_bokeh.objectives.registry import register_objective
from gan_bokeh.train.config import TrainConfig
from gan_bokeh.train.models import net_archs
from gan_bokeh.train.schedule import make_scheduler

__all__ = ["CUTModel", "FastCUTModel"]


@register_objective("cut")
class CUTModel(OneSidedObjective):
    """G: A→B (a ResNet generator, which must provide ``encode``), D_B, the PatchNCE head H, their Adam
    optimisers (G and H share one) and LR schedules.

    Args:
        cfg: the resolved training config.
        device: where to train.
        vgg: VGG feature extractor (required when ``cfg.needs_vgg``).
        rank: DDP rank (unused: no pools).
    """

    #: objective defaults for the ``None`` config keys
    DEFAULTS: ClassVar[dict[str, Any]] = {"lambda_nce": 1.0, "nce_idt": True, "flip_equivariance": False}
    LOSS_TERMS = ("D_B", "G_A", "nce", "nce_idt")
    VISUAL_ROWS = (("A", ("real_A", "fake_B", "mask_A")), ("B", ("real_B", "idt_B")))

    def __init__(self, cfg: TrainConfig, device: torch.device, vgg: nn.Module | None = None, rank: int = 0) -> None:
        t = cfg.train
        if cfg.needs_vgg and vgg is None:
            raise ValueError("the mask loss with mask_vgg_weight > 0 needs a VGG feature extractor")
        self._init_common(cfg, device)
        self.lambda_nce = float(self._opt("lambda_nce"))
        self.nce_idt = bool(self._opt("nce_idt"))
        self.flip_eq = bool(self._opt("flip_equivariance"))
        if t.nce_patches < 1 or t.nce_tau <= 0:
            raise UserError("train.nce_patches must be >= 1 and train.nce_tau > 0")
        archs = net_archs(cfg.model)
        with torch.random.fork_rng(devices=[]):  # identical init on every rank, global RNG untouched
            torch.manual_seed(t.seed)
            G = build_generator(archs["G"]["name"], **archs["G"]["kwargs"])
            if not hasattr(G, "encode"):
                raise UserError(f"model.generator {cfg.model.generator!r} exposes no encoder features; "
                                f"{self.name} needs a ResNet generator (resnet_9blocks / resnet_6blocks)")
            layers = list(cfg.model.nce_layers) if cfg.model.nce_layers else G.default_feature_layers()
            try:
                channels = G.feature_channels(layers)
                G.encode(torch.zeros(1, G.feature_channels([0])[0], 16, 16), layers)
            except (ValueError, IndexError) as err:
                raise UserError(f"model.nce_layers {layers}: {err}") from None
            H = PatchSampleMLP(channels, cfg.model.nce_mlp_dim)
            D = build_discriminator(archs["D_B"]["name"], **archs["D_B"]["kwargs"])
        self.nce_layers = layers
        self.archs = {"G": archs["G"], "D_B": archs["D_B"],
                      "H": {"name": "patch_mlp", "kwargs": {"in_channels": channels, "nc": cfg.model.nce_mlp_dim}}}
        self.nets = {k: n.to(device, memory_format=self.memory_format) for k, n in {"G": G, "H": H, "D_B": D}.items()}
        self.vgg = vgg.to(device, memory_format=self.memory_format) if (vgg is not None and cfg.needs_vgg) else None
        self.optimizers = {
            "G": torch.optim.Adam(itertools.chain(self.nets["G"].parameters(), self.nets["H"].parameters()),
                                  lr=t.lr, betas=(t.beta1, t.beta2)),
            "D": torch.optim.Adam(self.nets["D_B"].parameters(), lr=t.lr, betas=(t.beta1, t.beta2)),
        }
        self.schedulers = {k: make_scheduler(o, t.n_epochs, t.n_epochs_decay) for k, o in self.optimizers.items()}

    @classmethod
    def input_domains(cls, cfg: TrainConfig) -> str:
        """A; also B when the NCE identity pass feeds real B photos with extra inputs to G."""
        idt = cls.DEFAULTS["nce_idt"] if cfg.train.nce_idt is None else cfg.train.nce_idt
        return "AB" if (idt and len(cfg.model.inputs) > 1) else "A"

    def _opt(self, key: str) -> Any:
        v = getattr(self.cfg.train, key)
        return self.DEFAULTS[key] if v is None else v

    # -- losses -------------------------------------------------------------------------------------------
    def nce_loss(self, src: Tensor, out: Tensor, flipped: bool = False) -> Tensor:
        """PatchNCE between the generator input ``src`` and its output ``out`` (both as G sees them, extra
        channels included), averaged over the encoder layers, times λ_NCE."""
        G, H = self.nets["G"], self.nets["H"]
        enc = unwrap(G).encode
        feat_q = enc(out, self.nce_layers)
        if flipped:
            feat_q = [torch.flip(f, [3]) for f in feat_q]
        feat_k = enc(src, self.nce_layers)
        p = self.cfg.train.nce_patches
        k, ids = H(feat_k, p)
        q, _ = H(feat_q, p, ids)
        per_layer = [L.patch_nce_loss(fq, fk, self.cfg.train.nce_tau) for fq, fk in zip(q, k, strict=True)]
        return self.lambda_nce * torch.stack(per_layer).mean()

    def _generator_losses(self, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        t = self.cfg.train
        G, D_B = self.nets["G"], unwrap(self.nets["D_B"])
        real_A, real_B, mA = batch["A"], batch["B"], batch.get("mask_A")
        xA = self._net_input(real_A, batch.get("extra_A"))
        flipped = self.flip_eq and bool(torch.rand(()) < 0.5)
        if flipped:  # G sees the mirrored photo; PatchNCE flips its features back (equivariance)
            flip = [torch.flip(v, [3]) if v is not None else None for v in (real_A, mA, batch.get("extra_A"))]
            real_in, m_in, ext_in = flip
        else:
            real_in, m_in, ext_in = real_A, mA, batch.get("extra_A")
        raw_B = G(self._net_input(real_in, ext_in))
        fake_B = L.mask_overlay(raw_B, real_in, m_in) if t.mask_overlay else raw_B
        terms: dict[str, Tensor] = {
            "G_A": L.gan_loss(D_B(fake_B), True, t.gan_mode),
            "nce": self.nce_loss(xA, self._net_input(raw_B, ext_in), flipped),
        }
        idt_B = None
        if self.nce_idt:
            xB = self._net_input(real_B, batch.get("extra_B"))
            idt_B = G(xB)
            terms["nce_idt"] = self.nce_loss(xB, self._net_input(idt_B, batch.get("extra_B")))
            # CUT averages the two NCE terms: the identity term is a regulariser, not a second objective
            terms["nce"], terms["nce_idt"] = 0.5 * terms["nce"], 0.5 * terms["nce_idt"]
        else:
            terms["nce_idt"] = real_A.new_zeros(())
        if t.lambda_mask > 0:
            assert m_in is not None  # the dataset loads masks whenever cfg.needs_masks
            terms.update(self._mask_loss_terms("A", real_in, raw_B, fake_B, m_in))
        self.visuals = {"real_A": real_in, "fake_B": fake_B, "real_B": real_B}
        if idt_B is not None:
            self.visuals["idt_B"] = idt_B
        if m_in is not None:
            self.visuals["mask_A"] = m_in
        return fake_B, terms

    # -- one iteration ----------------------------------------------------------------------------------
    def _batch(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        out = {"A": self._to_device(batch["A"]), "B": self._to_device(batch["B"])}
        for k in ("mask_A", "mask_B"):
            if k in batch:
                out[k] = self._to_device(batch[k])
        for dom in "AB":
            ext = self._extras(batch, dom)
            if ext is not None:
                out[f"extra_{dom}"] = ext
        return out

    def step(self, batch: dict[str, Any]) -> dict[str, float]:
        """Update G and H, then D_B; return every loss term as a float.

        Raises:
            NonFiniteLossError: before any update is applied when a loss is NaN/inf.
        """
        b = self._batch(batch)
        return self._one_sided_step(lambda: self._generator_losses(b), b["B"])


@register_objective("fastcut")
class FastCUTModel(CUTModel):
    """FastCUT: λ_NCE = 10, no NCE identity, flip-equivariance (Park et al. 2020, §4)."""

    DEFAULTS: ClassVar[dict[str, Any]] = {"lambda_nce": 10.0, "nce_idt": False, "flip_equivariance": True}
