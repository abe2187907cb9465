"""gan_bokeh.report — see README architecture."""
