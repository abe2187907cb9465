"""Networks: pure ``nn.Module``s and their registries. Nothing here downloads, reads files or picks devices."""

from gan_bokeh.nets import defocus as _defocus  # noqa: F401  (registers)
from gan_bokeh.nets import discriminators as _discriminators  # noqa: F401  (registers)
from gan_bokeh.nets import generators as _generators  # noqa: F401  (registers)
from gan_bokeh.nets import pynet as _pynet  # noqa: F401  (registers)
from gan_bokeh.nets.registry import (
    DISCRIMINATORS,
    GENERATORS,
    build_discriminator,
    build_generator,
    generator_blocks,
    register_discriminator,
    register_generator,
)

__all__ = ["DISCRIMINATORS", "GENERATORS", "build_discriminator", "build_generator", "generator_blocks",
           "register_discriminator", "register_generator"]
