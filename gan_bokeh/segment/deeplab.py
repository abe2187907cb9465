"""DeepLabV3 person segmentation (torchvision), the segmenter the paper used (Nasrullah 2018, §3.4).

The COCO-trained checkpoints with the 21 Pascal VOC labels are used; the person is VOC class 15 and its
softmax probability is kept as the soft mask. Weights come from :func:`gan_bokeh.weights.resolve_weights`
(``--weights PATH`` → torch hub cache → download); the constructor never downloads anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gan_bokeh.segment.base import check_image, resize_hw

__all__ = ["DEEPLAB_ARCHS", "PERSON_CLASS", "DeepLabSegmenter", "build_deeplab", "deeplab_weights_url"]

PERSON_CLASS = 15  #: "person" in the Pascal VOC label set
NUM_CLASSES = 21
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class _Arch:
    builder: str       # torchvision.models.segmentation function name
    weights_enum: str  # torchvision weights enum holding the URL


DEEPLAB_ARCHS: dict[str, _Arch] = {
    "resnet101": _Arch("deeplabv3_resnet101", "DeepLabV3_ResNet101_Weights"),
    "resnet50": _Arch("deeplabv3_resnet50", "DeepLabV3_ResNet50_Weights"),
    "mobilenet_v3": _Arch("deeplabv3_mobilenet_v3_large", "DeepLabV3_MobileNet_V3_Large_Weights"),
}


def _arch(name: str) -> _Arch:
    if name not in DEEPLAB_ARCHS:
        from gan_bokeh.errors import UserError

        raise UserError(f"--deeplab-arch {name}: unknown; choose from {', '.join(DEEPLAB_ARCHS)}")
    return DEEPLAB_ARCHS[name]


def deeplab_weights_url(arch: str) -> str:
    """Official URL of the COCO-with-VOC-labels checkpoint of ``arch``."""
    import torchvision.models.segmentation as seg

    return getattr(seg, _arch(arch).weights_enum).COCO_WITH_VOC_LABELS_V1.url


def build_deeplab(arch: str) -> Any:
    """A randomly initialised DeepLabV3 (21 classes, no auxiliary head, no backbone download)."""
    import torchvision.models.segmentation as seg

    builder: Callable[..., Any] = getattr(seg, _arch(arch).builder)
    return builder(weights=None, weights_backbone=None, num_classes=NUM_CLASSES, aux_loss=False)


def _strip_aux(state: dict[str, Any]) -> dict[str, Any]:
    """Official checkpoints carry the training-only auxiliary head; inference does not need it."""
    return {k: v for k, v in state.items() if not k.startswith("aux_classifier.")}


class DeepLabSegmenter:
    """DeepLabV3 person probability.

    Args:
        arch: key of :data:`DEEPLAB_ARCHS`.
        state_dict: weights for :func:`build_deeplab` (auxiliary-head keys are ignored).
        device: torch device.
        short_side: the image is resized so its short side is this many px for inference (torchvision's
            preset for these checkpoints uses 520); the probability is resized back.
    """

    def __init__(self, arch: str, state_dict: dict[str, Any], device: Any = "cpu",
                 short_side: int = 520) -> None:
        import torch

        self.arch = arch
        self.name = f"deeplab-{arch}"
        self.device = torch.device(device)
        self.short_side = int(short_side)
        net = build_deeplab(arch)
        try:
            net.load_state_dict(_strip_aux(state_dict), strict=True)
        except RuntimeError as err:
            from gan_bokeh.errors import UserError, first_line

            first = first_line(err)
            raise UserError(f"weights do not fit DeepLabV3-{arch} ({first}); check --deeplab-arch") from None
        self.net = net.eval().to(self.device)
        self._mean = torch.tensor(_MEAN, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(_STD, device=self.device).view(1, 3, 1, 1)

    def _infer_size(self, h: int, w: int) -> tuple[int, int]:
        s = self.short_side / min(h, w)
        return max(8, round(h * s)), max(8, round(w * s))

    def batch(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """Segment several images; images of the same size share one forward pass."""
        checked = [check_image(im) for im in images]
        groups: dict[tuple[int, int], list[int]] = {}
        for i, im in enumerate(checked):
            groups.setdefault(im.shape[:2], []).append(i)
        out: list[np.ndarray] = [np.empty(0, np.float32)] * len(images)
        for (h, w), idx in groups.items():
            ih, iw = self._infer_size(h, w)
            # resizing with OpenCV before torch: an antialiased torch resize of a 12 MP image costs more
            # than the network itself on CPU
            stack = np.stack([resize_hw(checked[i], ih, iw) for i in idx])
            for i, prob in zip(idx, self._forward(stack), strict=True):
                out[i] = np.clip(resize_hw(prob, h, w), 0.0, 1.0)
        return out

    def _forward(self, stack: np.ndarray) -> np.ndarray:
        """``(N, h, w, 3)`` float32 [0, 1] → person probability ``(N, h, w)`` at the same size."""
        import torch

        with torch.inference_mode():
            x = torch.from_numpy(stack).permute(0, 3, 1, 2).to(self.device)
            logits = self.net((x - self._mean) / self._std)["out"]
            prob = torch.softmax(logits.float(), dim=1)[:, PERSON_CLASS]
        return prob.cpu().numpy().astype(np.float32)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        return self.batch([image])[0]
