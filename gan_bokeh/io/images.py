"""Every image read and write of the project goes through here.

Conventions (see the README's architecture section):

* images: ``float32`` RGB in ``[0, 1]``, numpy ``(H, W, 3)``, EXIF orientation already applied;
* masks: ``float32`` in ``[0, 1]``, numpy ``(H, W)``; on disk the alpha channel of an RGBA PNG (the
  paper's format) or an 8-bit grayscale PNG.

Decoding problems (truncated files, HTML saved as ``.jpg``, decompression bombs, ...) raise
:class:`~gan_bokeh.errors.BadImageError` whose message names the file and the reason, so batch jobs can
record it and carry on.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from gan_bokeh.errors import BadImageError, UserError
from gan_bokeh.io.atomic import atomic_path

__all__ = [
    "IMAGE_EXTENSIONS",
    "list_images",
    "open_image",
    "pil_to_rgb_alpha",
    "read_image",
    "read_image_alpha",
    "read_mask",
    "find_by_stem",
    "write_image",
    "write_mask",
    "write_rgba",
    "to_uint8",
]

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".avif"})
#: Sidecar mask naming: ``photo.jpg`` → ``photo.mask.png`` beside it (or ``<mask_dir>/photo.png``).
MASK_SUFFIX = ".mask.png"
#: Pixel limit above which a file is refused as a decompression bomb (≈ 180 MP: real cameras stay below).
MAX_PIXELS = 180_000_000


def list_images(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], *,
                recursive: bool = False, include_masks: bool = False) -> list[Path]:
    """Expand files and folders into a sorted list of image files.

    Args:
        paths: one path or several; folders are listed (recursively if asked).
        recursive: descend into sub-folders.
        include_masks: keep ``*.mask.png`` sidecars (skipped by default).

    Raises:
        UserError: a path does not exist.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            it = p.rglob("*") if recursive else p.iterdir()
            out.extend(sorted(q for q in it if q.is_file() and _is_image_name(q, include_masks)))
        elif p.is_file():
            out.append(p)
        else:
            raise UserError(f"{p}: no such file or folder")
    return out


def _is_image_name(p: Path, include_masks: bool) -> bool:
    if p.name.startswith("."):
        return False
    if not include_masks and p.name.lower().endswith(MASK_SUFFIX):
        return False
    return p.suffix.lower() in IMAGE_EXTENSIONS


def open_image(path: str | os.PathLike[str], *, draft: tuple[int, int] | None = None) -> Image.Image:
    """Open, fully decode and EXIF-orient an image.

    Args:
        path: the file; its content decides the format, not its extension.
        draft: optional ``(w, h)`` hint for JPEG draft mode (fast reduced-size decode); applied
            *before* the EXIF transpose, as Pillow requires.

    Returns:
        A loaded :class:`PIL.Image.Image` (first frame of animations), orientation applied.

    Raises:
        BadImageError: empty, truncated, not an image, or larger than :data:`MAX_PIXELS`.
    """
    p = Path(path)
    try:
        if p.stat().st_size == 0:
            raise BadImageError(p, "empty file (0 bytes); re-download or remove it")
    except FileNotFoundError:
        raise UserError(f"{p}: no such file") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(p)
            if img.width * img.height > MAX_PIXELS:
                raise BadImageError(p, f"{img.width}x{img.height} exceeds the {MAX_PIXELS:,}-pixel limit "
                                       "(decompression bomb?); downscale it first")
            if draft is not None and img.format == "JPEG":
                img.draft("RGB", draft)
            img.seek(0)
            img.load()
            img = ImageOps.exif_transpose(img)
    except BadImageError:
        raise
    except UnidentifiedImageError:
        raise BadImageError(p, "not a decodable image (HTML error page, text or unsupported format?); "
                               "re-download or remove it") from None
    except Image.DecompressionBombError:
        raise BadImageError(p, "decompression bomb (too many pixels); downscale it first") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise BadImageError(p, f"cannot decode image ({err}); the file is probably truncated — "
                               "re-download or remove it") from None
    return img


