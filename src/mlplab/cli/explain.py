"""`mlplab explain`: the command-line front of `explain_step`."""
from __future__ import annotations

import argparse
import json
import sys

from mlplab.explain.step import default_batch, build_network, explain_step


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--layers", default="2-3-1", help="layer sizes, input to output (default 2-3-1)")
    parser.add_argument("--activation", default="sigmoid", help="hidden-layer activation (default sigmoid)")
    parser.add_argument("--output-activation", default=None,
                        help="output activation (default: sigmoid for binary_crossentropy, softmax for the "
                             "categorical losses, else linear)")
    parser.add_argument("--loss", default="binary_crossentropy", help="loss name (default binary_crossentropy)")
    parser.add_argument("--lr", type=float, default=0.01, help="SGD learning rate (default 0.01)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the initial weights (default 0)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--precision", type=int, default=4, help="decimals shown (default 4)")
    parser.add_argument("--json", action="store_true", help="print the trace as JSON instead of text")


def _run(args) -> int:
    model = build_network(args.layers, args.activation, args.loss, args.lr, args.seed,
                          output_activation=args.output_activation, dtype=args.dtype)
    x, y = default_batch(model, model.loss, args.seed)
    trace = explain_step(model, x, y)
    print(json.dumps(trace.to_dict(), indent=2) if args.json else trace.to_text(precision=args.precision))
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register `mlplab explain` on the CLI's subparsers; the parsed args run with `args.run(args)`."""
    parser = subparsers.add_parser(
        "explain", help="show one backpropagation step layer by layer (forward, backward, update)",
        description="Run one SGD step of a small MLP (default: the XOR 2-3-1 sigmoid network of seed 000) "
                    "and print every layer's forward values, gradients and update, with shapes.")
    _add_arguments(parser)
    parser.set_defaults(run=_run)
    return parser


def cli_main(argv=None) -> int:
    """`mlplab explain [--layers 2-3-1] [--activation sigmoid] [--loss ...] [--lr 0.01] [--seed 0] [--json]`."""
    parser = argparse.ArgumentParser(prog="mlplab explain", description="Show one backpropagation step.")
    _add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except (ValueError, TypeError) as err:
        print(f"mlplab explain: error: {err}", file=sys.stderr)
        return 2
