"""The one mask rule of the project (torch-free: the scrapers use it too).

A subject mask is float32 ``(H, W)`` in [0, 1], white = subject. For an image ``photo.jpg`` the mask comes
from the first of these that exists:

1. ``mask`` is a **file**: that file (a single input; ``--mask FILE``).
2. ``mask`` is a **folder** (``--mask DIR``, ``--mask-dir``, ``data.mask_dir``): ``<DIR>/photo.png``, then
   ``<DIR>/photo.mask.png``, then any ``<DIR>/photo.<image extension>`` (e.g. EBB!'s ``focal/photo.jpg``).
   The image itself is never its own mask. A folder the user names wins over a sidecar.
3. the **sidecar** ``photo.mask.png`` beside the image.
4. the image's **alpha channel** (an RGBA PNG, the paper's format) — unless it is **fully opaque**: a photo an
   editor saved as RGBA with every pixel at 255 carries no subject, so an opaque alpha is "no mask", never a
   full-frame subject (which would make subject metrics compare the whole frame, and training would treat
   every pixel as subject).
5. otherwise there is no mask: the caller runs the person segmenter or goes without, and says so.

A mask file wins over the alpha channel: it is the more deliberate of the two.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gan_bokeh.io.images import MASK_SUFFIX, find_by_stem, read_mask, resize_image

__all__ = ["MaskSource", "alpha_is_mask", "find_mask", "find_mask_file", "load_mask"]


@dataclass(frozen=True)
class MaskSource:
    """Where the mask of one image comes from.

    Attributes:
        kind: ``"file"`` (a mask file) or ``"alpha"`` (the image's own alpha channel).
        path: the mask file, or the image itself for ``"alpha"``.
    """

    kind: str
    path: Path

    @property
    def label(self) -> str:
        """``file:<path>`` or ``alpha channel`` (recorded in manifests and report captions)."""
        return f"file:{self.path}" if self.kind == "file" else "alpha channel"

    def load(self, alpha: np.ndarray | None = None, shape: tuple[int, int] | None = None) -> np.ndarray:
        """The mask as float32 ``(H, W)`` in [0, 1], resized (linear) to ``shape = (H, W)`` when given.

        ``alpha``: the already decoded alpha for ``"alpha"`` sources (else the image is read again).

        Raises:
            BadImageError: the mask file cannot be decoded.
        """
        if self.kind == "file":
            m = read_mask(self.path)
        else:
            m = alpha if alpha is not None else read_mask(self.path)
        m = np.asarray(m, dtype=np.float32)
        return resize_image(m, shape, up="linear") if shape is not None else m


def alpha_is_mask(alpha: np.ndarray | None) -> bool:
    """True when an alpha channel (float [0, 1] or uint8) is a subject mask: present and not fully opaque."""
    if alpha is None:
        return False
    a = np.asarray(alpha)
    return bool(a.min() < (255 if a.dtype == np.uint8 else 1.0))


def find_mask_file(image_path: str | os.PathLike[str], mask: str | os.PathLike[str] | None = None
                   ) -> Path | None:
    """Steps 1–3 of the rule (module docstring): the mask *file* of an image, or ``None``.

    Args:
        image_path: the image.
        mask: a mask file (used as is), a folder of masks, or ``None`` (sidecar only).
    """
    p = Path(image_path)
    if mask is not None:
        m = Path(mask)
        if m.is_file():
            return m
        if m.is_dir():
            for c in (m / f"{p.stem}.png", m / f"{p.stem}{MASK_SUFFIX}"):
                if c.is_file() and c.resolve() != p.resolve():
                    return c
            if (found := find_by_stem(m, p.stem, exclude=p)) is not None:
                return found
    sidecar = p.with_name(p.stem + MASK_SUFFIX)
    return sidecar if sidecar.is_file() and sidecar.resolve() != p.resolve() else None


def find_mask(image_path: str | os.PathLike[str], mask: str | os.PathLike[str] | None = None, *,
              alpha: np.ndarray | None = None) -> MaskSource | None:
    """The whole rule (module docstring): where the mask of ``image_path`` comes from, or ``None``.

    Args:
        image_path: the image.
        mask: a mask file, a folder of masks, or ``None``.
        alpha: the image's decoded alpha channel (``None`` when it has none).
    """
    found = find_mask_file(image_path, mask)
    if found is not None:
        return MaskSource("file", found)
    if alpha_is_mask(alpha):
        return MaskSource("alpha", Path(image_path))
    return None


def load_mask(image_path: str | os.PathLike[str], alpha: np.ndarray | None,
              mask: str | os.PathLike[str] | None = None, *, shape: tuple[int, int] | None = None
              ) -> tuple[np.ndarray | None, str]:
    """Find and load the mask of one image: ``(mask float32 (H, W) in [0, 1] or None, source label)``.

    The label is :attr:`MaskSource.label` or ``"none"``. ``shape`` defaults to the alpha's shape.

    Raises:
        BadImageError: the mask file cannot be decoded (batch jobs record it and carry on).
    """
    src = find_mask(image_path, mask, alpha=alpha)
    if src is None:
        return None, "none"
    if shape is None and alpha is not None:
        shape = alpha.shape[:2]
    return src.load(alpha, shape), src.label
