"""The report room: static HTML comparison pages and loss-curve plots.

Heavy imports (matplotlib, torch) happen inside the functions that need them.
"""

from gan_bokeh.report.compare import CompareOptions, build_report
from gan_bokeh.report.html import Cell, Row, render_page
from gan_bokeh.report.plots import group_keys, loss_group, plot_run_losses, plot_runs_group

__all__ = ["Cell", "CompareOptions", "Row", "build_report", "group_keys", "loss_group", "plot_run_losses",
           "plot_runs_group", "render_page"]
