"""``gan-bokeh`` command line: one thin module per subcommand.

Each subcommand module defines ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``,
and imports anything heavy (torch, OpenCV) *inside* ``run`` so ``gan-bokeh --help`` stays instant.
A :class:`~gan_bokeh.errors.UserError` becomes one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from gan_bokeh import __version__
from gan_bokeh.errors import UserError

#: subcommand name → module (under ``gan_bokeh.cli``), in the order of the data flow.
SUBCOMMANDS: dict[str, str] = {
    "scrape": "scrape",
    "dedupe": "dedupe",
    "review": "review",
    "build-dataset": "build_dataset",
    "segment": "segment",
    "train": "train",
    "generate": "generate",
    "render": "render",
    "evaluate": "evaluate",
    "compare": "compare",
    "demo": "demo",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gan-bokeh",
        description="Shallow depth of field for portraits: dataset tools, CycleGAN training, rendering.")
    parser.add_argument("--version", action="version", version=f"gan-bokeh {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in SUBCOMMANDS.items():
        module = importlib.import_module(f"gan_bokeh.cli.{module_name}")
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(message)s", stream=sys.stderr)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except UserError as err:
        print(f"gan-bokeh {args.command}: error: {err}", file=sys.stderr)
        return err.exit_code
    except OSError as err:
        if err.filename is None:  # not about a path the user gave: a bug, keep the traceback
            raise
        # e.g. --out names an existing file, a folder without write permission, a full disk
        where = f"{err.filename} -> {err.filename2}" if err.filename2 else str(err.filename)
        if isinstance(err, (FileExistsError, NotADirectoryError)):
            why = "is a file where a folder is needed; choose another path"
        else:
            why = f"{err.strerror or err}; check the path and its permissions"
        print(f"gan-bokeh {args.command}: error: {where}: {why}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"gan-bokeh {args.command}: interrupted", file=sys.stderr)
        return 130
