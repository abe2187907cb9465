"""``gan-bokeh build-dataset`` (placeholder until its issue lands)."""

from __future__ import annotations

import argparse

from gan_bokeh.errors import UserError

HELP = "build-dataset (not implemented yet)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rest", nargs=argparse.REMAINDER)


def run(args: argparse.Namespace) -> int:
    raise UserError("'build-dataset' is not implemented yet")
