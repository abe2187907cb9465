"""Offline person segmentation with MediaPipe's selfie model run by ``ai-edge-litert``.

The model takes a fixed 256×256 RGB input in [0, 1] and returns a 256×256 person probability. It was made
for video calls (one person close to the camera, frames stretched to the square input), so on whole photos
it misses or smears small people and invents "torso" below seated people. :class:`SelfieSegmenter`
therefore averages several views of the same photo, each mapped back to the input resolution:

1. **global**: the whole image stretched to 256×256 (what the model was trained on; measured here it beats
   letterboxing: mean IoU 0.895 vs 0.846 on the 15 reference photos);
2. **square tiles** at one or more scales (``tile_shorts``: the short side of the rescaled image), each
   256×256, overlapping by ``overlap``, blended with a tent window so tile seams vanish: small and distant
   people become as large as the model expects;
3. **portrait windows**: full-height windows with width/height = ``portrait_aspect`` slid across wide
   images and stretched to 256×256 — a standing person then fills a frame the way a phone selfie does.

The views disagree mostly on false positives (each invents background "person" in different places), so
their mean thresholded at 0.5 is both cleaner and more complete than any single view.
Same settings for every image; see ``docs/segmentation.md`` for the measured table.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gan_bokeh.errors import UserError, first_line
from gan_bokeh.segment.base import check_image, resize_hw

__all__ = ["SelfieOptions", "SelfieSegmenter", "letterbox", "tile_starts"]

log = logging.getLogger(__name__)

MODEL_SIZE = 256


@dataclass(frozen=True)
class SelfieOptions:
    """Inference settings (the same for every image).

    Attributes:
        global_fit: how the whole image enters the model: ``"stretch"`` (default) or ``"letterbox"``.
        tile_shorts: short sides (px) of the rescaled images cut into 256×256 tiles; ``()`` = no tiles.
        overlap: fraction of a tile / window shared with its neighbour (0 ≤ overlap < 1).
        portrait_aspect: width/height of the full-height windows; ``0`` = no portrait windows.
        fuse: ``"mean"`` (default) or ``"max"`` of the views.
        pad_value: grey level of the letterbox padding.
    """

    global_fit: str = "stretch"
    tile_shorts: tuple[int, ...] = (320, 512)
    overlap: float = 0.5
    portrait_aspect: float = 0.75
    fuse: str = "mean"
    pad_value: float = 0.5

    def validate(self) -> None:
        if self.global_fit not in ("stretch", "letterbox"):
            raise ValueError(f"global_fit must be 'stretch' or 'letterbox', got {self.global_fit!r}")
        if not 0.0 <= self.overlap < 1.0:
            raise ValueError(f"overlap must be in [0, 1), got {self.overlap}")
        if any(t < MODEL_SIZE for t in self.tile_shorts):
            raise ValueError(f"tile_shorts must be ≥ {MODEL_SIZE}, got {self.tile_shorts}")
        if not 0.0 <= self.portrait_aspect <= 1.0:
            raise ValueError(f"portrait_aspect must be in [0, 1], got {self.portrait_aspect}")
        if self.fuse not in ("max", "mean"):
            raise ValueError(f"fuse must be 'mean' or 'max', got {self.fuse!r}")


def letterbox(image: np.ndarray, size: int, pad_value: float = 0.5) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Fit an image into ``size × size`` keeping its aspect ratio, centred on a grey canvas.

    Returns:
        ``(canvas, (top, left, h, w))``: the float32 canvas and where the resized image sits in it.
    """
    h0, w0 = image.shape[:2]
    scale = size / max(h0, w0)
    h, w = max(1, round(h0 * scale)), max(1, round(w0 * scale))
    canvas = np.full((size, size, image.shape[2]), pad_value, np.float32)
    top, left = (size - h) // 2, (size - w) // 2
    canvas[top:top + h, left:left + w] = resize_hw(image, h, w)
    return canvas, (top, left, h, w)


def tile_starts(length: int, tile: int, stride: int) -> list[int]:
    """Start offsets of tiles covering ``[0, length)``; the last tile is flush with the end."""
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, max(1, stride)))
    starts.append(length - tile)
    return starts


def _tent(n: int) -> np.ndarray:
    """1-D tent weights with a floor, so image borders (covered once) keep a non-zero weight."""
    return np.maximum(1.0 - np.abs(np.linspace(-1.0, 1.0, n, dtype=np.float32)), 0.05)


class _Blender:
    """Accumulates window predictions with tent weights (weighted mean over overlaps)."""

    def __init__(self, h: int, w: int) -> None:
        self.acc = np.zeros((h, w), np.float32)
        self.wsum = np.zeros((h, w), np.float32)

    def add(self, y: int, x: int, prob: np.ndarray, weight: np.ndarray) -> None:
        h, w = prob.shape
        self.acc[y:y + h, x:x + w] += prob * weight
        self.wsum[y:y + h, x:x + w] += weight

    def result(self) -> np.ndarray:
        return self.acc / np.maximum(self.wsum, 1e-6)


