"""`python -m mlplab ...` is the same as the `mlplab` command."""
import sys

from .cli import main

sys.exit(main())
