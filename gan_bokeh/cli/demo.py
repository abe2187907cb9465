"""``gan-bokeh demo``: the whole product, offline, on the built-in demonstration set."""

from __future__ import annotations

import argparse

HELP = "run the whole pipeline offline on a built-in demonstration set (minutes; times in docs/demo.md)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="demo_out", metavar="DIR",
                        help="output folder (default demo_out); a second run reuses its finished stages")
    parser.add_argument("--budget", default="full", choices=("full", "smoke"),
                        help="full: the whole demo (default; times in docs/demo.md); smoke: a tiny CI-sized run")
    parser.add_argument("--iters", type=int, default=None, metavar="N",
                        help="training iterations per variant (full: 2000, smoke: 4)")
    parser.add_argument("--size", type=int, default=None, metavar="PX",
                        help="training crop size, a multiple of 4 (full: 64, smoke: 32)")
    parser.add_argument("--jobs", type=int, default=None, metavar="N",
                        help="variants trained at the same time, one thread each (default: min(2, CPUs))")
    parser.add_argument("--masks", default="auto", choices=("auto", "selfie", "grabcut"),
                        help="auto: selfie person segmenter for people (fetched into the user cache on "
                             "first use), GrabCut if it is unavailable; grabcut: never fetch anything")
    parser.add_argument("--seed", type=int, default=0, help="seed for data augmentation and training")
    parser.add_argument("--force", action="store_true", help="ignore finished stages and run everything again")


def run(args: argparse.Namespace) -> int:
    import os

    from gan_bokeh.demo.pipeline import make_config, run_demo

    jobs = args.jobs if args.jobs is not None else max(1, min(2, os.cpu_count() or 1))
    cfg = make_config(args.out, args.budget, iters=args.iters, size=args.size, jobs=jobs, masks=args.masks,
                      seed=args.seed, force=args.force)
    run_demo(cfg)
    return 0