class SelfieSegmenter:
    """MediaPipe selfie segmentation (256×256, float32) via ``ai_edge_litert``, multi-view.

    Args:
        model_path: the ``.tflite`` file (see :func:`gan_bokeh.segment.model_files.selfie_model_path`).
        options: inference settings.
        num_threads: interpreter threads (default: ``GAN_BOKEH_THREADS`` or 1).
    """

    name = "selfie"

    def __init__(self, model_path: str | os.PathLike[str], options: SelfieOptions | None = None,
                 num_threads: int | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.options = options or SelfieOptions()
        self.options.validate()
        threads = num_threads or int(os.environ.get("GAN_BOKEH_THREADS", "0") or 0) or 1
        self.model_path = Path(model_path)
        from gan_bokeh.runtime import quiet_native_stderr

        try:
            with quiet_native_stderr():  # "INFO: Created TensorFlow Lite XNNPACK delegate" on every command
                self._interp = Interpreter(model_path=str(model_path), num_threads=threads)
                self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as err:
            raise UserError(f"{model_path}: not a usable TFLite model ({first_line(err)})") from None
        inp = self._interp.get_input_details()[0]
        if tuple(inp["shape"]) != (1, MODEL_SIZE, MODEL_SIZE, 3):
            raise UserError(f"{model_path}: expected a 1x{MODEL_SIZE}x{MODEL_SIZE}x3 input, got "
                            f"{tuple(int(v) for v in inp['shape'])}; pass the general selfie_segmentation.tflite")
        self._in = inp["index"]
        self._out = self._interp.get_output_details()[0]["index"]

    def infer(self, tile: np.ndarray) -> np.ndarray:
        """Run the model on one ``(256, 256, 3)`` float32 [0, 1] tile → ``(256, 256)`` probability."""
        self._interp.set_tensor(self._in, np.ascontiguousarray(tile[None], dtype=np.float32))
        self._interp.invoke()
        return np.clip(self._interp.get_tensor(self._out)[0, :, :, 0], 0.0, 1.0)

    def _infer_stretched(self, crop: np.ndarray) -> np.ndarray:
        """Stretch any crop to the model input and the probability back to the crop size."""
        prob = self.infer(resize_hw(crop, MODEL_SIZE, MODEL_SIZE))
        return resize_hw(prob, *crop.shape[:2])

    def global_pass(self, image: np.ndarray) -> np.ndarray:
        """Whole-image probability (stretched or letterboxed) at the input resolution."""
        if self.options.global_fit == "stretch":
            return self._infer_stretched(image)
        canvas, (top, left, h, w) = letterbox(image, MODEL_SIZE, self.options.pad_value)
        prob = self.infer(canvas)[top:top + h, left:left + w]
        return resize_hw(prob, *image.shape[:2])

    def tiled_pass(self, image: np.ndarray, tile_short: int) -> np.ndarray:
        """Overlapping 256×256 tiles of the image rescaled to short side ``tile_short``."""
        h0, w0 = image.shape[:2]
        scale = tile_short / min(h0, w0)
        h, w = max(MODEL_SIZE, round(h0 * scale)), max(MODEL_SIZE, round(w0 * scale))
        scaled = resize_hw(image, h, w)
        stride = round(MODEL_SIZE * (1.0 - self.options.overlap))
        win = np.outer(_tent(MODEL_SIZE), _tent(MODEL_SIZE))
        blend = _Blender(h, w)
        for y in tile_starts(h, MODEL_SIZE, stride):
            for x in tile_starts(w, MODEL_SIZE, stride):
                blend.add(y, x, self.infer(scaled[y:y + MODEL_SIZE, x:x + MODEL_SIZE]), win)
        return resize_hw(blend.result(), h0, w0)

    def portrait_pass(self, image: np.ndarray) -> np.ndarray:
        """Windows of aspect ``portrait_aspect`` (full height of wide images) stretched to 256×256."""
        h, w = image.shape[:2]
        aspect = self.options.portrait_aspect
        wh = min(h, round(w / aspect))          # window height (full height unless the image is very tall)
        ww = min(w, round(wh * aspect))
        step_y = round(wh * (1.0 - self.options.overlap))
        step_x = round(ww * (1.0 - self.options.overlap))
        win_y = _tent(wh) if wh < h else np.ones(wh, np.float32)
        win_x = _tent(ww) if ww < w else np.ones(ww, np.float32)
        win = np.outer(win_y, win_x)
        blend = _Blender(h, w)
        for y in tile_starts(h, wh, step_y):
            for x in tile_starts(w, ww, step_x):
                blend.add(y, x, self._infer_stretched(image[y:y + wh, x:x + ww]), win)
        return blend.result()

    def working_image(self, image: np.ndarray) -> np.ndarray:
        """The image shrunk (never enlarged) to the finest resolution any view uses.

        The finest view is the largest tile scale (short side ``max(tile_shorts)``); working there instead
        of at 12 MP makes every later resize cheap and changes no view's input.
        """
        img = check_image(image)
        short = max((*self.options.tile_shorts, MODEL_SIZE))
        h, w = img.shape[:2]
        if min(h, w) <= short:
            return img
        scale = short / min(h, w)
        return resize_hw(img, max(1, round(h * scale)), max(1, round(w * scale)))

    def views(self, image: np.ndarray) -> dict[str, np.ndarray]:
        """Every configured view's probability at the working resolution (:meth:`working_image`)."""
        img = self.working_image(image)
        out = {"global": self.global_pass(img)}
        for t in self.options.tile_shorts:
            out[f"tiles{t}"] = self.tiled_pass(img, t)
        if self.options.portrait_aspect > 0:
            out["portrait"] = self.portrait_pass(img)
        return out

    def __call__(self, image: np.ndarray) -> np.ndarray:
        maps = list(self.views(image).values())
        prob = np.maximum.reduce(maps) if self.options.fuse == "max" else np.mean(maps, axis=0)
        h, w = np.asarray(image).shape[:2]
        return np.clip(resize_hw(prob.astype(np.float32), h, w), 0.0, 1.0)
