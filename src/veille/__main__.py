"""`python -m veille` runs the command line (same as the `veille` script)."""

import sys

from veille.cli import main

sys.exit(main())
