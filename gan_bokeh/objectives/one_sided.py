"""What the one-sided objectives (CUT, FastCUT, defocus) share: one generator G (A→B), one discriminator
D_B, optimisers ``G`` and ``D``, and the same update order as CycleGAN — G first (D_B frozen), then D_B on
the real B photos against the detached (optionally pooled) fakes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor

from gan_bokeh import losses as L
from gan_bokeh.objectives.base import Objective
from gan_bokeh.train.config import TrainConfig

__all__ = ["OneSidedObjective"]


class OneSidedObjective(Objective):
    """Base of objectives with nets ``G`` and ``D_B`` and optimisers ``G`` (G and any heads) and ``D``.

    Only domain A's masks and depth are read (the overlay, the mask loss and the extra inputs act on G's
    input), so real B photos without a mask stay in the training set.
    """

    @classmethod
    def input_domains(cls, cfg: TrainConfig) -> str:
        return "A"

    def _one_sided_step(self, generator_losses: Callable[[], tuple[Tensor, dict[str, Tensor]]], real_B: Tensor,
                        pool: Any = None) -> dict[str, float]:
        """One G update from ``generator_losses() -> (fake_B, terms)``, then one D_B update; every term as
        a float.

        Raises:
            NonFiniteLossError: before the update concerned is applied when a loss is NaN/inf.
        """
        D = self.nets["D_B"]
        fake_B, terms_G = self._generator_update([D], self.optimizers["G"], generator_losses)
        opt_D = self.optimizers["D"]
        opt_D.zero_grad(set_to_none=True)
        with self._autocast():
            fake = fake_B.detach() if pool is None else pool.query(fake_B.detach())
            terms_D = {"D_B": L.discriminator_loss(D(real_B), D(fake), self.cfg.train.gan_mode)}
        self._check_finite(terms_D)
        self.scaler.scale(terms_D["D_B"]).backward()
        self.scaler.step(opt_D)
        self.scaler.update()
        return {k: float(v.detach()) for k, v in {**terms_G, **terms_D}.items()}
