"""The command line's subcommands, one module per group; `mlplab.cli` builds the parser from them."""
