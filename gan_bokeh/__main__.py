"""``python -m gan_bokeh`` behaves exactly like the ``gan-bokeh`` console script."""

import sys

from gan_bokeh.cli import main

if __name__ == "__main__":
    sys.exit(main())
