"""Conversions between the library's image convention and the nets' tensors.

Library: float32 numpy, RGB ``(H, W, 3)`` in [0, 1]; masks ``(H, W)`` in [0, 1].
Nets: torch ``(B, C, H, W)`` in [-1, 1] for images, ``(B, 1, H, W)`` in [0, 1] for masks.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["image_to_tensor", "images_to_tensor", "tensor_to_images", "mask_to_tensor", "tensor_to_masks"]


def image_to_tensor(image: np.ndarray) -> torch.Tensor:
    """``(H, W, 3)`` [0, 1] → ``(1, 3, H, W)`` [-1, 1] float32."""
    return images_to_tensor(np.asarray(image)[None])


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """``(B, H, W, 3)`` [0, 1] → ``(B, 3, H, W)`` [-1, 1] float32."""
    arr = np.asarray(images, dtype=np.float32)
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(f"expected (B, H, W, 3) images, got shape {arr.shape}")
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(0, 3, 1, 2))).mul(2.0).sub(1.0)


def tensor_to_images(t: torch.Tensor) -> np.ndarray:
    """``(B, 3, H, W)`` [-1, 1] → ``(B, H, W, 3)`` [0, 1] float32 numpy (clipped)."""
    if t.ndim != 4:
        raise ValueError(f"expected a (B, C, H, W) tensor, got shape {tuple(t.shape)}")
    x = t.detach().float().cpu().add(1.0).mul(0.5).clamp_(0.0, 1.0)
    return np.ascontiguousarray(x.permute(0, 2, 3, 1).numpy())


def mask_to_tensor(mask: np.ndarray) -> torch.Tensor:
    """``(H, W)`` [0, 1] → ``(1, 1, H, W)`` float32."""
    m = np.asarray(mask, dtype=np.float32)
    if m.ndim != 2:
        raise ValueError(f"expected an (H, W) mask, got shape {m.shape}")
    return torch.from_numpy(np.ascontiguousarray(m))[None, None]


def tensor_to_masks(t: torch.Tensor) -> np.ndarray:
    """``(B, 1, H, W)`` → ``(B, H, W)`` float32 numpy in [0, 1]."""
    return np.ascontiguousarray(t.detach().float().cpu().clamp(0.0, 1.0)[:, 0].numpy())
