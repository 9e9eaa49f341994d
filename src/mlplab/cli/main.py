"""The `mlplab` command line: train, evaluate, predict, inspect, export, lessons, explain.

Each command group lives in its own module and adds its subparser through `COMMANDS`. To add one:

    # in mlplab/cli.py, one line in COMMANDS (a function or "module:function", imported only when used):
    ("sweep", "mlplab.sweep.command:add_parser"),

where `add_parser(sub)` calls `sub.add_parser("sweep", help=..., epilog="example: ...")`, adds its
arguments and ends with `parser.set_defaults(run=function)`; `function(args)` returns the exit code
and raises ValueError/TypeError/OSError with a one-line message for user mistakes.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

# (name, add_parser): add_parser(subparsers) adds the subcommand; a "module:function" string is imported lazily.
COMMANDS = [
    ("train", "mlplab.cli.train:add_parser"),
    ("evaluate", "mlplab.cli.model_files:add_evaluate_parser"),
    ("predict", "mlplab.cli.model_files:add_predict_parser"),
    ("inspect", "mlplab.cli.model_files:add_inspect_parser"),
    ("export", "mlplab.cli.model_files:add_export_parser"),
    ("inspect-data", "mlplab.cli.model_files:add_inspect_data_parser"),
    ("sweep", "mlplab.cli.sweep:add_sweep_parser"),
]
EXAMPLES = {  # epilogs for commands that do not set their own
    "lessons": "examples:\n  mlplab lessons list\n  mlplab lessons run numpy-networks --quick --out lessons_out",
    "explain": "example:\n  mlplab explain --layers 2-3-1 --activation sigmoid",
}
# What a user's mistake raises: printed as one line, never a traceback (MLPLAB_DEBUG=1 shows it).
USER_ERRORS = (ValueError, TypeError, OSError, ImportError, ArithmeticError, RuntimeError)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default (unless it is None or a flag's) and keeps multi-line examples as written."""

    def _get_help_string(self, action):
        if action.default is None or isinstance(action.default, bool) or action.help is argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)

    def _fill_text(self, text, width, indent):
        if "\n" in text:  # an example block: its line breaks matter
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


class Parser(argparse.ArgumentParser):
    """No abbreviated options (`--data` is not `--dataset`), our help format, and one-line errors."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}{_did_you_mean(message)} (see `{self.prog} --help`)\n")


def _did_you_mean(message: str) -> str:
    """' Did you mean 'adam'?' for argparse's "invalid choice: 'adamm' (choose from ...)"."""
    import re

    found = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
    if not found:
        return ""
    from mlplab.datasets.tables import suggest

    return suggest(found.group(1), [c.strip().strip("'") for c in found.group(2).split(",")])


def _lessons(args) -> int:
    from mlplab.lessons import LESSONS, lesson_names, run_lessons
    from mlplab.lessons.base import check_out_dir, require_matplotlib
    from mlplab.lessons.lectures import lecture_of

    if args.action == "list":
        for name in lesson_names():
            item = LESSONS[name]
            print(f"{name:28s} {item.title}  [lecture: {lecture_of(item.seed, name)[0]}]")
        return 0
    if not args.names:
        raise ValueError("Invalid value for `lessons run`: expected a lesson name or 'all' "
                         "(see `mlplab lessons list`). Received: nothing.")
    names = "all" if args.names == ["all"] else args.names
    unknown = [n for n in ([] if names == "all" else names) if n not in lesson_names()]
    if unknown:
        raise ValueError(f"Unknown lesson(s) {unknown}. Valid lessons: {', '.join(lesson_names())}, or 'all'.")
    out = check_out_dir(args.out, name="--out")  # before any lesson runs
    try:
        require_matplotlib()
    except ImportError as err:
        print(f"mlplab: error: {err}", file=sys.stderr)
        return 2
    results = run_lessons(names, out_dir=out, quick=args.quick)
    failed = [r for r in results if r.status != "ok"]
    total = sum(r.seconds for r in results)
    print(f"\n{len(results) - len(failed)} of {len(results)} lesson(s) ran in {total:.1f} s; "
          f"report: {(out / 'report.html').resolve()}")
    for result in failed:
        print(f"could not run {result.name}: {result.reason}\n  fix: {result.fix}", file=sys.stderr)
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    from mlplab.version import __version__

    parser = Parser(prog="mlplab", description="Build, train and understand multilayer perceptrons.",
                    epilog="examples:\n  mlplab train                  # offline demo\n"
                           "  mlplab train data.csv --target label --out model.safetensors\n"
                           "  mlplab predict model.safetensors new.csv --out predictions.csv\n"
                           "run `mlplab COMMAND --help` for each command's options and an example.")
    parser.add_argument("--version", action="version", version=f"mlplab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, add_parser in COMMANDS:
        if isinstance(add_parser, str):
            module, function = add_parser.split(":")
            add_parser = getattr(importlib.import_module(module), function)
        add_parser(sub)
    lessons = sub.add_parser("lessons", help="reproduce the lecture notes' programs: list, or run NAME|all")
    lessons.add_argument("action", choices=["list", "run"])
    lessons.add_argument("names", nargs="*", help="lesson names, or 'all'")
    lessons.add_argument("--out", default="lessons_out", help="folder for figures, results and report.html "
                         "(lessons run separately into one folder share one report)")
    lessons.add_argument("--quick", action="store_true", help="scaled-down runs (what the tests use)")
    lessons.set_defaults(run=_lessons)
    from mlplab.cli.explain import add_parser as add_explain_parser

    add_explain_parser(sub)
    from mlplab.cli.playground import add_parser as add_playground_parser

    add_playground_parser(sub)
    for name, command in sub.choices.items():
        if not command.epilog and name in EXAMPLES:
            command.epilog = EXAMPLES[name]
    return parser


def main(argv=None) -> int:
    """Run one command; user mistakes print `mlplab: error: ...` (one line) and return 2."""
    try:
        args = build_parser().parse_args(argv)
        return args.run(args)
    except BrokenPipeError:  # `mlplab predict ... | head`: the reader has gone; stop quietly
        _silence_stdout()
        return 0
    except KeyboardInterrupt:
        print("mlplab: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as err:
        if os.environ.get("MLPLAB_DEBUG"):
            raise
        print(f"mlplab: error: {_one_line(err)}", file=sys.stderr)
        return 2


def _one_line(err: BaseException) -> str:
    if isinstance(err, OSError) and err.filename is not None and err.strerror:
        return f"{err.filename}: {err.strerror}"
    text = " ".join(str(err).split())
    return text or type(err).__name__


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
