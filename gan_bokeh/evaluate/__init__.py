"""gan_bokeh.evaluate — see README architecture."""
