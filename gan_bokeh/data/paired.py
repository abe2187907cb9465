"""Paired dataset: a sharp photo, the same scene shot with a wide aperture, and optionally a depth map.

Layouts (pairs are matched by file stem, any image extension):

* EBB! (Ignatov et al.): ``<root>/<phase>/original/``, ``<root>/<phase>/bokeh/``, optional
  ``<root>/<phase>/depth/`` (or ``original_depth/``, the authors' name for the test split);
* the VABM/VABD layout: ``<root>/<phase>/input/``, ``<root>/<phase>/target/`` (or ``1_8/``, the f/1.8 shot),
  optional ``<root>/<phase>/depth/``.

``root`` may also be a folder of such datasets (e.g. ``vabm/`` holding ``EBB/`` and ``VABD/``): every direct
sub-folder with the layout contributes its pairs.

Loader side: decode both images (and the depth map), resize so the shorter side is ``load_size`` (aspect
kept), then take ONE random ``crop_size²`` window and a random horizontal flip, identical for input, target
and depth. The window and the flip are drawn from ``(seed, epoch, position)``, so a resumed run and any
number of workers see the same crops. A pair that does not decode, or whose input and target sizes
differ (a pair that was never aligned), gives ``{"bad": [(path, reason)]}``: the trainer warns once per
pair and counts it in the epoch summary.

Coping with real pairs (EBB!'s were matched with SIFT + RANSAC and cropped to the intersection, and
wide/narrow-aperture shots differ in exposure): input and target are always cropped with the same window
in the same geometry, so the residual misalignment is that of the dataset (a few pixels at full
resolution); the coarse levels see it shrunk by 2–64× and train on L1, which is robust to it, and the fine
levels add SSIM (structure, local mean/contrast normalised) and a VGG content term, which tolerate small
shifts and global exposure offsets far better than a per-pixel loss alone (see :mod:`gan_bokeh.objectives.pynet`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gan_bokeh.data.cache import ArrayCache, file_identity
from gan_bokeh.data.unpaired import collate_skipping_bad
from gan_bokeh.errors import BadImageError, UserError
from gan_bokeh.io import list_images, open_image, resize_image

__all__ = ["PairedDataset", "PairFolders", "find_pair_folders", "collate_paired", "INPUT_DIRS", "TARGET_DIRS",
           "DEPTH_DIRS"]

INPUT_DIRS = ("original", "input")
TARGET_DIRS = ("bokeh", "target", "1_8")
DEPTH_DIRS = ("depth", "original_depth")


@dataclass(frozen=True)
class PairFolders:
    input: Path
    target: Path
    depth: Path | None


def _first_dir(d: Path, names: Sequence[str]) -> Path | None:
    return next((d / n for n in names if (d / n).is_dir()), None)


def find_pair_folders(root: str | os.PathLike[str], phase: str = "train") -> list[PairFolders]:
    """Every ``(input, target, depth)`` folder triple under ``root`` for ``phase`` (see the module docstring).

    Raises:
        UserError: ``root`` is missing or holds no paired layout.
    """
    r = Path(root)
    if not r.is_dir():
        raise UserError(f"--data {r}: no such folder")
    candidates = [r / phase, r] + [s / phase for s in sorted(r.iterdir()) if s.is_dir()]
    out: list[PairFolders] = []
    for d in candidates:
        if not d.is_dir():
            continue
        inp, tgt = _first_dir(d, INPUT_DIRS), _first_dir(d, TARGET_DIRS)
        if inp is not None and tgt is not None:
            out.append(PairFolders(inp, tgt, _first_dir(d, DEPTH_DIRS)))
    if not out:
        raise UserError(f"--data {r}: no paired photos found; expected {phase}/original/ + {phase}/bokeh/ (EBB!) "
                        f"or {phase}/input/ + {phase}/target/ (or 1_8/), optionally with depth/")
    return out


def _by_stem(folder: Path) -> dict[str, Path]:
    """Images of ``folder`` by stem (extensions in any case: VABD's ``0001.JPG``); the first name wins."""
    out: dict[str, Path] = {}
    for p in list_images(folder):
        out.setdefault(p.stem, p)
    return out


def _load_rgb(path: Path, short_side: int) -> np.ndarray:
    """uint8 ``(H, W, 3)``, shorter side resized to ``short_side`` (0 = as stored)."""
    from gan_bokeh.io import pil_to_rgb_alpha, to_uint8

    draft = None
    if short_side > 0:
        draft = (short_side, short_side)  # JPEG draft decodes at >= this size: cheap for small CPU runs
    rgb, _ = pil_to_rgb_alpha(open_image(path, draft=draft))
    return to_uint8(_resize_short(rgb, short_side))


def _resize_short(arr: np.ndarray, short_side: int) -> np.ndarray:
    if short_side <= 0:
        return arr
    h, w = arr.shape[:2]
    s = short_side / min(h, w)
    return resize_image(arr, (max(1, round(h * s)), max(1, round(w * s))))


class PairedDataset(torch.utils.data.Dataset):
    """Items ``{"input", "target"}`` uint8 ``(3, S, S)`` (``S = crop_size``), optional ``"depth"`` float32
    ``(1, S, S)`` (0 = near … 1 = far, :mod:`gan_bokeh.depth`'s convention) and ``"path"``; a bad pair gives
    ``{"bad": [(path, reason)]}``. Indexed by the ``(index, _, epoch, position)`` keys of
    :class:`~gan_bokeh.data.unpaired.UnpairedBatchSampler` (built with ``n_b = 1``).

    Args:
        root: dataset folder (see :func:`find_pair_folders`).
        crop_size: side of the aligned random crop, at the loaded (target) resolution.
        load_size: shorter side after loading (0 = as stored; EBB! is stored at 1024).
        need_depth: load depth maps; pairs without one are left out (warned), none at all is an error.
        depth_kind, depth_colormap: how to read the depth files (:func:`gan_bokeh.depth.load_depth`);
            the VABM/VABD maps are colour visualisations: ``depth_colormap="Spectral"``.
        flip: random horizontal flip.
        seed: crop/flip stream seed (``train.seed``).

    Raises:
        UserError: no layout, no pairs, or depth needed and absent.
    """

    def __init__(self, root: str | os.PathLike[str], phase: str = "train", *, crop_size: int, load_size: int = 0,
                 need_depth: bool = False, depth_kind: str = "depth", depth_colormap: str | None = None,
                 flip: bool = True, seed: int = 0, cache_dir: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root)
        self.cache = ArrayCache(cache_dir) if cache_dir is not None else None
        self.crop_size, self.load_size, self.flip, self.seed = crop_size, load_size, flip, seed
        self.need_depth, self.depth_kind, self.depth_colormap = need_depth, depth_kind, depth_colormap
        self.items: list[tuple[Path, Path, Path | None]] = []
        unmatched: list[Path] = []
        no_depth: list[Path] = []
        for f in find_pair_folders(self.root, phase):
            targets = _by_stem(f.target)
            depths = _by_stem(f.depth) if f.depth is not None else {}
            for inp in list_images(f.input):
                tgt = targets.get(inp.stem)
                if tgt is None:
                    unmatched.append(inp)
                    continue
                dep = depths.get(inp.stem)
                if need_depth and dep is None:
                    no_depth.append(inp)
                    continue
                self.items.append((inp, tgt, dep))
        import logging

        log = logging.getLogger(__name__)
        if unmatched:
            log.warning("%d input photo(s) have no target of the same name and are left out (first: %s)",
                        len(unmatched), unmatched[0])
        if no_depth:
            log.warning("%d pair(s) have no depth map and are left out (first: %s)", len(no_depth), no_depth[0])
        if not self.items:
            why = " with a depth map (model.inputs has depth)" if need_depth and no_depth else ""
            raise UserError(f"--data {self.root}: no input/target pairs{why} found (pairs share a file name stem)")

    def __len__(self) -> int:
        return len(self.items)

    @property
    def n_a(self) -> int:
        return len(self.items)

    def _load(self, idx: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        inp, tgt, dep = self.items[idx]
        x = _load_rgb(inp, self.load_size)
        y = _load_rgb(tgt, self.load_size)
        if x.shape != y.shape:
            raise BadImageError(inp, f"input is {x.shape[1]}x{x.shape[0]} but its target {tgt} is "
                                     f"{y.shape[1]}x{y.shape[0]}; pairs must be aligned and the same size")
        if min(x.shape[:2]) < self.crop_size:
            raise BadImageError(inp, f"{x.shape[1]}x{x.shape[0]} is smaller than data.crop_size {self.crop_size}")
        d = self._load_depth(dep, x.shape[:2]) if (self.need_depth and dep is not None) else None
        return x, y, d

    def _load_depth(self, path: Path, shape: tuple[int, int]) -> np.ndarray:
        """float32 ``(H, W)`` in [0, 1] at ``shape``; cached on disk as uint16 (colour-mapped files take
        ~0.5 s each to invert)."""
        from gan_bokeh.depth import load_depth, resize_depth

        key = None
        if self.cache is not None:
            key = f"depth|{file_identity(path)}|{self.depth_kind}|{self.depth_colormap}|{shape}"
            hit = self.cache.get(key)
            if hit is not None and hit.shape == (*shape, 2):
                return (hit[..., 0].astype(np.float32) * 256 + hit[..., 1]) / 65535.0
        try:
            d = resize_depth(load_depth(path, self.depth_kind, self.depth_colormap), shape)
        except BadImageError:
            raise
        except UserError as err:  # a colour map without data.depth_colormap, a bad array, ...
            raise BadImageError(path, str(err).split(": ", 1)[-1]) from None
        if key is not None and self.cache is not None:
            q = np.round(np.clip(d, 0, 1) * 65535).astype(np.uint16)  # uint8 cache: store hi/lo bytes
            self.cache.put(key, np.dstack([(q >> 8).astype(np.uint8), (q & 255).astype(np.uint8)]))
        return d

    def __getitem__(self, key: Any) -> dict[str, Any]:
        idx, epoch, pos = int(key[0]), int(key[2]), int(key[3])
        try:
            x, y, d = self._load(idx)
        except BadImageError as err:
            return {"bad": [(err.path, err.reason)]}
        rng = np.random.default_rng([self.seed, epoch, pos, idx, 0xB0E])
        s = self.crop_size
        top = int(rng.integers(0, x.shape[0] - s + 1))
        left = int(rng.integers(0, x.shape[1] - s + 1))
        flip = self.flip and bool(rng.integers(0, 2))
        win = (slice(top, top + s), slice(left, left + s, None))

        def crop(a: np.ndarray) -> torch.Tensor:
            c = a[win]
            if flip:
                c = c[:, ::-1]
            c = c[..., None] if c.ndim == 2 else c
            return torch.from_numpy(np.ascontiguousarray(c.transpose(2, 0, 1)))

        item: dict[str, Any] = {"input": crop(x), "target": crop(y), "path": str(self.items[idx][0])}
        if d is not None:
            item["depth"] = crop(d.astype(np.float32))
        return item


def collate_paired(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stack good items; ``batch["bad"]`` lists skipped pairs; ``batch["input"]`` is ``None`` when all were bad."""
    return collate_skipping_bad(items, "input")
