"""`python -m mlplab ...` is the same as the `mlplab` command."""
import sys

from mlplab.cli.main import main

sys.exit(main())
