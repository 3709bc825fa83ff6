"""``python -m thermal``: the same command line as the ``thermal`` console script."""

import sys

from thermal.cli import main

sys.exit(main())
