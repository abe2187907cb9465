"""Unpaired two-domain dataset (``trainA/``, ``trainB/``) with optional subject masks and depth maps.

Masks (paper §3.4): the one rule of :mod:`gan_bokeh.io.masks` — a mask file of the same stem in
``data.mask_dir``, else a sidecar ``<stem>.mask.png``, else the alpha channel of an RGBA PNG unless it is fully
opaque (then the image has no mask: with masks needed it is skipped when loaded, and named in the log).

Depth (generator input ``model.inputs`` with ``depth``): a depth file found by
:func:`gan_bokeh.depth.find_depth_file` in ``depth_dir`` (default: beside the image: ``<stem>_depth.png``,
``<base>_disparity.jpg``, …), read by :func:`gan_bokeh.depth.load_depth` (0 = near … 1 = far; ``*_disp*``
files are read as disparity unless ``depth_kind`` says otherwise); without a file, the offline guess from the
subject mask (:func:`gan_bokeh.depth.fallback_depth`), the same one ``render`` and ``generate`` fall back to.

The loader side is deterministic: each item is decoded at reduced size and resized to ``load_size²``
(:func:`~gan_bokeh.data.transforms.load_resized`, optionally cached on disk), as uint8. The random crop,
flip and colour jitter run batched on the training device (:mod:`gan_bokeh.data.augment`). The batch
sampler draws each epoch's order and the random B partner from ``(seed, epoch)``, so a run can resume in
the middle of an epoch and see exactly the batches it would have seen, with any number of loader
workers, and DDP ranks take disjoint slices of the same order.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gan_bokeh.data.cache import ArrayCache, file_identity
from gan_bokeh.data.transforms import center_square, load_resized, resize_square
from gan_bokeh.depth import fallback_depth, find_depth_file, load_depth
from gan_bokeh.errors import BadImageError, UserError
from gan_bokeh.io import find_mask_file, image_info, list_images, to_uint8

__all__ = ["UnpairedDataset", "UnpairedBatchSampler", "collate_unpaired", "collate_skipping_bad", "ItemKey",
           "MASK_HOWTO"]

log = logging.getLogger(__name__)

#: (index in A, index in B, epoch, position in the epoch's order)
ItemKey = tuple[int, int, int, int]
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")

# Sidecars are the format `segment` may write into the photo folder itself (RGBA <stem>.png there is refused).
MASK_HOWTO = ("make them with `gan-bokeh segment {dir} --out {dir} --format mask` "
              "(writes a <stem>.mask.png beside each image)")


def _domain_dir(root: Path, phase: str, domain: str) -> Path:
    d = root / f"{phase}{domain}"
    if not d.is_dir():
        raise UserError(f"{d}: no such folder; a dataset folder holds {phase}A/ and {phase}B/ "
                        "(see `gan-bokeh build-dataset`)")
    return d


def _has_alpha(path: Path) -> bool:
    try:
        return str(image_info(path)["mode"]) in _ALPHA_MODES
    except BadImageError:
        return False  # reported (and skipped) when the item is loaded


def _dedupe_stems(paths: list[Path]) -> list[Path]:
    """``photo.jpg`` + ``photo.png`` (RGBA written by ``segment --format rgba``) → keep the RGBA one."""
    by_stem: dict[str, list[Path]] = {}
    for p in paths:
        by_stem.setdefault(p.stem, []).append(p)
    out = []
    for group in by_stem.values():
        if len(group) == 1:
            out.append(group[0])
            continue
        with_alpha = [p for p in group if _has_alpha(p)]
        out.append((with_alpha or group)[0])
    return sorted(out)


class UnpairedDataset(torch.utils.data.Dataset):
    """Items are dicts ``{"A", "B"}`` (uint8 ``(3, L, L)``, ``L = load_size``), ``{"mask_A", "mask_B"}``
    (uint8 ``(1, L, L)``, only with ``need_masks``) and ``{"path_A", "path_B"}``; an unreadable file gives
    ``{"bad": [(path, reason)]}`` instead, which :func:`collate_unpaired` drops and reports. Crop, flip and
    the conversion to [-1, 1] happen on the training device (:func:`gan_bokeh.data.augment.augment_batch`).

    Indexed by :data:`ItemKey` tuples from :class:`UnpairedBatchSampler`.

    Args:
        root: dataset folder with ``<phase>A/`` and ``<phase>B/``.
        load_size: resize to ``load_size²``.
        squash: resize the whole photo (aspect ratio lost, the reference CycleGAN's ``resize_and_crop``);
            ``False`` cuts the central square first (``data.preprocess`` ``keep_aspect`` / ``paper``).
        need_masks: load masks (mask loss or overlay on); images without one are left out (warned),
            and a domain without any is a :class:`UserError` that says how to make them.
        mask_dir: optional folder of ``<stem>.png`` masks (both domains).
        domains: the domains whose masks and depth are loaded (``"AB"``; ``"A"`` for the one-sided
            objectives, whose real B photos need no mask — then B photos without one are kept).
        need_depth: also load a depth map (``depth_A``/``depth_B``, uint8 ``(1, L, L)``, 0 = near).
        depth_dir: folder of depth files for both domains (default: each image's own folder).
        depth_kind: ``auto`` (``*_disparity``/``*_disp`` files are disparity, others depth), ``depth`` or
            ``disparity``.
        cache_dir: folder for the on-disk cache of resized arrays (:mod:`gan_bokeh.data.cache`); ``None``
            decodes every time.

    Raises:
        UserError: missing folder, empty domain, or no masks when they are needed.
    """

    def __init__(self, root: str | os.PathLike[str], phase: str = "train", *, load_size: int = 286,
                 need_masks: bool = False, mask_dir: str | os.PathLike[str] | None = None,
                 cache_dir: str | os.PathLike[str] | None = None, need_depth: bool = False,
                 depth_dir: str | os.PathLike[str] | None = None, depth_kind: str = "auto",
                 squash: bool = True, domains: str = "AB") -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise UserError(f"--data {self.root}: no such folder")
        self.load_size = load_size
        self.squash = squash
        self.need_masks = need_masks
        self.domains = domains
        self.mask_dir = Path(mask_dir) if mask_dir else None
        self.need_depth, self.depth_kind = need_depth, depth_kind
        self.depth_dir = Path(depth_dir) if depth_dir else None
        if self.depth_dir is not None and not self.depth_dir.is_dir():
            raise UserError(f"data.depth_dir {self.depth_dir}: no such folder")
        self.cache = ArrayCache(cache_dir) if cache_dir is not None else None
        self.paths: dict[str, list[Path]] = {}
        self.mask_files: dict[str, dict[Path, Path | None]] = {}
        self.depth_files: dict[str, dict[Path, Path | None]] = {}
        dirs = {dom: _domain_dir(self.root, phase, dom) for dom in ("A", "B")}
        for dom, d in dirs.items():
            paths = _dedupe_stems(list_images(d))
            if not paths:
                raise UserError(f"{d}: no images (.jpg/.png/...) found; put the domain-{dom} photos there")
            masks: dict[Path, Path | None] = {p: find_mask_file(p, self.mask_dir) for p in paths}
            if need_masks and dom in domains:
                paths = self._keep_masked(d, paths, masks)
            self.paths[dom], self.mask_files[dom] = paths, masks
            if need_depth and dom in domains:
                self.depth_files[dom] = {p: find_depth_file(p, self.depth_dir or p.parent) for p in paths}
                n_found = sum(f is not None for f in self.depth_files[dom].values())
                log.info("%s: depth files for %d of %d images (the rest: fallback guess from the mask)",
                         d, n_found, len(paths))
    def _keep_masked(self, d: Path, paths: list[Path], masks: dict[Path, Path | None]) -> list[Path]:
        kept = [p for p in paths if masks[p] is not None or _has_alpha(p)]
        if not kept:
            raise UserError(f"{d}: no subject masks found, but the config needs them (train.lambda_mask > 0 "
                            f"or train.mask_overlay); " + MASK_HOWTO.format(dir=d))
        if len(kept) < len(paths):
            missing = sorted(set(paths) - set(kept))
            log.warning("%s: %d of %d images have no mask and are left out (first: %s)",
                        d, len(missing), len(paths), missing[0].name)
        return kept

    @property
    def n_a(self) -> int:
        return len(self.paths["A"])

    @property
    def n_b(self) -> int:
        return len(self.paths["B"])

    def __len__(self) -> int:
        return max(self.n_a, self.n_b)

    def _cache_key(self, path: Path, mfile: Path | None, dfile: Path | None, masks: bool, depth: bool) -> str | None:
        try:
            src = ("mask " + file_identity(mfile)) if mfile else ("alpha;opaque=none" if masks else "none")
            if depth:
                src += f"|depth {self.depth_kind} " + (file_identity(dfile) if dfile else "fallback")
            return f"{file_identity(path)}|{src}|{self.load_size}" + ("" if self.squash else "|center")
        except OSError:
            return None  # a vanished file: the load reports it

    def _depth(self, dfile: Path | None, mask: np.ndarray | None) -> np.ndarray:
        """uint8 ``(L, L)`` depth, 0 = near: from the file, else guessed from the image's mask (``None``: the
        plain ramp)."""
        if dfile is not None:
            try:
                depth = load_depth(dfile, kind=self.depth_kind)
            except UserError as err:
                raise BadImageError(dfile, str(err)) from None
            return to_uint8(resize_square(depth if self.squash else center_square(depth), self.load_size))
        m = (mask.astype(np.float32) / 255.0) if mask is not None else np.zeros((self.load_size,) * 2, np.float32)
        return to_uint8(fallback_depth(m))

    def _load(self, dom: str, idx: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, Path]:
        path = self.paths[dom][idx]
        need_mask, need_depth = self.need_masks and dom in self.domains, self.need_depth and dom in self.domains
        mfile = self.mask_files[dom].get(path) if (need_mask or need_depth) else None
        dfile = self.depth_files[dom].get(path) if need_depth else None
        key = self._cache_key(path, mfile, dfile, need_mask, need_depth) if self.cache is not None else None
        n_ch = 3 + need_mask + need_depth
        if key is not None and self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None and hit.shape == (self.load_size, self.load_size, n_ch):
                return (hit[..., :3], hit[..., 3] if need_mask else None, hit[..., -1] if need_depth else None, path)
        # depth wanted without a depth file: the guess needs the mask, read in the same decode as the photo
        guess = need_depth and dfile is None and not need_mask
        rgb, mask = load_resized(path, self.load_size, mask_path=mfile, need_mask=need_mask, mask_if_any=guess,
                                 squash=self.squash)
        depth = self._depth(dfile, mask) if need_depth else None
        if guess:
            mask = None  # loaded for the guess only
        if key is not None and self.cache is not None:
            self.cache.put(key, np.dstack([rgb, *(a for a in (mask, depth) if a is not None)]))
        return rgb, mask, depth, path

    def __getitem__(self, key: ItemKey) -> dict[str, Any]:
        a_idx, b_idx = key[0], key[1]
        try:
            a, ma, da, pa = self._load("A", a_idx)
            b, mb, db, pb = self._load("B", b_idx)
        except BadImageError as err:
            return {"bad": [(err.path, err.reason)]}
        item: dict[str, Any] = {"A": _chw(a), "B": _chw(b), "path_A": str(pa), "path_B": str(pb)}
        for dom, m, d in (("A", ma, da), ("B", mb, db)):
            if m is not None:
                item[f"mask_{dom}"] = _chw(m[..., None])
            if d is not None:
                item[f"depth_{dom}"] = _chw(d[..., None])
        return item


def _chw(arr: np.ndarray) -> torch.Tensor:
    """uint8 ``(H, W, C)`` → uint8 ``(C, H, W)`` tensor (contiguous, so batches pin and copy fast)."""
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def collate_skipping_bad(items: Sequence[dict[str, Any]], key: str) -> dict[str, Any]:
    """Stack good items; ``batch["bad"]`` lists ``(path, reason)`` of skipped ones; ``batch[key]`` is
    ``None`` when every item of the batch was bad."""
    good = [it for it in items if "bad" not in it]
    bad = [b for it in items if "bad" in it for b in it["bad"]]
    out: dict[str, Any] = {"bad": bad, key: None}
    if good:
        for k in good[0]:
            vals = [it[k] for it in good]
            out[k] = torch.stack(vals) if isinstance(vals[0], torch.Tensor) else vals
    return out


def collate_unpaired(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """:func:`collate_skipping_bad` keyed on ``A`` (``batch["A"]`` is ``None`` when all items were bad)."""
    return collate_skipping_bad(items, "A")


class UnpairedBatchSampler(torch.utils.data.Sampler[list[ItemKey]]):
    """Deterministic, resumable batches for one epoch (and one DDP rank).

    The epoch's order is a permutation of ``max(n_a, n_b)`` positions (A index = position mod n_a) and
    each position gets a random B partner, both drawn from ``(seed, epoch)``. Rank ``r`` of ``w`` takes
    batch slots ``j·w + r``; ``start_batch`` skips batches already trained on (resume).
    """

    def __init__(self, n_a: int, n_b: int, *, batch_size: int, seed: int, epoch: int = 0, start_batch: int = 0,
                 rank: int = 0, world_size: int = 1) -> None:
        self.n_a, self.n_b, self.batch_size = n_a, n_b, batch_size
        self.seed, self.epoch, self.start_batch = seed, epoch, start_batch
        self.rank, self.world_size = rank, world_size

    @property
    def batches_per_epoch(self) -> int:
        return max(self.n_a, self.n_b) // (self.batch_size * self.world_size)

    def __len__(self) -> int:
        return max(0, self.batches_per_epoch - self.start_batch)

    def __iter__(self) -> Iterator[list[ItemKey]]:
        rng = np.random.default_rng([self.seed, self.epoch, 0x5EED])
        n = max(self.n_a, self.n_b)
        order = rng.permutation(n)
        partner = rng.integers(0, self.n_b, size=n)
        bs = self.batch_size
        for j in range(self.start_batch, self.batches_per_epoch):
            p0 = (j * self.world_size + self.rank) * bs
            yield [(int(order[p] % self.n_a), int(partner[p]), self.epoch, int(p)) for p in range(p0, p0 + bs)]
