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

__all__ = ["INPUT_SETS", "ModelConfig", "DataConfig", "OptimConfig", "PyNETConfig", "TestConfig", "LogConfig",
           "TrainConfig"]


@dataclass
class ModelConfig:
    """Objective and networks (paper Fig. 5). Names come from the registries in :mod:`gan_bokeh.objectives`
    and :mod:`gan_bokeh.nets`."""

    objective: str = "cyclegan"
    generator: str = "resnet_9blocks"
    discriminator: str = "patchgan_3layers"
    ngf: int = 64
    ndf: int = 64
    n_blocks: int | None = None  # None: the count the generator's name fixes (resnet_9blocks: 9; resnet: 9)
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


#: ``data.preprocess`` presets: how a photo becomes a training crop (see docs/training.md).
PREPROCESS = ("keep_aspect", "paper", "cyclegan")


@dataclass
class DataConfig:
    """How photos become training crops: a named ``preprocess`` preset.

    - ``keep_aspect`` (default): short side → ``load_size``, the central ``load_size²`` square, random
      ``crop_size²`` crop, horizontal flip. Faces keep their proportions, and ``generate`` runs at the same
      pixel scale (short side ``load_size``) on the whole photo.
    - ``paper`` (§4.1 "cropped and scaled to 256 × 256", no augmentation): the central square scaled to
      ``crop_size²``; no random crop, no flip (``load_size`` = ``crop_size``, ``flip`` = false).
    - ``cyclegan`` (the reference CycleGAN implementation's default ``resize_and_crop``): every photo squashed
      to ``load_size²`` (aspect ratio lost), random crop, flip.

    ``load_size`` (default ``crop_size · 286/256``, the reference ratio) and ``flip`` (default: on, off for
    ``paper``) left unset take the preset's value; ``validate`` fills them in, so a run's ``config.yaml``
    records what training did. The deterministic part runs in the loader workers (draft-mode JPEG decode,
    cached on disk when ``cache`` is on); the crop, flip and optional colour jitter run batched on the
    training device (kornia).
    """

    preprocess: Literal["keep_aspect", "paper", "cyclegan"] = "keep_aspect"
    load_size: int | None = None
    crop_size: int = 256
    flip: bool | None = None
    color_jitter: float = 0.0  # 0 = off (the paper has none); s: brightness/contrast/saturation 1±s, hue ±s/4
    num_workers: int = 2
    mask_dir: str | None = None
    # depth files (model.inputs with depth): folder for both domains (None: beside each image) and their kind
    depth_dir: str | None = None
    depth_kind: Literal["auto", "depth", "disparity"] = "auto"
    cache: bool = True  # keep the resized uint8 arrays on disk: later epochs and runs skip decoding
    cache_dir: str | None = None  # default: $GAN_BOKEH_CACHE/resized (~/.cache/gan-bokeh/resized)
    depth_colormap: str | None = None  # colour-mapped depth files (the VABM/VABD maps: Spectral)

    @property
    def squash(self) -> bool:
        """The loader resizes the whole photo to ``load_size²`` (else the central square, aspect kept)."""
        return self.preprocess == "cyclegan"

    def resolve(self) -> None:
        """Fill ``load_size`` and ``flip`` from the preset; refuse values that would make ``paper`` a lie."""
        if self.preprocess == "paper":
            if self.load_size not in (None, self.crop_size):
                raise UserError(f"data.load_size {self.load_size}: data.preprocess paper scales straight to "
                                "data.crop_size (no random crop); drop data.load_size or use data.preprocess "
                                "keep_aspect or cyclegan")
            if self.flip:
                raise UserError("data.flip true: data.preprocess paper has no augmentation; drop data.flip or "
                                "use data.preprocess keep_aspect or cyclegan")
            self.load_size, self.flip = self.crop_size, False
        else:
            if self.load_size is None:
                self.load_size = round(self.crop_size * 286 / 256)
            if self.flip is None:
                self.flip = True


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
class PyNETConfig:
    """Level-by-level training of the ``pynet`` objective (section ``pynet``).

    ``levels`` are trained in the order given (coarsest first, 7 … 1), level ``levels[i]`` for
    ``level_epochs[i]`` epochs, with ``level_batch_size[i]`` pairs per batch (empty: ``train.batch_size``).
    Losses (the authors' bokeh recipe): levels above ``fine_level`` train on ``pixel_weight · L1``; levels
    ``<= fine_level`` on ``fine_pixel_weight · L1 + content_weight · MSE(VGG19 relu5_4) +
    ssim_weight · (1 − SSIM)``. L1/SSIM on [0, 1] images.
    """

    levels: list[int] = field(default_factory=lambda: [7, 6, 5, 4, 3, 2, 1])
    level_epochs: list[int] = field(default_factory=lambda: [1, 1, 1, 1, 1, 1, 1])
    level_batch_size: list[int] = field(default_factory=list)
    fine_level: int = 1
    pixel_weight: float = 100.0
    fine_pixel_weight: float = 10.0
    # The authors weight 0.1 on VGG features of 0–255 images; torchvision's normalisation scales inputs by
    # 1/(255·0.226), so features shrink ~58× and their MSE ~3300×: 0.1 × 3300 ≈ 330 keeps the balance
    # (approximate: ReLU layers with biases are not exactly homogeneous).
    content_weight: float = 330.0
    ssim_weight: float = 10.0


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
    pynet: PyNETConfig = field(default_factory=PyNETConfig)
    log: LogConfig = field(default_factory=LogConfig)

    @property
    def needs_masks(self) -> bool:
        return self.train.lambda_mask > 0 or self.train.mask_overlay or "mask" in self.model.inputs

    @property
    def needs_depth(self) -> bool:
        return "depth" in self.model.inputs

    @property
    def needs_vgg(self) -> bool:
        if self.model.objective == "pynet":
            p = self.pynet
            return p.content_weight > 0 and any(lv <= p.fine_level for lv in p.levels)
        return self.train.lambda_mask > 0 and self.train.mask_vgg_weight > 0

    def validate(self) -> None:
        """Check every key and resolve the preset-dependent ones (``data.load_size``, ``data.flip``,
        ``model.n_blocks``) so the resolved config records what the run does."""
        self.data.resolve()
        self._resolve_blocks()
        checks = [
            (self.model.ngf >= 1, "model.ngf must be >= 1"),
            (self.model.ndf >= 1, "model.ndf must be >= 1"),
            (self.model.n_blocks is None or self.model.n_blocks >= 0, "model.n_blocks must be >= 0"),
            (self.data.crop_size % 4 == 0, "data.crop_size must be a multiple of 4 (two stride-2 stages)"),
            (self.data.crop_size >= 3 * 2**self.model.n_layers_d,
             f"data.crop_size must be >= {3 * 2**self.model.n_layers_d} for a {self.model.n_layers_d}-layer PatchGAN"),
            (self.data.load_size is not None and (self.data.load_size >= self.data.crop_size
             or (self.data.load_size == 0 and self.model.objective != "cyclegan")),
             "data.load_size must be >= data.crop_size"),
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
        if self.model.objective == "pynet":
            checks += self._pynet_checks()
        for ok, msg in checks:
            if not ok:
                raise UserError(msg)

    def _pynet_checks(self) -> list[tuple[bool, str]]:
        p, n = self.pynet, len(self.pynet.levels)
        return [
            (self.model.generator == "pynet", "model.generator must be pynet for model.objective pynet"),
            (n >= 1 and all(1 <= lv <= 7 for lv in p.levels),
             "pynet.levels must be levels 1..7, e.g. [7, 6, 5, 4, 3, 2, 1]"),
            (all(a > b for a, b in zip(p.levels, p.levels[1:], strict=False)),
             "pynet.levels must go from coarse to fine (decreasing)"),
            (len(p.level_epochs) == n and all(e >= 1 for e in p.level_epochs),
             "pynet.level_epochs needs one count >= 1 per entry of pynet.levels"),
            (len(p.level_batch_size) in (0, n) and all(b >= 1 for b in p.level_batch_size),
             "pynet.level_batch_size is empty or has one size >= 1 per level"),
            (self.data.crop_size % 64 == 0 and self.data.crop_size >= 128,
             "data.crop_size must be a multiple of 64 and >= 128 for pynet (the net sees half the crop, a multiple "
             "of 32, and its coarsest level, 1/32 of that, needs >= 2 px for instance norm)"),
            (self.data.load_size == 0 or self.data.load_size >= self.data.crop_size,
             "data.load_size must be 0 (as stored) or >= data.crop_size"),
            (min(p.pixel_weight, p.fine_pixel_weight, p.content_weight, p.ssim_weight) >= 0,
             "pynet.*_weight must be >= 0"),
        ]

    def _resolve_blocks(self) -> None:
        """A generator name that fixes a block count wins; a conflicting ``model.n_blocks`` is an error."""
        from gan_bokeh.nets import generator_blocks

        m = self.model
        fixed = generator_blocks(m.generator)
        if fixed is not None and m.n_blocks not in (None, fixed):
            raise UserError(f"model.n_blocks {m.n_blocks} conflicts with model.generator {m.generator} "
                            f"({fixed} blocks): drop model.n_blocks, or set model.generator=resnet to choose "
                            "the count")
        if m.n_blocks is None:
            m.n_blocks = fixed if fixed is not None else 9
