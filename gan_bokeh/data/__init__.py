"""gan_bokeh.data — see README architecture."""
