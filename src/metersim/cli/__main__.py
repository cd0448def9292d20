"""`python -m metersim.cli` is the `metersim` command."""

import sys

from metersim.cli import main

sys.exit(main())
