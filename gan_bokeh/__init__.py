"""gan-bokeh: shallow depth of field for portraits.

Importing the top-level package is cheap on purpose (no torch): the CLI, the scrapers and the
I/O layer must stay usable without loading a deep-learning runtime.
"""

__version__ = "0.1.0"
