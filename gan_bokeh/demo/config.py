"""The demo's settings: the variant table, the renderers it compares, budgets and :class:`DemoConfig`."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gan_bokeh.errors import UserError

__all__ = ["BUDGETS", "LAYERS_BLUR", "RENDER_METHODS", "VARIANT", "VARIANTS", "VARIANT_TABLE", "Budget", "DemoConfig",
           "Variant", "make_config"]

@dataclass(frozen=True)
class Variant:
    """One trained model of the demo: its config (``configs/<config>.yaml``) and whether its mask loss uses
    VGG19 features (dropped, and said so, when the ImageNet weights are not available offline)."""

    name: str
    config: str
    uses_vgg: bool = False


#: The trained models, in the paper's order (Simulating Shallow Depth of Field in Portraits Using Generative
#: Models, §4.3). Adding a variant is one line here; the first one is the baseline of the claim check.
VARIANT_TABLE: tuple[Variant, ...] = (
    Variant("cyclegan", "cyclegan"),
    Variant("mask_loss", "mask_loss", uses_vgg=True),
    Variant("mask_overlay", "mask_overlay"),
    Variant("mask_loss_overlay", "mask_loss_overlay", uses_vgg=True),
)
VARIANTS: tuple[str, ...] = tuple(v.name for v in VARIANT_TABLE)
VARIANT = {v.name: v for v in VARIANT_TABLE}
#: Comparison renderers run on the test photos.
RENDER_METHODS: tuple[str, ...] = ("gaussian", "layers")


@dataclass(frozen=True)
class Budget:
    """How much work the demo does. ``full``: the whole demo (times in docs/demo.md); ``smoke``: CI."""

    iters: int            # training iterations per variant
    size: int             # training crop (px); images are stored at load = size * 9/8
    n_per_domain: int     # augmented training images per domain
    ngf: int
    ndf: int
    n_blocks: int


BUDGETS: dict[str, Budget] = {
    "full": Budget(iters=2000, size=64, n_per_domain=96, ngf=16, ndf=16, n_blocks=6),
    "smoke": Budget(iters=4, size=32, n_per_domain=8, ngf=8, ndf=8, n_blocks=1),
}


@dataclass
class DemoConfig:
    """Resolved demo settings (written to ``<out>/demo.json``)."""

    out: Path
    budget: str = "full"
    iters: int = 2000
    size: int = 64
    n_per_domain: int = 96
    ngf: int = 16
    ndf: int = 16
    n_blocks: int = 6
    seed: int = 0
    jobs: int = 2
    masks: str = "auto"          # auto | selfie | grabcut
    force: bool = False
    vgg: bool = field(default=False)  # filled in: VGG19 ImageNet weights available offline

    @property
    def load_size(self) -> int:
        return self.size + self.size // 8 // 4 * 4 if self.size >= 32 else self.size

    @property
    def source_px(self) -> int:
        """Short side of the sample photos the crops are cut from (3 × the training crop)."""
        return 3 * self.size

    @property
    def test_px(self) -> int:
        """Short side of the held-out test photos (2 × the training crop: generate works at full size)."""
        return 2 * self.size

    def validate(self) -> None:
        if self.budget not in BUDGETS:
            raise UserError(f"--budget {self.budget}: use one of {', '.join(BUDGETS)}")
        if self.iters < 1:
            raise UserError(f"--iters {self.iters}: use at least 1")
        if self.size < 16 or self.size % 4:
            raise UserError(f"--size {self.size}: use a multiple of 4, at least 16")
        if self.masks not in ("auto", "selfie", "grabcut"):
            raise UserError(f"--masks {self.masks}: use auto, selfie or grabcut")
        if self.jobs < 1:
            raise UserError(f"--jobs {self.jobs}: use at least 1")


def make_config(out: str | os.PathLike[str], budget: str = "full", **overrides: Any) -> DemoConfig:
    """A :class:`DemoConfig` from a budget name plus explicit overrides (``None`` values ignored)."""
    if budget not in BUDGETS:
        raise UserError(f"--budget {budget}: use one of {', '.join(BUDGETS)}")
    base = asdict(BUDGETS[budget])
    base.update({k: v for k, v in overrides.items() if v is not None})
    cfg = DemoConfig(out=Path(out), budget=budget, **base)
    cfg.validate()
    return cfg


#: ``layers`` blur radius as a fraction of the short side: the middle of the domain-B training renders.
LAYERS_BLUR = 0.045
