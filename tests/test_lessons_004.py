"""Seed 004 reproduced exactly, and the lesson runner's report."""
import io

import numpy as np
import pytest

from mlplab.lessons import run_lesson, run_lessons
from mlplab.lessons.seed004 import PRINTED_42, PRINTED_44, PRINTED_44_ERRORS


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    return run_lesson("numpy-networks", out_dir=tmp_path_factory.mktemp("lessons"), quick=True,
                      stream=io.StringIO())


@pytest.mark.slow
def test_one_layer_network_prints_the_seed_outputs(result):
    # The seed prints 8 decimals; mlplab's outputs round to exactly those digits.
    assert result.numbers["4.2 outputs"] == PRINTED_42
    assert result.numbers["4.2 max |mlplab - seed code here|"] <= 1e-15
    assert "[[0.00966449]" in "\n".join(result.lines)


@pytest.mark.slow
def test_two_layer_network_prints_the_seed_errors_and_outputs(result):
    errors = result.numbers["4.4 errors"]
    # 17 printed digits: equal to 1e-13 relative (the last digits depend on the BLAS, as for the seed's own code).
    np.testing.assert_allclose(errors, PRINTED_44_ERRORS, rtol=1e-13)
    assert result.numbers["4.4 outputs"] == PRINTED_44
    assert result.numbers["4.4 max |mlplab - seed code here|"] <= 1e-15
    text = "\n".join(result.lines)
    assert text.count("Error:0.") == 6 and "Output after training" in text


@pytest.mark.slow
def test_listing_data_cannot_produce_the_printed_output(result):
    outputs = result.numbers["4.4 with the listing's own data"]
    assert abs(outputs[2] - outputs[3]) < 1e-3          # rows 3 and 4 are the same input
    assert np.max(np.abs(np.subtract(outputs, PRINTED_44))) > 0.5


@pytest.mark.slow
def test_relu_forward_and_digits(result):
    assert result.numbers["4.3 relu output"] == 32.0
    assert result.numbers["4.5 final loss"] < result.numbers["4.5 first loss"] / 10
    assert result.numbers["4.5 query rounded"] == 2
    assert abs(result.numbers["4.5 query prediction"] - 2) < 0.1


@pytest.mark.slow
def test_figures_are_written(result, tmp_path):
    assert [caption for _, caption in result.figures]
    for path, _ in result.figures:
        assert path.endswith(".png")


def test_report_has_a_section_per_lesson(tmp_path, monkeypatch):
    from mlplab.lessons import base

    calls = []

    def tiny(ctx):
        ctx.print("hello")
        ctx.number("answer", 42)
        ctx.explain("Why it matters.")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 1])
        ctx.figure(fig, "line", "a line")
        calls.append(ctx.quick)

    monkeypatch.setitem(base.LESSONS, "tiny-test", base.Lesson("tiny-test", "Tiny <lesson>", "none", "s", tiny))
    results = run_lessons(["tiny-test"], out_dir=tmp_path, quick=True, stream=io.StringIO())
    assert calls == [True] and results[0].numbers == {"answer": 42}
    assert (tmp_path / "report.html").stat().st_mode & 0o777 == 0o644
    html = (tmp_path / "report.html").read_text()
    assert 'id="tiny-test"' in html and "Tiny &lt;lesson&gt;" in html and "Why it matters." in html
    assert '<td title="answer">Answer</td><td class="value">42</td>' in html
    assert 'src="data:image/png;base64,' in html and 'src="tiny-test/' not in html  # embedded, not linked
    png = (tmp_path / "tiny-test" / "line.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 2000


def test_unknown_lesson_is_refused(tmp_path):
    with pytest.raises(ValueError, match="Valid lessons"):
        run_lessons(["nope"], out_dir=tmp_path)
