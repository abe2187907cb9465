"""Depth files → ``float32 (H, W)``, 0 = nearest … 1 = farthest."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from gan_bokeh.errors import UserError

DEPTH_KINDS = ("depth", "disparity")
#: File extensions a depth map may have (looked up in this order).
DEPTH_EXTENSIONS = (".npy", ".npz", ".png", ".tif", ".tiff", ".jpg", ".jpeg")
#: Tags datasets put on the image itself (``street_12_all-in-focus.jpg`` beside ``street_12_disparity.jpg``).
IMAGE_TAGS = ("_all-in-focus", "_input", "_image", "_rgb", "_wide", "_color")


def depth_stems(stem: str) -> list[str]:
    """File stems a depth map of image ``stem`` may have, most specific first.

    ``photo`` → ``photo``, ``photo_depth``, ``photo_disparity``, ``photo_disp``, ``photo.depth``; an image
    whose stem ends in a ``_tag`` (``ebb_1_wide`` beside ``ebb_1_depth``) also matches ``<base>_depth`` /
    ``<base>_disparity`` / ``<base>_disp``, and a known image tag (:data:`IMAGE_TAGS`) the bare ``<base>`` too
    (any other bare base may be another photo).
    """
    suffixes = ("", "_depth", "_disparity", "_disp", ".depth")
    names = [stem + s for s in suffixes]
    if "_" in stem:
        base = stem.rsplit("_", 1)[0]
        names += [base + s for s in suffixes[1:4]]
    for tag in IMAGE_TAGS:
        if stem.endswith(tag) and len(stem) > len(tag):
            base = stem[: -len(tag)]
            names += [base + s for s in suffixes[:4]]
    return list(dict.fromkeys(names))


def find_depth_file(image_path: str | os.PathLike[str], depth: str | os.PathLike[str] | None) -> Path | None:
    """The depth map of ``image_path``: ``depth`` itself when it is a file, else the first
    ``<depth>/<name><ext>`` with ``name`` from :func:`depth_stems` and ``ext`` from :data:`DEPTH_EXTENSIONS`
    (either case), never the image itself. ``None`` when nothing matches (or ``depth`` is ``None``).

    Every command taking ``--depth FILE|DIR`` (segment, render, compare) finds files through this.
    """
    if depth is None:
        return None
    d, img = Path(depth), Path(image_path)
    if d.is_file():
        return d
    if not d.is_dir():
        return None
    img_r = img.resolve()
    for stem in depth_stems(img.stem):
        for ext in DEPTH_EXTENSIONS:
            for cand in (d / f"{stem}{ext}", d / f"{stem}{ext.upper()}"):
                if cand.is_file() and cand.resolve() != img_r:
                    return cand
    return None


def check_colormap(name: str | None) -> None:
    """Raise :class:`UserError` (naming ``--depth-colormap``) unless ``name`` is a matplotlib colormap."""
    if name is None:
        return
    import matplotlib

    if name not in matplotlib.colormaps:
        raise UserError(f"--depth-colormap {name}: unknown colormap; use a matplotlib name such as "
                        "Spectral or viridis")


def normalize_depth(values: np.ndarray, kind: str = "depth") -> np.ndarray:
    """Min–max normalise raw values to 0 = near … 1 = far, filling unknown pixels.

    Args:
        values: ``(H, W)`` raw depth (larger = farther) or disparity (larger = nearer); ``inf``/``NaN``
            mark unknown pixels and take the value of the nearest known pixel.
        kind: ``"depth"`` or ``"disparity"``.

    Returns:
        ``float32 (H, W)`` in [0, 1]. A constant map gives all zeros.

    Note:
        The mapping is linear. Blur from a real lens is linear in *disparity* (1/distance), so a
        disparity file (or a depth file that is already inverse-depth-like, as most network outputs are)
        gives physically spaced blur; a metric depth file is used as is.
    """
    if kind not in DEPTH_KINDS:
        raise UserError(f"depth kind must be one of {DEPTH_KINDS}, got {kind!r}")
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2:
        raise UserError(f"a depth map must be 2-D, got shape {v.shape}")
    known = np.isfinite(v)
    if not known.any():
        raise UserError("the depth map has no finite values")
    if not known.all():
        v = fill_unknown(v, known)
    lo, hi = float(v.min()), float(v.max())
    if hi - lo < 1e-12:
        return np.zeros(v.shape, np.float32)
    d = (v - lo) / (hi - lo)
    if kind == "disparity":
        d = 1.0 - d
    return d.astype(np.float32)


def inverse_depth_to_depth(pred: np.ndarray) -> np.ndarray:
    """The one conversion of a network's relative inverse depth (MiDaS, Depth Anything: larger = nearer,
    known only up to scale and shift) into the library's convention, 0 = nearest … 1 = farthest.

    The mapping is affine (``1 − min–max(pred)``), so the result stays linear in disparity: the thin-lens
    blur of :mod:`gan_bokeh.render.layers` is exact on it up to the unknown scale.
    """
    return normalize_depth(np.asarray(pred, dtype=np.float64), kind="disparity")


def fill_unknown(v: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Give every unknown pixel (``known`` False) the value of its nearest known pixel (Euclidean).

    Args:
        v: ``(H, W)`` values; known: ``(H, W)`` bool, at least one True.
    """
    from scipy import ndimage

    _, (iy, ix) = ndimage.distance_transform_edt(~known, return_indices=True)
    return v[iy, ix]


