"""gan_bokeh.render — see README architecture."""
