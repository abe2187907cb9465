"""Options shared by several subcommands, defined once so they mean the same thing everywhere."""

from __future__ import annotations

import argparse
from pathlib import Path

DEPTH_KIND_CHOICES = ("depth", "disparity")  # == gan_bokeh.depth.DEPTH_KINDS (not imported: keeps --help fast)


def add_depth_arguments(parser: argparse.ArgumentParser, depth_help: str, metavar: str = "FILE|DIR") -> None:
    """``--depth FILE|DIR``, ``--depth-kind`` and ``--depth-colormap`` (files are found by
    :func:`gan_bokeh.depth.find_depth_file` and read by :func:`gan_bokeh.depth.load_depth`)."""
    parser.add_argument("--depth", type=Path, default=None, metavar=metavar, help=depth_help)
    parser.add_argument("--depth-kind", choices=DEPTH_KIND_CHOICES, default="depth",
                        help="depth: larger = farther (default); disparity: larger = nearer")
    parser.add_argument("--depth-colormap", default=None, metavar="NAME",
                        help="the depth files are colour visualisations in this matplotlib colormap "
                             "(e.g. Spectral); index 0 = --depth-kind's low end")
