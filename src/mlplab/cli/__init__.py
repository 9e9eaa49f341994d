"""The `mlplab` command line: one module per command group, put together by `mlplab.cli.main`."""
from mlplab.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
