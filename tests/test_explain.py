"""explain_step: the recorded forward/backward/update against hand NumPy, finite differences, PyTorch and the model."""
import argparse
import json

import numpy as np
import pytest

import mlplab as ml
from mlplab.cli.explain import add_parser, cli_main
from mlplab.explain import (XOR_X, XOR_Y, Trace, build_network, demo_network, explain_default,
                            explain_step, parse_layers)
from numerics import numerical_gradient

X = np.array(XOR_X)
Y = np.array(XOR_Y)
W1 = np.array([[0.5, -0.3, 0.8], [0.2, 0.7, -0.6]])
B1 = np.array([0.1, -0.2, 0.05])
W2 = np.array([[1.2], [-0.7], [0.4]])
B2 = np.array([-0.1])
LR = 0.5


def xor_model(dtype="float64", lr=LR):
    model = ml.Sequential([ml.Dense(3, "sigmoid", input_dim=2), ml.Dense(1, "sigmoid")], dtype=dtype)
    model.compile(optimizer=ml.SGD(lr), loss="binary_crossentropy")
    model.set_weights([W1, B1, W2, B2])
    return model


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def bce(params):
    w1, b1, w2, b2 = params
    p = sigmoid(sigmoid(X @ w1 + b1) @ w2 + b2)
    return float(np.mean(-(Y * np.log(p) + (1 - Y) * np.log(1 - p))))


def finite_differences(f, params, eps=1e-6):
    return [numerical_gradient(f, array, eps) for array in params]


def test_trace_equals_hand_numpy_forward_and_backward():
    trace = explain_step(xor_model(), X, Y)
    first, second = trace.layers
    n = len(X)
    # forward
    z1 = X @ W1 + B1
    a1 = sigmoid(z1)
    z2 = a1 @ W2 + B2
    a2 = sigmoid(z2)
    # backward: BCE's dL/da2, then δ = dL/da ⊙ a(1 − a), dW = a_prevᵀ·δ, db = Σ δ, dL/da_prev = δ·Wᵀ
    grad_a2 = (a2 - Y) / (a2 * (1 - a2)) / n
    delta2 = (a2 - Y) / n
    grad_w2, grad_b2 = a1.T @ delta2, delta2.sum(axis=0)
    grad_a1 = delta2 @ W2.T
    delta1 = grad_a1 * a1 * (1 - a1)
    grad_w1, grad_b1 = X.T @ delta1, delta1.sum(axis=0)
    grad_x = delta1 @ W1.T
    close = {"rtol": 1e-10, "atol": 1e-13}

    np.testing.assert_allclose(first.input, X, **close)
    np.testing.assert_allclose(first.params_before["weight"], W1, **close)
    np.testing.assert_allclose(first.params_before["bias"], B1, **close)
    np.testing.assert_allclose(first.z, z1, **close)
    np.testing.assert_allclose(first.output, a1, **close)
    np.testing.assert_allclose(second.input, a1, **close)
    np.testing.assert_allclose(second.z, z2, **close)
    np.testing.assert_allclose(second.output, a2, **close)
    np.testing.assert_allclose(trace.output, a2, **close)
    assert trace.loss == pytest.approx(bce([W1, B1, W2, B2]), rel=1e-12)

    np.testing.assert_allclose(second.grad_output, grad_a2, **close)
    np.testing.assert_allclose(second.activation_derivative, a2 * (1 - a2), **close)
    np.testing.assert_allclose(second.delta, delta2, **close)
    np.testing.assert_allclose(second.delta, second.grad_output * second.activation_derivative, rtol=1e-9)
    np.testing.assert_allclose(second.grads["weight"], grad_w2, **close)
    np.testing.assert_allclose(second.grads["bias"], grad_b2, **close)
    np.testing.assert_allclose(second.grad_input, grad_a1, **close)
    np.testing.assert_allclose(first.grad_output, grad_a1, **close)
    np.testing.assert_allclose(first.activation_derivative, a1 * (1 - a1), **close)
    np.testing.assert_allclose(first.delta, delta1, **close)
    np.testing.assert_allclose(first.grads["weight"], grad_w1, **close)
    np.testing.assert_allclose(first.grads["bias"], grad_b1, **close)
    np.testing.assert_allclose(first.grad_input, grad_x, **close)
    assert trace.fused and trace.max_difference == 0.0


