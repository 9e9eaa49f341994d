"""`mlplab playground [--lesson NAME] [--port N] [--host 127.0.0.1] [--no-browser]`: start the playground's local
server, optionally opening a lesson's guided page."""
from __future__ import annotations

import argparse


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("playground", help="open the browser playground: build, train and look inside "
                                                      "a network (needs: pip install 'mlplab[playground]')",
                                   epilog="examples:\n  mlplab playground\n  mlplab playground --lesson logic-gates-xor\n"
                                          "  mlplab playground --port 8000 --no-browser",
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lesson", type=_lesson, default=None,
                        help="open a lecture as a guided page: logic-gates-xor, hidden-space, relu-approximation, "
                             "vanishing-gradient, overfitting-regularization")
    parser.add_argument("--port", type=_port, default=0, help="port to listen on; 0 picks a free one")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on; 127.0.0.1 is this machine only")
    parser.add_argument("--no-browser", action="store_true", help="print the URL without opening a browser")
    parser.set_defaults(run=run)
    return parser


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 0 to 65535; received {text!r}")
    return port


def _lesson(text: str) -> str:
    from mlplab.playground.lessons import lesson_names

    if text not in lesson_names():
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(lesson_names())}; received {text!r}")
    return text


def run(args) -> int:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise ValueError("The playground needs its optional extra: pip install 'mlplab[playground]' "
                         "(Starlette and uvicorn).") from None
    from mlplab.playground.server import serve

    try:
        serve(host=args.host, port=args.port, open_browser=not args.no_browser, lesson=args.lesson)
    except KeyboardInterrupt:
        pass
    return 0
