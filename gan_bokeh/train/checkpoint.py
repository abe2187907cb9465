"""Checkpoint files: safe to load (``torch.load(weights_only=True)``), written atomically.

A checkpoint is a plain dict of tensors and primitives (no pickled classes), format ``gan-bokeh/1``::

    {
      "format": "gan-bokeh/1",
      "iteration": int, "epoch": int,
      "arch": {"G": {"name": "resnet_9blocks", "kwargs": {...}}, "F": {...}, "D_A": {...}, "D_B": {...}},
      "nets": {"G": state_dict, "F": state_dict, "D_A": state_dict, "D_B": state_dict},
      "config": {... resolved training config as plain dict ...},
      # latest.pt only (what --resume needs):
      "optim": {"G", "D"}, "sched": {"G", "D"}, "scaler": {...},
      "pools": {"A", "B"}, "pools_by_rank": [...], "rng_by_rank": [...],
      "progress": {"epoch", "batch", "iteration"}, "world_size": int,
    }

``iter_NNNNNNN.pt`` files hold only ``arch``, ``nets``, ``config``, ``iteration`` and ``epoch``.

Naming follows the paper: G maps A→B (ordinary → shallow DoF), F maps B→A.
A run folder holds ``ckpt/latest.pt`` (and ``ckpt/iter_NNNNNNN.pt``); :func:`resolve_checkpoint` accepts
either a run folder or a file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gan_bokeh.errors import UserError
from gan_bokeh.io.atomic import atomic_path
from gan_bokeh.nets import build_generator
from gan_bokeh.weights import torch_load_reason

FORMAT = "gan-bokeh/1"
DIRECTIONS = {"AtoB": "G", "BtoA": "F"}


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Atomically write ``state`` (must hold only tensors, containers and primitives)."""
    state = {"format": FORMAT, **state}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return Path(path)


def resolve_checkpoint(run_or_file: str | os.PathLike[str]) -> Path:
    """A ``.pt`` file as given, or ``<run>/ckpt/latest.pt`` for a run folder."""
    p = Path(run_or_file)
    if p.is_file():
        return p
    if p.is_dir():
        for cand in (p / "ckpt" / "latest.pt", p / "latest.pt"):
            if cand.is_file():
                return cand
        raise UserError(f"{p}: run folder has no ckpt/latest.pt; train it first or pass a checkpoint file")
    raise UserError(f"{p}: no such run folder or checkpoint file")


def load_checkpoint(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint without executing pickled code (``weights_only=True``)."""
    p = resolve_checkpoint(path)
    try:
        state = torch.load(p, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises many types for corrupt/unsafe files
        raise UserError(f"{p}: not a loadable gan-bokeh checkpoint ({torch_load_reason(err)}); "
                        "re-copy it or pick another file from ckpt/") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise UserError(f"{p}: not a gan-bokeh checkpoint (missing format tag {FORMAT!r})")
    return state


def build_net_from_arch(arch: dict[str, Any]) -> nn.Module:
    """Instantiate a generator from its ``{"name", "kwargs"}`` record."""
    return build_generator(arch["name"], **arch.get("kwargs", {}))


def load_generator(run_or_file: str | os.PathLike[str], direction: str = "AtoB",
                   map_location: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Load G (``AtoB``) or F (``BtoA``) in eval mode.

    Returns:
        ``(net, state)`` where ``state`` is the whole checkpoint dict (config, iteration, ...).
    """
    if direction not in DIRECTIONS:
        raise UserError(f"--direction {direction}: choose AtoB or BtoA")
    state = load_checkpoint(run_or_file, map_location)
    return generator_from_state(state, direction, run_or_file), state


def generator_from_state(state: dict[str, Any], direction: str = "AtoB",
                         source: str | os.PathLike[str] = "checkpoint") -> nn.Module:
    """G (``AtoB``) or F (``BtoA``) of an already loaded checkpoint, in eval mode (``source`` names it in
    the error)."""
    if direction not in DIRECTIONS:
        raise UserError(f"--direction {direction}: choose AtoB or BtoA")
    key = DIRECTIONS[direction]
    try:
        net = build_net_from_arch(state["arch"][key])
        net.load_state_dict(state["nets"][key])
    except (KeyError, RuntimeError) as err:
        raise UserError(f"{source}: checkpoint has no usable {key} network ({err})") from None
    return net.eval()