def pil_to_rgb_alpha(img: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """Normalise any Pillow mode to float32 RGB ``(H, W, 3)`` in [0, 1] and an optional alpha ``(H, W)``.

    For callers that opened the image themselves (e.g. with JPEG draft mode) through :func:`open_image`.
    """
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float32)
        # 16-bit data must be scaled, not clamped (convert('L') would saturate almost everything).
        scale = 65535.0 if mode.startswith("I") and arr.max(initial=0) > 255 else 255.0
        g = np.clip(arr / scale, 0.0, 1.0)
        return np.repeat(g[..., None], 3, axis=2), None
    alpha = None
    if mode == "P":
        img = img.convert("RGBA") if "transparency" in img.info else img.convert("RGB")
    elif mode in ("LA", "La", "PA") or mode in ("RGBa",):
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        rgba = np.asarray(img, dtype=np.float32) / 255.0
        return np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3])
    if img.mode != "RGB":
        img = img.convert("RGB")  # CMYK, YCbCr, L, 1, I;16 handled above
    return np.asarray(img, dtype=np.float32) / 255.0, alpha


def read_image_alpha(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray | None]:
    """Read an image and its alpha channel if it has one.

    Returns:
        ``(rgb, alpha)``: float32 ``(H, W, 3)`` in [0, 1] and float32 ``(H, W)`` in [0, 1] or ``None``.
    """
    return pil_to_rgb_alpha(open_image(path))


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image as float32 RGB ``(H, W, 3)`` in [0, 1], EXIF orientation applied."""
    return read_image_alpha(path)[0]


def read_mask(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a mask file as float32 ``(H, W)`` in [0, 1].

    RGBA/LA → the alpha channel (the paper's format); grayscale (8- or 16-bit) → its values;
    RGB → the mean of the channels (masks saved as gray RGB).
    """
    rgb, alpha = read_image_alpha(path)
    if alpha is not None:
        return alpha
    return rgb.mean(axis=2).astype(np.float32)


def find_by_stem(folder: str | os.PathLike[str], stem: str, *,
                 exclude: str | os.PathLike[str] | None = None) -> Path | None:
    """``<folder>/<stem>.<ext>`` for any image extension (``.png`` first, then alphabetical), or ``None``;
    ``exclude`` is never returned (an image is never its own mask/target)."""
    d = Path(folder)
    skip = Path(exclude).resolve() if exclude is not None else None
    for ext in [".png", *sorted(IMAGE_EXTENSIONS - {".png"})]:
        c = d / f"{stem}{ext}"
        if c.is_file() and c.resolve() != skip:
            return c
    return None


def resize_image(image: np.ndarray, shape: tuple[int, int], *, up: str = "cubic") -> np.ndarray:
    """Resize an ``(H, W[, C])`` array to ``shape = (H, W)``: area averaging when shrinking (no aliasing from
    large photos), ``up`` (``"cubic"`` or ``"linear"``) interpolation when enlarging; same shape → unchanged."""
    import cv2  # lazily: reading images needs only Pillow

    h, w = shape
    if image.shape[:2] == (h, w):
        return image
    shrinking = h * w < image.shape[0] * image.shape[1]
    interp = cv2.INTER_AREA if shrinking else {"cubic": cv2.INTER_CUBIC, "linear": cv2.INTER_LINEAR}[up]
    return cv2.resize(image, (w, h), interpolation=interp)


