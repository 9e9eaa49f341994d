"""The lesson registry, the context a lesson writes into, and the runner."""
from __future__ import annotations

import importlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

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


@dataclass
class LessonResult:
    name: str
    title: str
    seed: str
    summary: str
    numbers: dict = field(default_factory=dict)
    lines: list = field(default_factory=list)
    figures: list = field(default_factory=list)     # (relative path, caption)
    paragraphs: list = field(default_factory=list)
    seconds: float = 0.0


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
        """Save a matplotlib figure as <out_dir>/<lesson>/<name>.png and close it."""
        import matplotlib.pyplot as plt

        path = None
        if self.out_dir is not None:
            from ..plotting import save_figure

            folder = self.out_dir / self.result.name
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{name}.png"
            save_figure(fig, path)
            self.result.figures.append((f"{self.result.name}/{name}.png", caption))
        else:
            self.result.figures.append((None, caption))
        plt.close(fig)
        return path


def run_lesson(name: str, out_dir=None, quick: bool = False, stream=None) -> LessonResult:
    _load_all()
    if name not in LESSONS:
        raise ValueError(f"Unknown lesson {name!r}. Valid lessons: {', '.join(LESSONS)}.")
    item = LESSONS[name]
    result = LessonResult(item.name, item.title, item.seed, item.summary)
    ctx = LessonContext(result, out_dir, quick, stream)
    ctx.print(f"== {item.title} ({item.name}; seed {item.seed}) ==")
    start = time.perf_counter()
    item.run(ctx)
    result.seconds = time.perf_counter() - start
    ctx.print(f"-- {item.name} done in {result.seconds:.1f} s")
    return result


def run_lessons(names, out_dir="lessons_out", quick: bool = False, stream=None) -> list[LessonResult]:
    """Run lessons ("all" or a list of names) and write <out_dir>/report.html."""
    from .report import write_report

    all_names = lesson_names()
    names = all_names if names in ("all", ["all"]) else list(names)
    unknown = [n for n in names if n not in LESSONS]
    if unknown:
        raise ValueError(f"Unknown lesson(s) {unknown}. Valid lessons: {', '.join(all_names)}, or 'all'.")
    out_dir = Path(out_dir)
    results = [run_lesson(n, out_dir, quick, stream) for n in names]
    write_report(results, out_dir / "report.html")
    return results
