"""The mlplab playground: a local web page to build, train and look inside a network, driven by mlplab.

`mlplab playground` (or `serve()`) starts it; it needs the optional extra: pip install "mlplab[playground]".
`data` and `session` use only NumPy and mlplab, so exported scripts can import `mlplab.playground.data`.
"""


def serve(host: str = "127.0.0.1", port: int = 0, open_browser: bool = True, lesson: str | None = None) -> None:
    """Run the playground server until interrupted (port 0: a free port); prints the URL. lesson: open that
    lecture's guided page (see `mlplab.playground.lessons.lesson_names()`)."""
    from mlplab.playground.server import serve as _serve

    _serve(host=host, port=port, open_browser=open_browser, lesson=lesson)


__all__ = ["serve"]
