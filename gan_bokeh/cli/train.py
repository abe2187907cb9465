"""``gan-bokeh train``: CycleGAN with the paper's mask loss and mask overlay, the one-sided CUT / FastCUT /
defocus objectives, or paired PyNET (``model.objective``); single process or torchrun DDP."""

from __future__ import annotations

import argparse
from pathlib import Path

from gan_bokeh.errors import UserError

HELP = ("train a CycleGAN (mask loss / overlay), CUT / FastCUT or defocus on trainA/ trainB/, or PyNET on "
        "aperture pairs (pynet configs)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from gan_bokeh.registry import CONFIGS

    names = ", ".join(n for n, e in CONFIGS.items() if e.meta["command"] == "train")
    parser.add_argument("--config", help=f"config file or built-in name ({names}); default with --resume: "
                                         "the run's own")
    parser.add_argument("--data", required=True, help="dataset folder with trainA/ and trainB/ (paired: train/"
                                                      "original/ + train/bokeh/, or train/input/ + train/target/)")
    parser.add_argument("--name", required=True, help="run name: the run folder is OUT/NAME")
    parser.add_argument("--out", default="checkpoints", help="where run folders go (default: checkpoints)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. --set train.lr=1e-4 (repeatable)")
    parser.add_argument("--resume", action="store_true", help="continue OUT/NAME from ckpt/latest.pt")
    parser.add_argument("--seed", type=int, help="random seed (sets train.seed)")
    parser.add_argument("--device", help="cpu | cuda | cuda:N (default: CUDA when present)")
    parser.add_argument("--max-iters", type=int, metavar="N",
                        help="stop after N iterations in total (resumed ones count) and save a checkpoint")
    parser.add_argument("--vgg-weights", metavar="PATH",
                        help="VGG19 ImageNet state dict for the mask loss or PyNET's content loss (default: torch "
                             "cache / download)")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--deterministic", action="store_true",
                        help="deterministic algorithms (sets train.deterministic; slower on GPU)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from gan_bokeh.config import load_config
    from gan_bokeh.runtime import torch_threads
    from gan_bokeh.train.config import TrainConfig
    from gan_bokeh.train.loop import RunOptions, train

    run_dir = Path(args.out) / args.name
    data_r, run_r = Path(args.data).resolve(), run_dir.resolve()
    if run_r == data_r or data_r in run_r.parents:
        # checkpoints, TensorBoard images and config.yaml would land among the training photos
        raise UserError(f"--out {args.out} --name {args.name}: the run folder {run_dir} is inside --data "
                        f"{args.data}; put runs elsewhere (default: checkpoints/)")
    config = args.config
    if config is None:
        if not args.resume:
            raise UserError("--config is required for a new run (e.g. --config cpu_small)")
        config = run_dir / "config.yaml"
        if not config.is_file():
            raise UserError(f"{run_dir}: no config.yaml to resume from; pass --config")
    overrides = list(args.overrides)
    if args.config is None:  # the run's own config.yaml: keys it predates keep the values it trained with
        import yaml

        from gan_bokeh.train.provenance import legacy_overrides

        old = yaml.safe_load(Path(config).read_text(encoding="utf-8"))
        overrides = legacy_overrides(old if isinstance(old, dict) else {}) + overrides
    if args.seed is not None:
        overrides.append(f"train.seed={args.seed}")
    if args.deterministic:
        overrides.append("train.deterministic=true")
    if args.max_iters is not None and args.max_iters < 1:
        raise UserError("--max-iters must be >= 1")
    cfg = load_config(TrainConfig, config, overrides=overrides)
    torch_threads(args.threads)
    opts = RunOptions(data=Path(args.data), run_dir=run_dir, resume=args.resume, max_iters=args.max_iters,
                      device=args.device, vgg_weights=args.vgg_weights,
                      progress=False if args.no_progress else None)
    train(cfg, opts)
    return 0
