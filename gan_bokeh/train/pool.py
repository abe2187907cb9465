"""Image pool (Shrivastava et al.; CycleGAN §4): D sees a history of generated images, not only the newest."""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["ImagePool"]


class ImagePool:
    """Up to ``size`` past fakes; each query returns, per image, either that image or (p = 0.5, once the
    pool is full) a stored one, which the new image replaces.

    Its randomness comes from a private generator so the pool can be saved and restored exactly.
    """

    def __init__(self, size: int = 50, seed: int = 0) -> None:
        self.size = size
        self.images: list[torch.Tensor] = []
        self.gen = torch.Generator().manual_seed(seed)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` detached fakes → ``(B, C, H, W)`` images for the discriminator."""
        if self.size == 0:
            return images
        out = []
        for img in images.detach():
            img = img[None]
            if len(self.images) < self.size:
                self.images.append(img.clone())
                out.append(img)
            elif torch.rand(1, generator=self.gen).item() > 0.5:
                idx = int(torch.randint(0, self.size, (1,), generator=self.gen).item())
                out.append(self.images[idx].clone())
                self.images[idx] = img.clone()
            else:
                out.append(img)
        return torch.cat(out, 0)

    def state_dict(self) -> dict[str, Any]:
        return {"size": self.size, "images": [t.detach().cpu() for t in self.images],
                "rng": self.gen.get_state()}

    def load_state_dict(self, state: dict[str, Any], device: torch.device | str = "cpu") -> None:
        self.size = int(state["size"])
        self.images = [t.to(device) for t in state["images"]]
        self.gen.set_state(state["rng"])
