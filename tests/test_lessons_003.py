"""Seed 003 lessons: each runs in quick mode and its key numbers are checked against the seed's claims."""
import io

import numpy as np
import pytest

from mlplab.datasets import cubic, overfitting_points
from mlplab.lessons import LESSONS, run_lesson
from mlplab.lessons.seed003_overfitting import total_variation, turning_points

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SEED003_LESSONS = ("logistic-regression", "hidden-space", "relu-approximation", "mnist",
                   "overfitting-regularization")


def run_quick(name, tmp_path):
    return run_lesson(name, out_dir=tmp_path, quick=True, stream=io.StringIO())


def assert_figures(result, tmp_path, names):
    saved = {path.rsplit("/", 1)[-1][:-4] for path, _ in result.figures}
    assert set(names) <= saved, f"missing figures {set(names) - saved}"
    for path, caption in result.figures:
        data = (tmp_path / path).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 1000, path
        assert caption


def test_importing_seed003_registers_all_its_lessons():
    import mlplab.lessons.seed003  # noqa: F401  (the runner imports exactly this module)

    for name in SEED003_LESSONS:
        assert name in LESSONS
        assert LESSONS[name].seed.startswith("003_")


def test_wiggliness_measures():
    x = np.linspace(0, 2 * np.pi, 201)
    assert total_variation(np.sin(x)) == pytest.approx(4.0, abs=1e-3)  # up 1, down 2, up 1
    assert turning_points(np.sin(x)) == 2
    assert total_variation([3.0, 1.0, 2.0]) == pytest.approx(3.0)
    line = np.linspace(5, -2, 50)
    assert total_variation(line) == pytest.approx(7.0) and turning_points(line) == 0


def test_logistic_regression_finds_the_true_line(tmp_path):
    result = run_quick("logistic-regression", tmp_path)
    n = result.numbers
    assert n["train_accuracy"] >= 0.95
    assert n["slope"] == pytest.approx(-0.8, abs=0.15)  # true boundary x2 = -0.8 x1 + 3
    assert n["intercept"] == pytest.approx(3.0, abs=0.5)
    assert len([line for line in result.lines if line.startswith("Epoch ")]) == 10
    assert_figures(result, tmp_path, ["decision_line"])
    # Deterministic: a second run gives the same numbers bit for bit.
    assert run_quick("logistic-regression", tmp_path).numbers == n


def test_hidden_space_makes_the_parabola_linearly_separable(tmp_path):
    result = run_quick("hidden-space", tmp_path)
    n = result.numbers
    assert n["train_accuracy"] >= 0.9
    # The output neuron's line in (z1, z2), computed from the weights, classifies exactly like the network.
    assert n["hidden_line_accuracy"] == pytest.approx(n["train_accuracy"], abs=1e-3)
    # One line in input space does clearly worse than one line in hidden space.
    assert n["single_neuron_accuracy"] < n["train_accuracy"] - 0.05
    assert_figures(result, tmp_path, ["data", "hidden_space"])


@pytest.mark.slow
def test_relu_pieces_fit_the_cubic_better_as_units_grow(tmp_path):
    result = run_quick("relu-approximation", tmp_path)
    n = result.numbers
    assert n["mse_k1"] > n["mse_k2"] > n["mse_k4"] > n["mse_k100"]
    assert n["mse_k100"] < 0.01
    _, y = cubic(1000, seed=0)
    assert n["mse_predicting_zero"] == pytest.approx(float(np.mean(y ** 2)))
    if n["dead_units_k1"] == 1:  # a dead single unit makes the network output 0 everywhere
        assert n["mse_k1"] == pytest.approx(n["mse_predicting_zero"], rel=1e-5)
    # The seed prints the weights of the 1- and 2-unit networks: 3 lines each.
    assert sum(line.startswith("Coefficients (Weights):") for line in result.lines) == 4
    assert sum(line.startswith("Intercepts (Biases):") for line in result.lines) == 2
    assert_figures(result, tmp_path, ["relu_shapes", "relu_pieces_1", "relu_pieces_2", "relu_pieces_4",
                                      "relu_pieces_100"])


@pytest.mark.slow
def test_mnist_quick_mode_learns_digits(tmp_path):
    result = run_quick("mnist", tmp_path)
    n = result.numbers
    assert n["train_images"] == 10_000 and n["epochs"] == 2
    assert n["test_accuracy"] >= 0.90
    assert n["seconds_per_epoch"] > 0
    assert n["sample_index"] == int(np.random.default_rng(0).choice(10_000))  # seeded, reproducible
    assert f"Prediction : {n['sample_prediction']}" in result.lines
    assert "(60000, 28, 28)" in result.lines and "(10000,)" in result.lines
    assert_figures(result, tmp_path, ["train_image_5", "prediction"])


@pytest.mark.slow
def test_overfitting_base_memorises_and_dropout_stays_smooth(tmp_path):
    result = run_quick("overfitting-regularization", tmp_path)
    n = result.numbers
    _, y = overfitting_points()
    assert n["data_total_variation"] == pytest.approx(float(np.abs(np.diff(y[:, 0])).sum()))
    # The base network passes (nearly) through the 10 points, so its curve travels at least as far as they do.
    assert n["mse_base"] < 0.05
    assert n["total_variation_base"] > 0.95 * n["data_total_variation"]
    # Dropout, 200 epochs: higher training error, a smoother curve.
    assert n["mse_dropout"] > 10 * n["mse_base"]
    assert n["total_variation_dropout"] < 0.6 * n["total_variation_base"]
    assert n["turning_points_dropout"] < n["turning_points_base"]
    assert np.isfinite([n["mse_bn"], n["train_mode_loss_bn"], n["total_variation_bn"]]).all()
    assert_figures(result, tmp_path, ["fit_base", "fit_bn", "fit_dropout"])
    assert any("how to implement" in p for p in result.paragraphs)
