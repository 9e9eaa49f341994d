"""Lessons for seeds 000-002, run in quick mode: their key numbers against the seeds' claims, their
figures, and the programs they reproduce checked against independent oracles (PyTorch, the seed's code)."""
from __future__ import annotations

import io

import numpy as np
import pytest

import mlplab as ml
from mlplab.datasets import logic_gate
from mlplab.lessons import run_lesson

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run(name, tmp_path_factory):
    out_dir = tmp_path_factory.mktemp(name)
    return run_lesson(name, out_dir=out_dir, quick=True, stream=io.StringIO()), out_dir


def _assert_figures(result, out_dir, names):
    written = {path for path, _ in result.figures}
    for name in names:
        relative = f"{result.name}/{name}.png"
        assert relative in written
        data = (out_dir / relative).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5_000


# ---- seed 000: logic gates and XOR -------------------------------------------------------------------
@pytest.fixture(scope="module")
def xor_lesson(tmp_path_factory):
    return _run("logic-gates-xor", tmp_path_factory)


@pytest.mark.slow
def test_and_or_need_one_neuron(xor_lesson):
    numbers = xor_lesson[0].numbers
    for gate in ("and", "or"):
        assert numbers[f"{gate}_perceptron_accuracy"] == 1.0
        assert numbers[f"{gate}_neuron_accuracy"] == 1.0


@pytest.mark.slow
def test_xor_without_hidden_layer_outputs_one_half(xor_lesson):
    numbers = xor_lesson[0].numbers
    # The seed: [0.5, 0.5, 0.5, 0.5] -> [0, 0, 0, 0] -> 50% accuracy.
    np.testing.assert_allclose(numbers["xor_no_hidden_outputs"], 0.5, atol=0.05)
    assert numbers["xor_no_hidden_accuracy"] == 0.5
    assert "=> all are not > 0.5 => [0, 0, 0, 0]" in "\n".join(xor_lesson[0].lines)


@pytest.mark.slow
def test_hand_set_weights_reproduce_the_seed_table(xor_lesson):
    result = xor_lesson[0]
    # The seed's table: y1 = [0, 0, 0, 1] (AND-like), y2 = [1, 0, 0, 0] (NOR-like), ȳ = XOR.
    assert result.numbers["hand_set_hidden"] == [[0, 1], [0, 0], [0, 0], [1, 0]]
    assert [round(v) for v in result.numbers["hand_set_outputs"]] == [0, 1, 1, 0]
    rows = [" 0 |  0 |  0 |  1 | 0 |  0", " 0 |  1 |  0 |  0 | 1 |  1",
            " 1 |  0 |  0 |  0 | 1 |  1", " 1 |  1 |  1 |  0 | 0 |  0"]
    for row in rows:
        assert row in result.lines


@pytest.mark.slow
def test_hand_set_outputs_match_a_direct_computation(xor_lesson):
    x, _ = logic_gate("xor")
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    y1, y2 = sigmoid(5 * x[:, 0] + 5 * x[:, 1] - 8), sigmoid(-7 * x[:, 0] - 7 * x[:, 1] + 3)
    expected = sigmoid(-11 * y1 - 11 * y2 + 6)
    np.testing.assert_allclose(xor_lesson[0].numbers["hand_set_outputs"], expected, rtol=1e-5)


@pytest.mark.slow
def test_xor_2_3_1_network_learns_xor(xor_lesson):
    numbers = xor_lesson[0].numbers
    outputs = np.array(numbers["xor_hidden_outputs"])
    assert (outputs > 0.5).astype(int).tolist() == [0, 1, 1, 0]
    assert np.all(np.abs(outputs - [0, 1, 1, 0]) < 0.05)  # like the seed's [0.0014, 0.9953, 0.9932, 0.0079]
    assert numbers["xor_hidden_accuracy"] == 1.0
    assert numbers["wide_accuracy"] == 1.0 and numbers["deep_accuracy"] == 1.0


@pytest.mark.slow
def test_deep_sigmoid_gradient_vanishes_and_relu_does_not(xor_lesson):
    numbers = xor_lesson[0].numbers
    assert numbers["sigmoid_gradient_ratio"] < 1e-3
    assert numbers["relu_gradient_ratio"] > 1e-2
    assert numbers["relu_gradient_ratio"] / numbers["sigmoid_gradient_ratio"] > 1e3
    assert numbers["sigmoid_deep_accuracy"] == 0.5 and numbers["relu_deep_accuracy"] == 1.0


@pytest.mark.slow
def test_xor_lesson_figures(xor_lesson):
    _assert_figures(*xor_lesson, ["decision_boundaries", "gradient_norms"])


def test_xor_network_follows_the_seed_pytorch_program():
    """The seed's loop in PyTorch (float64) from mlplab's initial weights: same outputs after 300 steps."""
    torch = pytest.importorskip("torch")
    from mlplab.lessons.seed000 import sigmoid_net

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # 4x1 tensors: one thread is faster, above all on a busy machine
    try:
        _compare_with_torch(torch, sigmoid_net)
    finally:
        torch.set_num_threads(threads)


