"""The data room: unpaired two-domain dataset, paired image + mask transforms, tensor conversions.

Nothing here picks a device; the trainer moves batches.
"""

from gan_bokeh.data.tensors import (
    image_to_tensor,
    images_to_tensor,
    mask_to_tensor,
    tensor_to_images,
    tensor_to_masks,
)
from gan_bokeh.data.transforms import augment_pair, flip_pair, random_crop_pair, resize_pair
from gan_bokeh.data.unpaired import MASK_HOWTO, UnpairedBatchSampler, UnpairedDataset, collate_unpaired

__all__ = ["MASK_HOWTO", "UnpairedBatchSampler", "UnpairedDataset", "augment_pair", "collate_unpaired",
           "flip_pair", "image_to_tensor", "images_to_tensor", "mask_to_tensor", "random_crop_pair",
           "resize_pair", "tensor_to_images", "tensor_to_masks"]
