"""`python -m metersim` is the `metersim` command."""

from metersim._cli import main

raise SystemExit(main())
