"""The data room: unpaired two-domain dataset, loader-side decoding/resizing (+ on-disk cache), device-side
paired image + mask augmentation (kornia), tensor conversions.

Nothing here picks a device; the trainer passes its device to :func:`augment_batch`.
"""

from gan_bokeh.data.augment import PairedAugment, augment_batch, paired_augment
from gan_bokeh.data.cache import ArrayCache, default_cache_dir
from gan_bokeh.data.paired import PairedDataset, collate_paired, find_pair_folders
from gan_bokeh.data.tensors import (
    image_to_tensor,
    images_to_tensor,
    mask_to_tensor,
    tensor_to_images,
    tensor_to_masks,
)
from gan_bokeh.data.transforms import load_resized, resize_square
from gan_bokeh.data.unpaired import MASK_HOWTO, UnpairedBatchSampler, UnpairedDataset, collate_unpaired

__all__ = ["MASK_HOWTO", "ArrayCache", "PairedAugment", "PairedDataset", "collate_paired", "find_pair_folders",
           "UnpairedBatchSampler", "UnpairedDataset",
           "augment_batch", "collate_unpaired", "default_cache_dir", "image_to_tensor", "images_to_tensor",
           "load_resized", "mask_to_tensor", "paired_augment", "resize_square", "tensor_to_images",
           "tensor_to_masks"]