def test_trace_gradients_equal_finite_differences_and_gradcheck():
    model = xor_model()
    assert ml.gradcheck(model, X, Y).ok  # the model's own backward is right...
    trace = explain_step(model, X, Y)
    params = [W1.copy(), B1.copy(), W2.copy(), B2.copy()]
    numerical = finite_differences(lambda: bce(params), params)
    traced = [trace.layers[0].grads["weight"], trace.layers[0].grads["bias"],
              trace.layers[1].grads["weight"], trace.layers[1].grads["bias"]]
    for mine, expected in zip(traced, numerical):  # ...and so is the trace
        np.testing.assert_allclose(mine, expected, rtol=1e-6, atol=1e-9)


def test_the_step_is_really_taken():
    model = xor_model()
    trace = explain_step(model, X, Y, learning_rate=0.3)
    assert trace.learning_rate == 0.3 and trace.updated
    expected = []
    for layer in trace.layers:
        for key in ("weight", "bias"):
            new = layer.params_before[key] - 0.3 * layer.grads[key]
            np.testing.assert_allclose(layer.params_after[key], new, rtol=1e-12, atol=1e-15)
            expected.append(new)
    for actual, new in zip(model.get_weights(), expected):
        np.testing.assert_allclose(actual, new, rtol=1e-12, atol=1e-15)
    assert trace.loss_after < trace.loss  # a small gradient step goes downhill


def test_the_step_equals_train_step_with_sgd():
    explained, reference = xor_model(lr=0.2), xor_model(lr=0.2)
    trace = explain_step(explained, X, Y)  # the learning rate defaults to the compiled optimizer's
    assert trace.learning_rate == pytest.approx(0.2)
    loss, _ = ml.train_step(reference, X, Y)
    assert trace.loss == pytest.approx(loss, rel=1e-12)
    for a, b in zip(explained.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_update_false_leaves_the_parameters_alone():
    model = xor_model()
    trace = explain_step(model, X, Y, update=False)
    assert not trace.updated and trace.layers[0].params_after is None
    for actual, original in zip(model.get_weights(), [W1, B1, W2, B2]):
        np.testing.assert_array_equal(actual, original)
    assert "not applied" in trace.to_text()


@pytest.mark.slow  # importing torch alone takes several seconds
def test_matches_pytorch_on_the_seed_000_network():
    torch = pytest.importorskip("torch")
    model, x, y = demo_network(seed=3, dtype="float64")
    w1, b1, w2, b2 = (torch.tensor(w, requires_grad=True) for w in model.get_weights())
    trace = explain_step(model, x, y)
    # Seed 000's code: sigmoid(sigmoid(x W_h + b_h) W_o + b_o), mean BCE, SGD lr 0.01.
    xt, yt = torch.tensor(x), torch.tensor(y)
    prediction = torch.sigmoid(torch.matmul(torch.sigmoid(torch.matmul(xt, w1) + b1), w2) + b2)
    cost = torch.mean(-1 * (yt * torch.log(prediction) + (1 - yt) * torch.log(1 - prediction)))
    optimizer = torch.optim.SGD([w1, b1, w2, b2], lr=0.01)
    optimizer.zero_grad()
    cost.backward()
    traced = [trace.layers[0].grads["weight"], trace.layers[0].grads["bias"],
              trace.layers[1].grads["weight"], trace.layers[1].grads["bias"]]
    for mine, theirs in zip(traced, (w1, b1, w2, b2)):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), rtol=1e-10, atol=1e-13)
    optimizer.step()
    for mine, theirs in zip(model.get_weights(), (w1, b1, w2, b2)):
        np.testing.assert_allclose(mine, theirs.detach().numpy(), rtol=1e-12, atol=1e-14)
    assert trace.loss == pytest.approx(cost.item(), rel=1e-10)


def _numerical_model_grads(model, loss, x, y):
    def objective():
        return loss.forward(y, model.forward(x, training=True)) + model.regularization_loss()
    params = [layer.params[key] for layer in model.layers for key in layer.params]
    return finite_differences(objective, params)


def _models():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(6, 3))
    labels = np.array([0, 1, 2, 1, 0, 2])
    return {
        "tanh-relu-mse": ([ml.Dense(4, "tanh", input_dim=3), ml.Dense(3, "relu"), ml.Dense(2)], "mse",
                          x, rng.normal(size=(6, 2))),
        "softmax-cce": ([ml.Dense(5, "elu", input_dim=3), ml.Dense(3, "softmax")], "categorical_crossentropy",
                        x, np.eye(3)[labels]),
        "softmax-sparse": ([ml.Dense(4, "leaky_relu", input_dim=3), ml.Dense(3, "softmax")],
                           "sparse_categorical_crossentropy", x, labels),
        "batchnorm-activation-l2": ([ml.Dense(4, input_dim=3, kernel_regularizer=ml.L2(0.1)),
                                     ml.BatchNormalization(), ml.Activation("softplus"), ml.Dense(1, "sigmoid")],
                                    "binary_crossentropy", x, (labels > 0).astype(float)),
        "sigmoid-mse": ([ml.Dense(3, "sigmoid", input_dim=3), ml.Dense(1, "sigmoid")], "mse", x,
                        (labels > 0).astype(float)),
    }


