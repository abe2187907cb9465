"""gan_bokeh.depth — see README architecture."""
