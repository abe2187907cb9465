"""The renderers and aperture kernels: one registry each (:class:`gan_bokeh.registry.Registry`).

Renderer targets are ``(image, [depth,] mask, **options)`` functions imported on first use; ``needs_depth``
says which take a depth map; ``returns`` says what comes back besides the image (an ``info`` dict for
``layers``, the ``interpolation_mask`` for ``interpolate``); ``pastes_subject``: the output copies the input
inside the mask, so its subject PSNR/SSIM are high by construction (reports mark those rows "subject pasted");
``source`` names the work it follows.
"""

from __future__ import annotations

from gan_bokeh.registry import Registry

__all__ = ["DEFAULT_METHOD", "KERNELS", "RENDERERS"]

_PAPER = "Simulating Shallow Depth of Field in Portraits Using Generative Models, §3.2"
RENDERERS = Registry("renderer", "--method")
RENDERERS.add("average", "box blur of the photo, subject pasted back", "gan_bokeh.render.smoothing:render_average",
              needs_depth=False, returns="image", pastes_subject=True, source=_PAPER)
RENDERERS.add("gaussian", "Gaussian blur of the photo, subject pasted back",
              "gan_bokeh.render.smoothing:render_gaussian", needs_depth=False, returns="image", pastes_subject=True,
              source=_PAPER)
RENDERERS.add("buckets", "progressively blurred depth buckets", "gan_bokeh.render.buckets:render_buckets",
              needs_depth=True, returns="image", pastes_subject=True,
              source="Bokeh-licious: Shallow Depth of Field for Images using Portrait Segmentation and Depth "
                     "Estimation (blog post, 2022)")
RENDERERS.add("interpolate", "percentile interpolation mask over a smoothed background",
              "gan_bokeh.render.interpolate:render_interpolate", needs_depth=True, returns="interpolation_mask",
              pastes_subject=False,
              source="Enhancing high depth-of-field photos with image understanding (blog post, 2019)")
RENDERERS.add("layers", "depth layers blurred with the aperture kernel, composited back to front (default)",
              "gan_bokeh.render.layers:render_layers", needs_depth=True, returns="info", pastes_subject=False,
              source="Rendering Portraitures from Monocular Camera and Beyond (Xu et al., ECCV 2018)")
DEFAULT_METHOD = "layers"

#: Aperture shapes (``--kernel``); ``sides`` 0 = a disk, else an n-bladed iris polygon.
KERNELS = Registry("kernel", "--kernel")
KERNELS.add("disk", "round aperture (a lens wide open)", sides=0)
for _n, _name in enumerate(("triangle", "square", "pentagon", "hexagon", "heptagon", "octagon"), start=3):
    KERNELS.add(_name, f"{_n}-bladed iris", sides=_n)
