"""`python -m veille` runs the command line (same as the `veille` script)."""

import sys

from veille.cli.main import main

sys.exit(main())
