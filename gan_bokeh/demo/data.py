"""The demonstration dataset, built only from photos that installed packages ship (nothing downloaded).

This is a **demonstration set**: seven sample photos, augmented, at thumbnail resolution. It exercises
every stage of the product offline; it does not reproduce the paper's Flickr dataset or its results.

* Domain **A** (ordinary, all-in-focus): ``camera`` (a person), ``coffee`` (scikit-image) and the right
  view of the Middlebury ``motorcycle`` stereo pair.
* Domain **B** (shallow depth of field): *other* photos of the same three kinds — ``grace_hopper``
  (matplotlib's sample data), ``chelsea`` and the left motorcycle view — given a shallow depth of field by
  the ``layers`` renderer, so A and B stay unpaired. The left view is rendered with its ground-truth
  stereo disparity, the others with the mask-only fallback depth (subject plane + ground ramp). (The two
  stereo views show one scene from viewpoints 193 mm apart: different photos, not pixel-aligned.)
* **Held-out test** photo, used by neither domain: ``astronaut`` (scikit-image), in three framings.

Masks: photos of people get the offline person segmenter (``selfie``); the others (where a person
segmenter has nothing to find) — or every photo when the selfie model is unavailable — get a GrabCut
saliency mask initialised with a subject box chosen by hand for each sample photo. Which one was used is
recorded per photo. Augmentation: random square crops (55–100 % of the short side), horizontal flips,
colour jitter and an occasional grey copy, identical crops for image and mask.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

__all__ = [
    "SOURCES", "SourcePhoto", "augment_pair", "build_split", "colour_jitter", "crop_square",
    "disparity_to_depth", "grabcut_subject_mask", "load_photo", "render_shallow_dof", "resize_short_side",
]

#: Minimum fraction of the frame the selfie model must mark (p > 0.5) to count as "found a person".
PERSON_MIN_AREA = 0.03


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        return getattr(skimage.data, name)()
    return load


def _motorcycle(view: int) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        return skimage.data.stereo_motorcycle()[view]
    return load


def _grace_hopper() -> np.ndarray:
    import matplotlib.cbook

    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as fh:
        from PIL import Image

        return np.asarray(Image.open(fh).convert("RGB"))


def _motorcycle_depth() -> np.ndarray:
    import skimage.data

    return disparity_to_depth(skimage.data.stereo_motorcycle()[2])


@dataclass(frozen=True)
class SourcePhoto:
    """One photo shipped inside an installed package.

    Attributes:
        name: file stem used in the dataset.
        role: ``"A"`` (all-in-focus training photo), ``"B"`` (rendered to shallow DoF) or ``"test"``.
        origin: where the pixels come from (package + call).
        credit: photographer / licence as documented by the shipping package.
        loader: returns uint8 ``(H, W, 3)`` or ``(H, W)``.
        person: the photo shows a person: its mask comes from the person segmenter (``selfie``).
        box: subject box ``(x0, y0, x1, y1)`` as fractions of the frame, chosen by hand for this sample
            photo, that initialises the GrabCut fallback mask (default: a centred box, 12 % margins).
        depth: optional loader of a true depth map (float32 HW, 0 near … 1 far) at the photo's size.
    """

    name: str
    role: str
    origin: str
    credit: str
    loader: Callable[[], np.ndarray] = field(repr=False)
    person: bool = False
    box: tuple[float, float, float, float] = (0.12, 0.12, 0.88, 0.88)
    depth: Callable[[], np.ndarray] | None = field(default=None, repr=False)


SOURCES: tuple[SourcePhoto, ...] = (
    # Each domain gets one photo of each kind — a person, a warm close-up, the motorcycle scene — so the
    # two domains differ in depth of field, not in content (with content that differs, the GAN learns to
    # paint one domain's objects onto the other's photos instead of learning the blur).
    SourcePhoto("camera", "A", "skimage.data.camera()", "Lav Varshney, CC0 (scikit-image docs)",
                _skimage("camera"), person=True, box=(0.15, 0.03, 0.7, 1.0)),
    SourcePhoto("coffee", "A", "skimage.data.coffee()", "Rachel Michetti, CC0 (scikit-image docs)",
                _skimage("coffee"), box=(0.12, 0.0, 0.88, 0.9)),
    SourcePhoto("motorcycle_right", "A", "skimage.data.stereo_motorcycle()[1]",
                "Middlebury 2014 stereo benchmark (Scharstein et al.), via scikit-image", _motorcycle(1),
                box=(0.05, 0.1, 0.95, 0.95)),
    SourcePhoto("grace_hopper", "B", "matplotlib sample_data/grace_hopper.jpg",
                "US Navy photo, public domain (matplotlib sample data)", _grace_hopper, person=True,
                box=(0.08, 0.04, 0.95, 1.0)),
    SourcePhoto("chelsea", "B", "skimage.data.chelsea()", "Stefan van der Walt, CC0 (scikit-image docs)",
                _skimage("chelsea"), box=(0.05, 0.02, 0.95, 1.0)),
    SourcePhoto("motorcycle_left", "B", "skimage.data.stereo_motorcycle()[0]",
                "Middlebury 2014 stereo benchmark (Scharstein et al.), via scikit-image", _motorcycle(0),
                box=(0.1, 0.1, 0.95, 0.95), depth=_motorcycle_depth),
    SourcePhoto("astronaut", "test", "skimage.data.astronaut()", "NASA, public domain (scikit-image docs)",
                _skimage("astronaut"), person=True, box=(0.0, 0.0, 0.72, 1.0)),
)


# --------------------------------------------------------------------------------------------- images
def resize_short_side(arr: np.ndarray, short: int) -> np.ndarray:
    """Resize an image ``(H, W[, C])`` so its short side is ``short`` px (area filter when shrinking)."""
    from gan_bokeh.io import resize_image

    h, w = arr.shape[:2]
    s = short / min(h, w)
    return resize_image(arr, (max(1, round(h * s)), max(1, round(w * s))), up="linear")


def load_photo(src: SourcePhoto, short: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Load a source photo as float32 RGB ``(H, W, 3)`` in [0, 1] with short side ``short``.

    Returns:
        ``(image, depth)``; ``depth`` is the resized true depth map or ``None``.
    """
    raw = np.asarray(src.loader())
    if raw.ndim == 2:  # grayscale sample photos become 3 identical channels
        raw = np.repeat(raw[..., None], 3, axis=2)
    img = raw[..., :3].astype(np.float32) / (255.0 if raw.dtype == np.uint8 else 1.0)
    img = np.clip(resize_short_side(img, short), 0.0, 1.0).astype(np.float32)
    depth = None
    if src.depth is not None:
        depth = resize_short_side(src.depth().astype(np.float32), short)
        depth = np.clip(depth, 0.0, 1.0).astype(np.float32)
    return img, depth


