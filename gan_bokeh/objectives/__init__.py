"""Training objectives: which networks a run trains, which losses of :mod:`gan_bokeh.losses` they see and
in which order. One registry (``@register_objective("cyclegan")``) feeds ``model.objective`` in the config,
the docs and the registry-wide test; the trainer (:mod:`gan_bokeh.train.loop`) only schedules.

An objective is built on CPU-free terms by :func:`build_objective` and must provide the interface of
:class:`~gan_bokeh.objectives.base.Objective`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gan_bokeh.objectives.base import NonFiniteLossError, Objective
from gan_bokeh.objectives.registry import OBJECTIVES, objective_class, register_objective

if TYPE_CHECKING:
    import torch
    from torch import nn

    from gan_bokeh.train.config import TrainConfig

__all__ = ["OBJECTIVES", "Objective", "NonFiniteLossError", "register_objective", "objective_class",
           "build_objective"]


def build_objective(cfg: TrainConfig, device: torch.device, vgg: nn.Module | None = None,
                    rank: int = 0, **kwargs: Any) -> Objective:
    """Instantiate the objective named by ``cfg.model.objective`` on ``device``."""
    return objective_class(cfg.model.objective)(cfg, device, vgg=vgg, rank=rank, **kwargs)
