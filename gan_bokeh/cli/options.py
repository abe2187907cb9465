"""Options shared by several subcommands, defined once so they mean the same thing everywhere."""

from __future__ import annotations

import argparse
from pathlib import Path

DEPTH_KIND_CHOICES = ("depth", "disparity")  # == gan_bokeh.depth.DEPTH_KINDS (not imported: keeps --help fast)
# == gan_bokeh.depth.DEPTH_BACKEND_CHOICES (not imported: keeps --help fast; tests/test_cli_registries.py checks)
DEPTH_BACKEND_CHOICES = ("auto", "file", "depth-anything", "midas", "fallback")


def add_depth_arguments(parser: argparse.ArgumentParser, depth_help: str, metavar: str = "FILE|DIR") -> None:
    """``--depth FILE|DIR``, ``--depth-kind`` and ``--depth-colormap`` (files are found by
    :func:`gan_bokeh.depth.find_depth_file` and read by :func:`gan_bokeh.depth.load_depth`)."""
    parser.add_argument("--depth", type=Path, default=None, metavar=metavar, help=depth_help)
    parser.add_argument("--depth-kind", choices=DEPTH_KIND_CHOICES, default="depth",
                        help="depth: larger = farther (default); disparity: larger = nearer")
    parser.add_argument("--depth-colormap", default=None, metavar="NAME",
                        help="the depth files are colour visualisations in this matplotlib colormap "
                             "(e.g. Spectral); index 0 = --depth-kind's low end")


def add_depth_backend_arguments(parser: argparse.ArgumentParser) -> None:
    """``--depth-backend``, ``--depth-weights`` and ``--no-midas``: depth without ``--depth``, through
    :func:`gan_bokeh.depth.estimate_depth` (the registry :data:`gan_bokeh.depth.DEPTH_BACKENDS`)."""
    parser.add_argument("--depth-backend", choices=DEPTH_BACKEND_CHOICES, default="auto",
                        help="depth without --depth: auto tries depth-anything, midas, then the offline fallback "
                             "(default auto; the one used is recorded)")
    parser.add_argument("--depth-weights", type=Path, default=None, metavar="DIR",
                        help="Depth Anything V2 model folder (config.json + model.safetensors) instead of the "
                             "Hugging Face cache/download")
    parser.add_argument("--no-midas", action="store_true",
                        help="without --depth, skip the learned backends (same as --depth-backend fallback)")


def depth_backend_of(args: argparse.Namespace, depth_file: Path | None) -> str:
    """The backend one input uses: ``file`` when a depth file was found, else the user's choice."""
    from gan_bokeh.errors import UserError

    if depth_file is not None:
        return "file"
    if args.depth_backend == "file":
        raise UserError("--depth-backend file needs --depth FILE|DIR")
    return "fallback" if args.no_midas else args.depth_backend