def to_uint8(arr: np.ndarray) -> np.ndarray:
    """float [0, 1] → uint8 with rounding (uint8 input is returned unchanged)."""
    if arr.dtype == np.uint8:
        return arr
    return (np.clip(arr, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _save_kwargs(fmt: str, quality: int) -> dict[str, object]:
    if fmt == "JPEG":
        return {"quality": quality, "subsampling": 0 if quality >= 90 else 2, "optimize": True}
    if fmt == "WEBP":
        return {"quality": quality}
    if fmt == "PNG":
        return {"compress_level": 4}
    return {}


_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".bmp": "BMP",
            ".tif": "TIFF", ".tiff": "TIFF"}


def write_image(path: str | os.PathLike[str], image: np.ndarray, *, quality: int = 95,
                alpha: np.ndarray | None = None, exif: bytes | None = None,
                pnginfo: dict[str, str] | None = None) -> Path:
    """Write an RGB image (float [0, 1] or uint8, ``(H, W, 3)``) atomically.

    Args:
        path: destination; the extension picks the format (unknown → PNG is refused).
        image: ``(H, W, 3)`` or ``(H, W)``.
        quality: JPEG/WebP quality.
        alpha: optional ``(H, W)`` alpha, stored for formats that have one (PNG/WebP/TIFF).
        exif: raw EXIF bytes to keep (orientation should already be applied and reset).
        pnginfo: text chunks for PNG metadata (e.g. which backend made a mask).
    """
    p = Path(path)
    fmt = _FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise UserError(f"{p}: unsupported output extension; use .jpg, .png, .webp, .bmp or .tif")
    arr = to_uint8(np.asarray(image))
    if alpha is not None:
        a = to_uint8(np.asarray(alpha))
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, axis=2)
        if fmt in ("PNG", "WEBP", "TIFF"):
            arr = np.concatenate([arr, a[..., None]], axis=2)
    img = Image.fromarray(arr)
    kwargs = _save_kwargs(fmt, quality)
    if exif:
        kwargs["exif"] = exif
    if pnginfo and fmt == "PNG":
        from PIL.PngImagePlugin import PngInfo

        info = PngInfo()
        for k, v in pnginfo.items():
            info.add_text(k, v)
        kwargs["pnginfo"] = info
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kwargs)
    with atomic_path(p) as tmp:
        tmp.write_bytes(buf.getvalue())
    return p


def write_mask(path: str | os.PathLike[str], mask: np.ndarray, *, pnginfo: dict[str, str] | None = None) -> Path:
    """Write a float [0, 1] ``(H, W)`` mask as an 8-bit grayscale PNG, atomically."""
    return write_image(path, to_uint8(np.asarray(mask)), pnginfo=pnginfo)


def write_rgba(path: str | os.PathLike[str], rgb: np.ndarray, alpha: np.ndarray, *,
               pnginfo: dict[str, str] | None = None) -> Path:
    """Write the paper's mask format: RGB photo + alpha = subject mask, as PNG."""
    if Path(path).suffix.lower() != ".png":
        raise UserError(f"{path}: RGBA masks must be PNG files")
    return write_image(path, rgb, alpha=alpha, pnginfo=pnginfo)


#: Extensions :func:`write_image` can write.
WRITABLE_EXTENSIONS = frozenset(_FORMATS)


def output_path(out_dir: str | os.PathLike[str], src: str | os.PathLike[str]) -> Path:
    """Where a per-image output of ``src`` goes: same name in ``out_dir``; formats :func:`write_image`
    cannot write (GIF, AVIF) become PNG with the same stem."""
    s = Path(src)
    return Path(out_dir) / (s.name if s.suffix.lower() in WRITABLE_EXTENSIONS else f"{s.stem}.png")


def refuse_overwriting_inputs(out_dir: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str]],
                              flag: str = "--out") -> None:
    """Raise :class:`UserError` when an :func:`output_path` in ``out_dir`` would replace one of ``inputs``
    (typically: ``--out`` is the input folder). Batch commands call it before doing any work."""
    paths = [Path(p) for p in inputs]
    resolved = {p.resolve() for p in paths}
    for p in paths:
        if output_path(out_dir, p).resolve() in resolved:
            raise UserError(f"{flag} {out_dir}: writing {p.name} would overwrite an input; choose another folder")


def image_info(path: str | os.PathLike[str]) -> dict[str, object]:
    """Cheap header read: format, size (after EXIF orientation) and mode, without a full decode."""
    p = Path(path)
    try:
        with Image.open(p) as img:
            w, h = img.size
            orient = img.getexif().get(0x0112, 1)
            if orient in (5, 6, 7, 8):
                w, h = h, w
            return {"format": img.format, "width": w, "height": h, "mode": img.mode}
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise BadImageError(p, f"not a readable image ({err})") from None