def disparity_to_depth(disp: np.ndarray) -> np.ndarray:
    """Stereo disparity (larger = nearer; ``inf``/``nan`` = unknown) → depth HW, 0 near … 1 far.

    Unknown pixels are filled with the farthest known depth (they are mostly occluded background).
    """
    d = np.asarray(disp, dtype=np.float32)
    if d.ndim == 3:
        d = d[..., 0]
    ok = np.isfinite(d)
    if not ok.any():
        raise ValueError("disparity map has no finite values")
    lo, hi = np.percentile(d[ok], [1, 99])
    depth = 1.0 - (np.clip(d, lo, hi) - lo) / max(hi - lo, 1e-6)
    depth[~ok] = 1.0
    return depth.astype(np.float32)


def grabcut_subject_mask(image: np.ndarray, box: Sequence[float] = (0.12, 0.12, 0.88, 0.88), *,
                         iters: int = 5) -> np.ndarray:
    """Centred-subject saliency mask: GrabCut initialised with a subject rectangle.

    The documented fallback when no person is found (or the person segmenter is unavailable): sample
    photos frame their subject in the middle. The largest connected component is kept, holes filled.

    Args:
        image: float32 ``(H, W, 3)`` RGB in [0, 1].
        box: ``(x0, y0, x1, y1)`` fractions of the frame; outside it is definite background.
        iters: GrabCut iterations.

    Returns:
        float32 ``(H, W)`` mask in {0, 1}.
    """
    import cv2

    from gan_bokeh.segment.refine import largest_component

    h, w = image.shape[:2]
    bgr = np.ascontiguousarray((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)[..., ::-1])
    x0, y0, x1, y1 = box
    rect = (int(w * x0), int(h * y0), max(1, int(w * (x1 - x0))), max(1, int(h * (y1 - y0))))
    gc = np.zeros((h, w), np.uint8)
    cv2.setRNGSeed(0)  # GrabCut's GMM initialisation draws from OpenCV's RNG: keep masks reproducible
    cv2.grabCut(bgr, gc, rect, np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64), iters,
                cv2.GC_INIT_WITH_RECT)
    return largest_component((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD))


