"""gan_bokeh.segment — see README architecture."""