def _compare_with_torch(torch, sigmoid_net):
    x, y = logic_gate("xor")
    y = y.reshape(-1, 1).astype(np.float64)
    model = sigmoid_net((2, 3, 1), seed=0, learning_rate=0.5, dtype="float64")
    model.build((2,))
    W_h, b_h, W_o, b_o = (torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in model.get_weights())
    optimizer = torch.optim.SGD([W_h, W_o, b_h, b_o], lr=0.5)
    x_train, y_train = torch.tensor(x), torch.tensor(y)
    for step in range(300):
        HL1 = torch.sigmoid(torch.matmul(x_train, W_h) + b_h)
        prediction = torch.sigmoid(torch.matmul(HL1, W_o) + b_o)
        cost = torch.mean((-1) * ((y_train * torch.log(prediction) + (1 - y_train) * torch.log(1 - prediction))))
        optimizer.zero_grad()
        cost.backward()
        optimizer.step()
        ml.train_step(model, x, y)
    for ours, theirs in zip(model.get_weights(), (W_h, b_h, W_o, b_o)):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-9, atol=1e-12)


# ---- seed 001: linear model vs MLP on three classes ---------------------------------------------------
@pytest.fixture(scope="module")
def three_class_lesson(tmp_path_factory):
    return _run("three-class-mlp", tmp_path_factory)


def test_mlp_beats_the_linear_model(three_class_lesson):
    numbers = three_class_lesson[0].numbers
    assert numbers["mlp_test_accuracy"] >= 0.85
    assert numbers["linear_test_accuracy"] <= 0.7
    assert numbers["mlp_test_accuracy"] - numbers["linear_test_accuracy"] >= 0.2
    assert numbers["mlp_final_train_loss"] < numbers["linear_final_train_loss"]
    assert numbers["mlp_final_val_loss"] < numbers["linear_final_val_loss"]
    # The MLP's test accuracy improves over training (first log vs last log).
    assert numbers["mlp_accuracy_log"][-1] > numbers["mlp_accuracy_log"][0] + 0.2


def test_accuracy_is_printed_like_the_seed(three_class_lesson):
    result = three_class_lesson[0]
    lines = [line for line in result.lines if line.startswith("Epoch:  ")]
    assert len(lines) == 2 * 20  # both models, every epoch // 20 epochs
    assert lines[0].startswith("Epoch:  0 Accuracy:  ") and lines[0].endswith(" %")
    last = float(lines[-1].split("Accuracy:  ")[1].rstrip(" %"))
    assert last == pytest.approx(result.numbers["mlp_accuracy_log"][-1] * 100)


def test_three_class_lesson_figures(three_class_lesson):
    _assert_figures(*three_class_lesson, ["curves", "scatter_mlp", "scatter_linear"])


def test_three_class_lesson_is_deterministic(three_class_lesson, tmp_path):
    again = run_lesson("three-class-mlp", out_dir=None, quick=True, stream=io.StringIO())
    assert again.numbers == three_class_lesson[0].numbers


def test_torch_style_linear_init_bounds():
    from mlplab.lessons.seed001 import mlp_model

    model = ml.Sequential(mlp_model(), seed=0)
    w1, b1, w2, b2 = model.get_weights()
    assert w1.shape == (2, 200) and w2.shape == (200, 3)
    for w, fan_in in ((w1, 2), (b1, 2), (w2, 200), (b2, 200)):
        bound = 1 / np.sqrt(fan_in)  # U(-1/√fan_in, 1/√fan_in)
        assert np.abs(w).max() <= bound
        if w.size >= 200:  # enough draws to come close to the bound, on both sides
            assert w.max() > 0.9 * bound and w.min() < -0.9 * bound


# ---- seed 002: two-layer perceptron, zero init, vectorization -------------------------------------------
@pytest.fixture(scope="module")
def two_layer_lesson(tmp_path_factory):
    return _run("two-layer-perceptron", tmp_path_factory)


def test_mlplab_matches_the_seed_numpy_class(two_layer_lesson):
    numbers = two_layer_lesson[0].numbers
    assert numbers["max_weight_difference"] <= 1e-6
    assert numbers["max_weight_difference_random_init"] <= 1e-6
    assert numbers["zero_init_test_accuracy"] == pytest.approx(numbers["reference_test_accuracy"])


def test_zero_init_keeps_hidden_units_identical(two_layer_lesson):
    numbers = two_layer_lesson[0].numbers
    assert numbers["zero_init_spread"] == 0.0
    assert numbers["random_init_spread"] > 0.1
    # On this XOR-like layout one effective hidden unit (one line) cannot do what four can.
    assert numbers["random_init_test_accuracy"] > numbers["zero_init_test_accuracy"]
    assert numbers["random_init_train_accuracy"] > numbers["zero_init_train_accuracy"]


def test_vectorization_table(two_layer_lesson):
    result = two_layer_lesson[0]
    numbers = result.numbers
    assert numbers["list_size"] == 10**5
    assert numbers["loop_value"] == pytest.approx(numbers["vectorized_value"], rel=1e-10)
    assert numbers["listcomp_product_value"] == pytest.approx(numbers["vectorized_value"], rel=1e-10)
    # The seed's listcomp adds instead of multiplying: it returns sum(a) + sum(b).
    assert numbers["listcomp_value"] == pytest.approx(numbers["sum_a_plus_sum_b"], rel=1e-10)
    assert numbers["listcomp_value"] > 3 * numbers["vectorized_value"]
    assert numbers["vectorized_speedup"] > 10
    assert numbers["vectorized_speedup"] == pytest.approx(numbers["loop_ms"] / numbers["vectorized_ms"])
    assert any("loop()" in line and "listcomp()" in line and "vectorized()" in line for line in result.lines)


def test_two_layer_lesson_figures(two_layer_lesson):
    _assert_figures(*two_layer_lesson, ["training_set", "decision_boundaries"])