def colour_jitter(image: np.ndarray, rng: np.random.Generator, strength: float = 0.12,
                  p_gray: float = 0.15) -> np.ndarray:
    """Random brightness, contrast and saturation change (each ×[1 − s, 1 + s]), and with probability
    ``p_gray`` a grey copy (one domain holds a greyscale photo: colour alone must not tell the domains
    apart). Output clipped to [0, 1]."""
    b, c, s = rng.uniform(1 - strength, 1 + strength, size=3)
    if rng.random() < p_gray:
        s = 0.0
    out = image * b
    mean = out.mean()
    out = (out - mean) * c + mean
    gray = out.mean(axis=2, keepdims=True)
    out = (out - gray) * s + gray
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def crop_square(arr: np.ndarray, y: int, x: int, side: int) -> np.ndarray:
    return arr[y:y + side, x:x + side]


def augment_pair(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator, out_px: int, *,
                 min_scale: float = 0.55, jitter: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Random square crop (``min_scale``–1 of the short side) → resize to ``out_px`` → flip → jitter.

    Image and mask get the same crop and flip; only the image is colour-jittered.
    """
    import cv2

    h, w = image.shape[:2]
    side = int(round(min(h, w) * rng.uniform(min_scale, 1.0)))
    y = int(rng.integers(0, h - side + 1))
    x = int(rng.integers(0, w - side + 1))
    img = cv2.resize(crop_square(image, y, x, side), (out_px, out_px), interpolation=cv2.INTER_AREA)
    msk = cv2.resize(crop_square(mask, y, x, side), (out_px, out_px), interpolation=cv2.INTER_AREA)
    if rng.random() < 0.5:
        img, msk = img[:, ::-1], msk[:, ::-1]
    if jitter:
        img = colour_jitter(img, rng)
    return np.ascontiguousarray(img, np.float32), np.ascontiguousarray(np.clip(msk, 0, 1), np.float32)


# --------------------------------------------------------------------------------------------- domain B
def render_shallow_dof(image: np.ndarray, mask: np.ndarray, depth: np.ndarray | None,
                       max_blur: float) -> tuple[np.ndarray, dict[str, Any]]:
    """Give a photo a shallow depth of field with ``gan_bokeh.render`` (method ``layers``).

    Args:
        image: float32 ``(H, W, 3)`` in [0, 1].
        mask: float32 ``(H, W)`` subject mask in [0, 1].
        depth: true depth (0 near … 1 far) or ``None`` for the mask-only fallback depth.
        max_blur: largest blur radius in pixels at this image size.

    Returns:
        ``(image, info)`` where ``info`` records the renderer's metadata and the depth source.
    """
    from gan_bokeh.render import render_image

    depth_source = "true stereo disparity" if depth is not None else "fallback (mask only)"
    if depth is None:
        from gan_bokeh.depth import fallback_depth

        depth = fallback_depth(mask)
    out, info = render_image(image, method="layers", mask=mask, depth=depth, max_blur=max_blur)
    info = {k: v for k, v in dict(info).items() if isinstance(v, (str, int, float, bool))}
    info["depth_source"] = depth_source
    return np.clip(out, 0, 1).astype(np.float32), info


# --------------------------------------------------------------------------------------------- writing
def build_split(items: Sequence[tuple[str, np.ndarray, np.ndarray]], out_dir: Path, n_out: int, out_px: int,
                rng: np.random.Generator, write: Callable[[Path, np.ndarray, np.ndarray], None],
                progress: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """Write ``n_out`` augmented crops drawn round-robin from ``items`` (``(name, image, mask)``).

    Returns:
        one record per written file: ``{"file", "source", "subject_fraction"}``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(n_out):
        name, image, mask = items[i % len(items)]
        img, msk = augment_pair(image, mask, rng, out_px)
        path = out_dir / f"{name}_{i:03d}.png"
        write(path, img, msk)
        records.append({"file": path.name, "source": name, "subject_fraction": round(float(msk.mean()), 4)})
        if progress:
            progress(1)
    return records
