"""Learning-rate schedule: constant for ``n_epochs``, then linear towards 0 over ``n_epochs_decay``."""

from __future__ import annotations

import torch

__all__ = ["lr_factor", "make_scheduler"]


def lr_factor(epoch: int, n_epochs: int, n_epochs_decay: int) -> float:
    """Multiplier of the base LR during 0-based ``epoch`` (CycleGAN's ``linear`` policy).

    1 for the first ``n_epochs`` epochs, then ``1 − k/(n_epochs_decay + 1)`` in the k-th decay epoch,
    so the last epoch trains at ``1/(n_epochs_decay + 1)`` of the base rate and the next would be 0.
    """
    return max(0.0, 1.0 - max(0, epoch + 1 - n_epochs) / float(n_epochs_decay + 1))


def make_scheduler(opt: torch.optim.Optimizer, n_epochs: int, n_epochs_decay: int) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` stepped once per epoch; its state dict is plain data (safe checkpoints)."""

    def factor(epoch: int) -> float:
        return lr_factor(epoch, n_epochs, n_epochs_decay)

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)
