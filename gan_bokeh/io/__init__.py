"""The I/O room: every image read/write, atomic writes, JSON-lines manifests."""

from gan_bokeh.io.atomic import (
    append_jsonl,
    atomic_path,
    atomic_write_bytes,
    atomic_write_text,
    atomic_write_with,
    fsync_dir,
    read_jsonl,
)
from gan_bokeh.io.images import (
    IMAGE_EXTENSIONS,
    MASK_SUFFIX,
    WRITABLE_EXTENSIONS,
    find_by_stem,
    image_info,
    list_images,
    open_image,
    output_path,
    pil_to_rgb_alpha,
    read_image,
    read_image_alpha,
    read_mask,
    refuse_overwriting_inputs,
    resize_image,
    to_uint8,
    write_image,
    write_mask,
    write_rgba,
)
from gan_bokeh.io.masks import MaskSource, alpha_is_mask, find_mask, find_mask_file, load_mask

__all__ = [
    "IMAGE_EXTENSIONS", "MASK_SUFFIX", "MaskSource", "WRITABLE_EXTENSIONS", "alpha_is_mask",
    "find_mask_file", "load_mask", "append_jsonl", "atomic_path", "atomic_write_bytes",
    "atomic_write_text", "atomic_write_with", "find_by_stem", "find_mask", "fsync_dir", "image_info",
    "list_images", "open_image", "output_path", "pil_to_rgb_alpha",
    "read_image", "read_image_alpha", "read_jsonl", "read_mask", "refuse_overwriting_inputs", "resize_image",
    "to_uint8", "write_image", "write_mask", "write_rgba",
]