def resolve_depth_kind(path: str | os.PathLike[str], kind: str) -> str:
    """``"auto"`` → ``"disparity"`` for ``*_disp*`` file names (``<stem>_disparity.png``, ``_disp.npy``), else
    ``"depth"``; other kinds pass through. The one place this naming rule lives."""
    if kind != "auto":
        return kind
    return "disparity" if "_disp" in Path(path).stem.lower() else "depth"


def load_depth(path: str | os.PathLike[str], kind: str = "depth", colormap: str | None = None) -> np.ndarray:
    """Read a depth or disparity file.

    Args:
        path: ``.png`` (8- or 16-bit, gray or colour-mapped), ``.jpg``, ``.npy`` or ``.npz`` (key
            ``depth``/``disparity``/``arr_0`` or the only array).
        kind: ``"depth"`` (larger = farther), ``"disparity"`` (larger = nearer) or ``"auto"`` (see
            :func:`resolve_depth_kind`).
        colormap: name of a matplotlib colormap (e.g. ``"Spectral"``) when the file is a colour
            visualisation: each pixel is mapped to the index of its nearest colormap entry.

    Returns:
        ``float32 (H, W)``, 0 = nearest … 1 = farthest, unknown values filled.

    Raises:
        UserError: unreadable file, unknown colormap, or a colour image without ``colormap``.
    """
    p = Path(path)
    kind = resolve_depth_kind(p, kind)
    if not p.is_file():
        raise UserError(f"{p}: depth file not found")
    suffix = p.suffix.lower()
    if suffix in (".npy", ".npz"):
        raw = _read_array(p)
    else:
        raw = _read_depth_image(p, colormap)
    return normalize_depth(raw, kind)


def _read_array(p: Path) -> np.ndarray:
    try:
        data = np.load(p, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise UserError(f"{p}: cannot read depth array ({err})") from err
    if isinstance(data, np.lib.npyio.NpzFile):
        keys = list(data.files)
        key = next((k for k in ("depth", "disparity", "arr_0") if k in keys), keys[0] if len(keys) == 1 else None)
        if key is None:
            raise UserError(f"{p}: .npz holds {keys}; name the depth array 'depth' or 'disparity'")
        arr = data[key]
    else:
        arr = data
    arr = np.squeeze(np.asarray(arr, dtype=np.float64))
    if arr.ndim != 2:
        raise UserError(f"{p}: depth array must be 2-D, got shape {arr.shape}")
    return arr


def _read_depth_image(p: Path, colormap: str | None) -> np.ndarray:
    from gan_bokeh.io import open_image

    img = open_image(p)
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return np.asarray(img, dtype=np.float64)
    if img.mode in ("L", "LA", "P") and colormap is None:
        return np.asarray(img.convert("L"), dtype=np.float64)
    rgb = np.asarray(img.convert("RGB"))
    if colormap is not None:
        return colormap_to_index(rgb, colormap).astype(np.float64)
    spread = np.abs(rgb.astype(np.int16) - rgb.mean(axis=2, keepdims=True).astype(np.int16)).max()
    if spread > 8:
        raise UserError(f"{p}: depth image is in colour; name its colormap with --depth-colormap "
                        "(e.g. Spectral, viridis, magma)")
    return rgb.astype(np.float64).mean(axis=2)


def colormap_to_index(rgb: np.ndarray, name: str, n: int = 256) -> np.ndarray:
    """Invert a colour visualisation: index (0 … n−1) of each pixel's nearest colormap colour.

    Only the distinct colours of the image are searched (a KD-tree over the ``n`` colormap entries), so a
    1.5 MP image takes a fraction of a second.
    """
    import matplotlib
    from scipy.spatial import cKDTree

    try:
        cmap = matplotlib.colormaps[name]
    except KeyError as err:
        raise UserError(f"unknown colormap {name!r}; use a matplotlib name such as Spectral or viridis") from err
    table = cmap(np.linspace(0.0, 1.0, n))[:, :3] * 255.0
    flat = rgb.reshape(-1, 3).astype(np.int32)
    packed = (flat[:, 0] << 16) | (flat[:, 1] << 8) | flat[:, 2]
    uniq, inverse = np.unique(packed, return_inverse=True)
    colours = np.stack([(uniq >> 16) & 255, (uniq >> 8) & 255, uniq & 255], axis=1).astype(np.float64)
    _, idx = cKDTree(table).query(colours)
    return idx[inverse].reshape(rgb.shape[:2]).astype(np.float32)


def resize_depth(depth: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a depth map to ``size = (H, W)`` (bilinear up, area down)."""
    from gan_bokeh.io import resize_image

    return resize_image(np.asarray(depth, dtype=np.float32), size, up="linear")
