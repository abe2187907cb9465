"""Training configuration (YAML sections ``model``, ``data``, ``train``, ``test``, ``log``).

Load with ``load_config(TrainConfig, "configs/mask_loss_overlay.yaml", overrides=["train.lr=1e-4"])``;
every key below is settable with ``--set section.key=value``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from gan_bokeh.errors import UserError

#: Allowed ``model.inputs``: generator input channels, RGB first.
INPUT_SETS = (["rgb"], ["rgb", "mask"], ["rgb", "depth"], ["rgb", "mask", "depth"])

__all__ = ["INPUT_SETS", "ModelConfig", "DataConfig", "OptimConfig", "TestConfig", "LogConfig", "TrainConfig"]


@dataclass
class ModelConfig:
    """Objective and networks (paper Fig. 5). Names come from the registries in :mod:`gan_bokeh.objectives`
    and :mod:`gan_bokeh.nets`."""

    objective: str = "cyclegan"
    generator: str = "resnet_9blocks"
    discriminator: str = "patchgan_3layers"
    ngf: int = 64
    ndf: int = 64
    n_blocks: int = 9
    n_layers_d: int = 3
    norm: Literal["instance", "batch", "none"] = "instance"
    dropout: float = 0.0
    upsample: Literal["deconv", "resize"] = "deconv"
    # Generator input channels (the discriminators always judge RGB): rgb + optional subject mask / depth.
    inputs: list[str] = field(default_factory=lambda: ["rgb"])
    # CUT / FastCUT: encoder layers of PatchNCE (None: the generator's default_feature_layers) and MLP width.
    nce_layers: list[int] | None = None
    nce_mlp_dim: int = 256
    # defocus: largest blur radius at the working (crop) resolution, in pixels, and the radius stack.
    max_radius: float = 8.0
    n_radii: int = 6


@dataclass
class DataConfig:
    """Resize ``load_size`` → random crop ``crop_size`` → flip (paper: 286 → 256).

    The resize runs in the loader workers (draft-mode JPEG decode, cached on disk when ``cache`` is on); the
    crop, flip and optional colour jitter run batched on the training device (kornia).
    """

    load_size: int = 286
    crop_size: int = 256
    flip: bool = True
    color_jitter: float = 0.0  # 0 = off (the paper has none); s: brightness/contrast/saturation 1±s, hue ±s/4
    num_workers: int = 2
    mask_dir: str | None = None
    # depth files (model.inputs with depth): folder for both domains (None: beside each image) and their kind
    depth_dir: str | None = None
    depth_kind: Literal["auto", "depth", "disparity"] = "auto"
    cache: bool = True  # keep the resized uint8 arrays on disk: later epochs and runs skip decoding
    cache_dir: str | None = None  # default: $GAN_BOKEH_CACHE/resized (~/.cache/gan-bokeh/resized)


@dataclass
class OptimConfig:
    """Losses and optimisation (section ``train``).

    ``lambda_idt`` is relative to ``lambda_cyc`` (identity weight = λ_cyc·λ_idt, CycleGAN's convention);
    the mask loss is λ_cyc·λ_mask·(L_norm + mask_vgg_weight·L_vgg) (paper eq. 10–12).
    """

    seed: int = 0
    batch_size: int = 1
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    n_epochs: int = 50
    n_epochs_decay: int = 25
    gan_mode: Literal["lsgan", "vanilla"] = "lsgan"
    pool_size: int = 50
    lambda_cyc: float = 10.0
    lambda_idt: float = 0.5
    lambda_mask: float = 0.0
    mask_vgg_weight: float = 1.0
    mask_overlay: bool = False
    mask_loss_on: Literal["raw", "overlaid"] = "raw"  # raw: G(x) before the overlay (see objectives/cyclegan.py)
    amp: bool = True  # CUDA only; ignored on CPU
    amp_dtype: Literal["float16", "bfloat16"] = "float16"  # float16 uses a GradScaler; bfloat16 needs none
    channels_last: bool = True  # CUDA only; slower on this kind of CPU (see docs/training.md)
    deterministic: bool = False
    # CUT / FastCUT (None = the objective's default: CUT 1.0 / True / False, FastCUT 10.0 / False / True).
    lambda_nce: float | None = None
    nce_idt: bool | None = None
    flip_equivariance: bool | None = None
    nce_tau: float = 0.07
    nce_patches: int = 256


@dataclass
class TestConfig:
    """Defaults for ``gan-bokeh generate``."""

    mask_overlay: bool = False


@dataclass
class LogConfig:
    """How often (in iterations) to write metrics, image grids and numbered checkpoints."""

    every: int = 1
    image_every: int = 200
    save_every: int = 10000
    latest_every: int = 100


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: OptimConfig = field(default_factory=OptimConfig)
    test: TestConfig = field(default_factory=TestConfig)
    log: LogConfig = field(default_factory=LogConfig)

    @property
    def needs_masks(self) -> bool:
        return self.train.lambda_mask > 0 or self.train.mask_overlay or "mask" in self.model.inputs

    @property
    def needs_depth(self) -> bool:
        return "depth" in self.model.inputs

    @property
    def needs_vgg(self) -> bool:
        return self.train.lambda_mask > 0 and self.train.mask_vgg_weight > 0

    def validate(self) -> None:
        checks = [
            (self.model.ngf >= 1, "model.ngf must be >= 1"),
            (self.model.ndf >= 1, "model.ndf must be >= 1"),
            (self.model.n_blocks >= 0, "model.n_blocks must be >= 0"),
            (self.data.crop_size % 4 == 0, "data.crop_size must be a multiple of 4 (two stride-2 stages)"),
            (self.data.crop_size >= 3 * 2**self.model.n_layers_d,
             f"data.crop_size must be >= {3 * 2**self.model.n_layers_d} for a {self.model.n_layers_d}-layer PatchGAN"),
            (self.data.load_size >= self.data.crop_size, "data.load_size must be >= data.crop_size"),
            (self.data.num_workers >= 0, "data.num_workers must be >= 0"),
            (0.0 <= self.data.color_jitter <= 1.0, "data.color_jitter must be in [0, 1] (0 = off)"),
            (self.train.batch_size >= 1, "train.batch_size must be >= 1"),
            (self.train.lr > 0, "train.lr must be > 0"),
            (self.train.n_epochs >= 0 and self.train.n_epochs_decay >= 0, "train.n_epochs* must be >= 0"),
            (self.train.n_epochs + self.train.n_epochs_decay >= 1, "train.n_epochs + n_epochs_decay must be >= 1"),
            (self.train.pool_size >= 0, "train.pool_size must be >= 0"),
            (min(self.train.lambda_cyc, self.train.lambda_idt, self.train.lambda_mask,
                 self.train.mask_vgg_weight) >= 0, "train.lambda_* and train.mask_vgg_weight must be >= 0"),
            (self.model.inputs in INPUT_SETS, f"model.inputs {self.model.inputs}: choose one of "
             + " | ".join("[" + ", ".join(i) + "]" for i in INPUT_SETS)),
            (min(self.log.every, self.log.image_every, self.log.save_every, self.log.latest_every) >= 1,
             "log.* intervals must be >= 1"),
        ]
        for ok, msg in checks:
            if not ok:
                raise UserError(msg)