@pytest.mark.parametrize("name", sorted(_models()))
def test_trace_gradients_equal_finite_differences_for_other_networks(name):
    layers, loss, x, y = _models()[name]
    model = ml.Sequential(layers, seed=1, dtype="float64")
    model.compile(optimizer="sgd", loss=loss)
    probe = ml.Sequential(_models()[name][0], seed=1, dtype="float64")  # same layers, same seed: same weights
    for a, b in zip(probe.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    targets = ml.training.check_targets(model, x, y)
    numerical = _numerical_model_grads(probe, ml.get_loss(loss), x, targets)
    trace = explain_step(model, x, y, learning_rate=0.1)
    traced = [record.grads[key] for record in trace.layers for key in record.grads]
    assert len(traced) == len(numerical)
    for mine, expected in zip(traced, numerical):
        np.testing.assert_allclose(mine, expected, rtol=1e-5, atol=1e-8)
    assert trace.max_difference == 0.0
    for record in trace.layers:
        for key in record.params_before:
            np.testing.assert_allclose(record.params_after[key],
                                       record.params_before[key] - 0.1 * record.grads[key], rtol=1e-12, atol=1e-15)


def test_dropout_model_trace_agrees_with_the_model():
    model = ml.Sequential([ml.Dense(8, "relu", input_dim=2), ml.Dropout(0.5), ml.Dense(1, "sigmoid")], seed=0)
    model.compile(optimizer=ml.SGD(0.1), loss="binary_crossentropy")
    trace = explain_step(model, X, Y)
    assert trace.max_difference == 0.0
    dropout = trace.layers[1]
    kept = dropout.output != 0
    np.testing.assert_allclose(dropout.output[kept], 2 * dropout.input[kept], rtol=1e-6)
    assert trace.loss_after is None  # not comparable: dropout is random
    assert "layer 2 (dropout)" in trace.to_text(arrays=False)


def test_to_text_shows_every_layer_with_shapes():
    trace = explain_step(xor_model(), X, Y)
    text = trace.to_text(precision=3)
    for expected in ["FORWARD PASS", "BACKWARD PASS", "UPDATE", "layer 1 (dense)", "layer 2 (dense_1)",
                     "z1 = x·W1 + b1   (4, 2)·(2, 3) + (3,) → (4, 3)",
                     "z2 = a1·W2 + b2   (4, 3)·(3, 1) + (1,) → (4, 1)",
                     "a1 = sigmoid(z1)   (4, 3)", "dL/dW2 = a1ᵀ·δ2   (3, 4)·(4, 1) → (3, 1)",
                     "dL/dW1 = xᵀ·δ1   (2, 4)·(4, 3) → (2, 3)", "dL/da1 = δ2·W2ᵀ", "dL/dx = δ1·W1ᵀ",
                     "δ1 = dL/dz1 = dL/da1 ⊙ f'(z1)", "f'(z1) = a1 ⊙ (1 − a1)", "W1 ← W1 − 0.5·dL/dW1",
                     "memory:", "layer.input", "max |difference| = 0"]:
        assert expected in text, expected
    # the arrays are there, at the requested precision
    assert np.array2string(trace.layers[0].grads["weight"], precision=3, suppress_small=True,
                           floatmode="maxprec").splitlines()[0] in text
    assert str(trace) == trace.to_text()
    short = trace.to_text(arrays=False)
    assert "[[" not in short and "(4, 3)" in short


def test_to_dict_is_json_serialisable_and_complete():
    trace = explain_step(xor_model(), X, Y)
    data = trace.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["architecture"] == "2-3-1" and data["loss_name"] == "binary_crossentropy"
    assert len(data["layers"]) == 2
    layer = data["layers"][0]
    assert layer["forward"]["z"]["shape"] == [4, 3]
    np.testing.assert_array_equal(np.array(layer["backward"]["grads"]["weight"]["values"]),
                                  trace.layers[0].grads["weight"])
    np.testing.assert_array_equal(np.array(layer["params_after"]["bias"]["values"]),
                                  trace.layers[0].params_after["bias"])
    assert layer["memory"]


def test_explain_default_is_the_seed_000_network():
    trace = explain_default()
    assert isinstance(trace, Trace)
    assert trace.architecture == "2-3-1" and trace.loss_name == "binary_crossentropy"
    assert trace.learning_rate == pytest.approx(0.01)
    assert [layer.activation for layer in trace.layers] == ["sigmoid", "sigmoid"]
    np.testing.assert_array_equal(trace.x, X)
    np.testing.assert_array_equal(trace.y, Y)
    again = explain_default()
    np.testing.assert_array_equal(trace.layers[0].params_before["weight"], again.layers[0].params_before["weight"])
    assert not np.array_equal(trace.layers[0].params_before["weight"],
                              explain_default(seed=1).layers[0].params_before["weight"])


def test_spec_builds_a_network_with_default_data():
    trace = explain_step("3-4-2", loss="categorical_crossentropy", activation="tanh", seed=2)
    assert trace.architecture == "3-4-2"
    assert [layer.activation for layer in trace.layers] == ["tanh", "softmax"]
    assert trace.x.shape == (4, 3) and trace.y.shape == (4, 2)
    np.testing.assert_array_equal(trace.y.sum(axis=1), 1)  # one-hot targets
    assert parse_layers("2-3-1") == [2, 3, 1] and parse_layers([4, 2]) == [4, 2]
    model = build_network("2-2-2-1", "relu", "mse", 0.05, seed=0)
    assert model.compiled and [layer.units for layer in model.layers] == [2, 2, 1]
    assert ml.activations.activation_name(model.layers[-1].activation) == "linear"


def test_uncompiled_model_with_a_loss_argument():
    model = ml.Sequential([ml.Dense(2, "tanh", input_dim=2), ml.Dense(1)], seed=0, dtype="float64")
    trace = explain_step(model, X, Y, loss="mse", learning_rate=0.1)
    assert not model.compiled and not trace.fused
    assert trace.loss == pytest.approx(float(np.mean((trace.output - Y) ** 2)))


@pytest.mark.parametrize("call,error,pattern", [
    (lambda: explain_step(object(), X, Y), TypeError, "`model`"),
    (lambda: explain_step(xor_model(), None, Y), ValueError, "`x`"),
    (lambda: explain_step(xor_model(), X, None), ValueError, "`y`"),
    (lambda: explain_step(xor_model(), X, [[0, 1]] * 4), ValueError, "`y`"),
    (lambda: explain_step(xor_model(), [[0, 0, 1]], [[1]]), ValueError, "`x`"),
    (lambda: explain_step(xor_model(), X, Y, learning_rate=-1), ValueError, "`learning_rate`"),
    (lambda: explain_step(ml.Sequential([ml.Dense(1, input_dim=2)]), X, Y), ValueError, "`loss`"),
    (lambda: explain_step("2-x-1"), ValueError, "`layers`"),
    (lambda: explain_step("5"), ValueError, "`layers`"),
    (lambda: explain_step(xor_model(), X, Y, update="yes"), TypeError, "`update`"),
])
def test_bad_arguments(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_step_activation_cannot_be_backpropagated():
    model = ml.Sequential([ml.Dense(2, "step", input_dim=2), ml.Dense(1, "sigmoid")], seed=0)
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    with pytest.raises(ml.NoGradientError, match="Perceptron"):
        explain_step(model, X, Y)


def test_cli_main_prints_the_default_trace(capsys):
    assert cli_main([]) == 0
    out = capsys.readouterr().out
    assert out.strip() == explain_default().to_text()
    assert "layer 1 (dense)" in out and "layer 2 (dense_1)" in out and "(4, 2)·(2, 3) + (3,) → (4, 3)" in out


def test_cli_main_options_and_json(capsys):
    assert cli_main(["--layers", "3-5-2", "--activation", "relu", "--loss", "categorical_crossentropy",
                     "--lr", "0.1", "--seed", "4", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["architecture"] == "3-5-2" and data["learning_rate"] == 0.1
    assert [layer["activation"] for layer in data["layers"]] == ["relu", "softmax"]


def test_cli_main_reports_bad_arguments(capsys):
    assert cli_main(["--layers", "2-0-1"]) == 2
    assert "`layers`" in capsys.readouterr().err
    assert cli_main(["--loss", "hinge"]) == 2
    assert "Unknown loss 'hinge'" in capsys.readouterr().err


def test_add_parser_plugs_into_a_cli(capsys):
    parser = argparse.ArgumentParser(prog="mlplab")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["explain", "--precision", "2"])
    assert args.run(args) == 0
    out = capsys.readouterr().out
    assert out.strip() == explain_default().to_text(precision=2)
