"""Training end to end: a step worked by hand, determinism, XOR, and what fit/evaluate/predict promise."""
import copy
import math

import numpy as np
import pytest

import mlplab as ml
from mlplab.engine import fused_loss_name


def blobs(n=120, n_features=2, seed=0):
    """Two Gaussian blobs, labels 0/1 (float column vector)."""
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 2).astype(float)
    x = rng.normal(size=(n, n_features)) + 2.0 * y[:, None]
    return x, y.reshape(-1, 1)


def three_classes(n=90, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    x = rng.normal(size=(n, 4)) + np.eye(3, 4)[labels] * 3
    return x, labels


# -- a step worked by hand ------------------------------------------------------------------------------

def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


def test_one_sgd_step_on_a_2_2_1_sigmoid_network_worked_by_hand():
    """The classic worked example (inputs 0.05, 0.10; target 0.01) with a single sigmoid output and
    L = (a2 − y)² (MSE over one element), learning rate 0.5. Weights are named w[input][unit]."""
    x1, x2, y = 0.05, 0.10, 0.01
    w11, w12 = 0.15, 0.25  # input 1 -> hidden units 1, 2
    w21, w22 = 0.20, 0.30  # input 2 -> hidden units 1, 2
    b1, b2 = 0.35, 0.35    # hidden biases
    v1, v2, c = 0.40, 0.45, 0.60  # hidden units 1, 2 -> output; output bias
    lr = 0.5

    # Forward.
    z1_1 = w11 * x1 + w21 * x2 + b1
    z1_2 = w12 * x1 + w22 * x2 + b2
    assert (z1_1, z1_2) == pytest.approx((0.3775, 0.3925))
    a1_1, a1_2 = sigmoid(z1_1), sigmoid(z1_2)
    assert (a1_1, a1_2) == pytest.approx((0.593269992, 0.596884378), abs=1e-9)
    z2 = v1 * a1_1 + v2 * a1_2 + c
    a2 = sigmoid(z2)
    assert (z2, a2) == pytest.approx((1.105905967, 0.751365070), abs=1e-9)
    loss = (a2 - y) ** 2
    assert loss == pytest.approx(0.549622166, abs=1e-9)

    # Backward: output delta, then each hidden unit's delta through its weight and σ' = a(1 − a).
    delta2 = 2 * (a2 - y) * a2 * (1 - a2)
    assert delta2 == pytest.approx(0.276997123, abs=1e-9)
    grad_v1, grad_v2, grad_c = delta2 * a1_1, delta2 * a1_2, delta2
    delta1_1 = delta2 * v1 * a1_1 * (1 - a1_1)
    delta1_2 = delta2 * v2 * a1_2 * (1 - a1_2)
    grad_w11, grad_w21, grad_b1 = delta1_1 * x1, delta1_1 * x2, delta1_1
    grad_w12, grad_w22, grad_b2 = delta1_2 * x1, delta1_2 * x2, delta1_2

    # Update: w ← w − lr·dL/dw (all gradients use the old weights).
    expected = [
        np.array([[w11 - lr * grad_w11, w12 - lr * grad_w12],
                  [w21 - lr * grad_w21, w22 - lr * grad_w22]]),
        np.array([b1 - lr * grad_b1, b2 - lr * grad_b2]),
        np.array([[v1 - lr * grad_v1], [v2 - lr * grad_v2]]),
        np.array([c - lr * grad_c]),
    ]
    assert expected[2][0, 0] == pytest.approx(0.317832959, abs=1e-9)
    assert expected[0][0, 0] == pytest.approx(0.149331604, abs=1e-9)

    model = ml.Sequential([ml.Dense(2, "sigmoid", input_dim=2), ml.Dense(1, "sigmoid")], seed=0, dtype="float64")
    model.set_weights([np.array([[w11, w12], [w21, w22]]), np.array([b1, b2]),
                       np.array([[v1], [v2]]), np.array([c])])
    model.compile(optimizer=ml.SGD(learning_rate=lr), loss="mse")
    history = model.fit(np.array([[x1, x2]]), np.array([[y]]), epochs=1, batch_size=None, shuffle=False,
                        verbose=0)
    assert history.history["loss"] == [pytest.approx(loss, rel=1e-12)]
    for got, want in zip(model.get_weights(), expected):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_one_full_batch_sgd_step_averages_the_gradient_over_samples():
    """Same network in matrix form on two samples: MSE divides by N = 2, so do the gradients."""
    x = np.array([[0.05, 0.10], [0.50, -0.20]])
    y = np.array([[0.01], [0.99]])
    W1, b1 = np.array([[0.15, 0.25], [0.20, 0.30]]), np.array([0.35, 0.35])
    W2, b2 = np.array([[0.40], [0.45]]), np.array([0.60])
    lr = 0.5
    a1 = 1 / (1 + np.exp(-(x @ W1 + b1)))
    a2 = 1 / (1 + np.exp(-(a1 @ W2 + b2)))
    delta2 = 2 * (a2 - y) / 2 * a2 * (1 - a2)
    delta1 = (delta2 @ W2.T) * a1 * (1 - a1)
    expected = [W1 - lr * x.T @ delta1, b1 - lr * delta1.sum(0), W2 - lr * a1.T @ delta2, b2 - lr * delta2.sum(0)]

    model = ml.Sequential([ml.Dense(2, "sigmoid", input_dim=2), ml.Dense(1, "sigmoid")], dtype="float64")
    model.set_weights([W1, b1, W2, b2])
    model.compile(ml.SGD(lr), "mse")
    model.fit(x, y, epochs=1, batch_size=None, shuffle=False, verbose=0)
    for got, want in zip(model.get_weights(), expected):
        np.testing.assert_allclose(got, want, rtol=1e-12)


# -- determinism and dtype ------------------------------------------------------------------------------

def _train(seed, dtype="float32"):
    x, y = blobs(80, 3)
    model = ml.Sequential([ml.Dense(8, "relu"), ml.Dropout(0.3), ml.Dense(1, "sigmoid")], seed=seed, dtype=dtype)
    model.compile(ml.Adam(0.01), "binary_crossentropy", ["accuracy"])
    history = model.fit(x, y, epochs=3, batch_size=16, validation_split=0.25, shuffle=True, verbose=0)
    return model, history


def test_same_seed_gives_bit_identical_weights_and_history():
    (a, history_a), (b, history_b) = _train(7), _train(7)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        assert np.array_equal(wa, wb)
    assert history_a.history == history_b.history


def test_different_seed_gives_different_weights():
    a, _ = _train(7)
    b, _ = _train(8)
    assert not all(np.array_equal(wa, wb) for wa, wb in zip(a.get_weights(), b.get_weights()))


def test_training_does_not_touch_numpy_global_random_state():
    state = np.random.get_state()
    _train(1)
    after = np.random.get_state()
    assert state[0] == after[0] and np.array_equal(state[1], after[1]) and state[2:] == after[2:]


def test_float64_on_request_and_float32_by_default():
    model64, _ = _train(0, dtype="float64")
    model32, _ = _train(0)
    x = np.ones((2, 3))
    assert all(w.dtype == np.float64 for w in model64.get_weights())
    assert model64.predict(x).dtype == np.float64
    assert all(w.dtype == np.float32 for w in model32.get_weights())
    assert model32.predict(x.astype(np.float64)).dtype == np.float32


# -- XOR -------------------------------------------------------------------------------------------------

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([0, 1, 1, 0], dtype=float)


def test_xor_is_learned_by_a_2_3_1_sigmoid_network():
    model = ml.Sequential([ml.Dense(3, "sigmoid", input_dim=2), ml.Dense(1, "sigmoid")], seed=0)
    model.compile(optimizer=ml.SGD(learning_rate=2.0), loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(XOR_X, XOR_Y, epochs=1500, batch_size=None, verbose=0)
    predictions = model.predict(XOR_X).ravel()
    np.testing.assert_array_equal(np.round(predictions), XOR_Y)
    assert np.abs(predictions - XOR_Y).max() < 0.2
    assert history.history["accuracy"][-1] == 1.0
    assert history.history["loss"][-1] < 0.1 < history.history["loss"][0]


def test_xor_is_not_learned_without_a_hidden_layer():
    model = ml.Sequential([ml.Dense(1, "sigmoid", input_dim=2)], seed=0)
    model.compile(optimizer=ml.SGD(learning_rate=2.0), loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(XOR_X, XOR_Y, epochs=1500, batch_size=None, verbose=0)
    np.testing.assert_allclose(model.predict(XOR_X).ravel(), 0.5, atol=0.05)
    assert history.history["accuracy"][-1] <= 0.75
    assert history.history["loss"][-1] == pytest.approx(math.log(2), abs=0.01)


# -- fit / evaluate / predict -------------------------------------------------------------------------------

def test_fit_returns_a_history_with_one_value_per_epoch():
    x, y = blobs()
    model = ml.Sequential([ml.Dense(4, "tanh"), ml.Dense(1, "sigmoid")], seed=0)
    model.compile(ml.SGD(0.1), "binary_crossentropy", ["accuracy"])
    history = model.fit(x, y, epochs=4, batch_size=16, validation_split=0.2, verbose=0)
    assert isinstance(history, ml.History) and model.history is history
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(values) == 4 for values in history.history.values())
    assert history.epoch == [0, 1, 2, 3]
    assert all(0.0 <= a <= 1.0 for a in history.history["accuracy"] + history.history["val_accuracy"])
    assert history["loss"] is history.history["loss"]


def test_validation_split_is_shuffled_not_the_last_rows():
    # 90 samples of class 0, then the last 10 of class 1. A model that always says 0 has val_accuracy
    # = the fraction of class 0 in the held-out set: 0.0 if it were the last 10%.
    x = np.random.default_rng(0).normal(size=(100, 2))
    y = np.r_[np.zeros(90), np.ones(10)]
    model = ml.Sequential([ml.Dense(1, "sigmoid", input_dim=2, bias_initializer=ml.Constant(-20.0))], seed=0)
    model.compile(ml.SGD(learning_rate=0.0), "binary_crossentropy", ["accuracy"])
    assert np.all(model.predict(x) < 0.5)
    history = model.fit(x, y, epochs=1, validation_split=0.1, verbose=0)
    val_accuracy = history.history["val_accuracy"][0]
    assert 0.0 < val_accuracy < 1.0  # both classes are in the validation set
    train_accuracy = history.history["accuracy"][0]
    assert 90 * train_accuracy + 10 * val_accuracy == pytest.approx(90)  # and the split is a partition


def test_validation_data_is_evaluated_after_each_epoch():
    x, y = blobs(seed=0)
    x_val, y_val = blobs(40, seed=1)
    model = ml.Sequential([ml.Dense(4, "tanh"), ml.Dropout(0.5), ml.Dense(1, "sigmoid")], seed=0)
    model.compile(ml.SGD(0.1), "binary_crossentropy", ["accuracy"])
    history = model.fit(x, y, epochs=3, batch_size=16, validation_data=(x_val, y_val), verbose=0)
    final = model.evaluate(x_val, y_val)
    assert history.history["val_loss"][-1] == pytest.approx(final["loss"], rel=1e-6)
    assert history.history["val_accuracy"][-1] == final["accuracy"]
    assert len(set(history.history["val_loss"])) == 3  # it changed as the model trained


def count_batches(model, x, y, **kwargs):
    batches = []
    callback = ml.LambdaCallback(on_batch_end=lambda batch, logs: batches.append(batch))
    model.fit(x, y, callbacks=[callback], verbose=0, **kwargs)
    return batches


def test_batch_size_none_is_one_full_batch_step():
    x, y = blobs(50)
    model = ml.Sequential([ml.Dense(3, "tanh", input_dim=2), ml.Dense(1, "sigmoid")], seed=0)
    model.compile(ml.SGD(0.5), "binary_crossentropy")
    manual = copy.deepcopy(model)
    assert count_batches(model, x, y, epochs=2, batch_size=None) == [0, 0]
    for _ in range(2):
        ml.train_step(manual, x.astype(np.float32), y.astype(np.float32))
    for got, want in zip(model.get_weights(), manual.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    assert count_batches(model, x, y, epochs=1, batch_size=16) == [0, 1, 2, 3]
    assert count_batches(model, x, y, epochs=1, batch_size=1000) == [0]


def test_shuffle_false_visits_rows_in_order():
    x, y = blobs(12)
    model = ml.Sequential([ml.Dense(3, "tanh", input_dim=2), ml.Dense(1, "sigmoid")], seed=0)
    model.compile(ml.SGD(0.5), "binary_crossentropy")
    manual, shuffled = copy.deepcopy(model), copy.deepcopy(model)
    model.fit(x, y, epochs=1, batch_size=3, shuffle=False, verbose=0)
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    for start in range(0, 12, 3):
        ml.train_step(manual, x32[start:start + 3], y32[start:start + 3])
    for got, want in zip(model.get_weights(), manual.get_weights()):
        assert np.array_equal(got, want)
    shuffled.fit(x, y, epochs=1, batch_size=3, shuffle=True, verbose=0)
    assert not np.array_equal(shuffled.get_weights()[0], model.get_weights()[0])


def test_evaluate_returns_loss_and_metrics_computed_on_predictions():
    x, y = blobs(60)
    model = ml.Sequential([ml.Dense(4, "tanh", input_dim=2, kernel_regularizer=ml.L2(0.01)),
                           ml.Dense(1, "sigmoid")], seed=0, dtype="float64")
    model.compile(ml.SGD(0.1), "binary_crossentropy", ["accuracy", "mse"])
    model.fit(x, y, epochs=2, verbose=0)
    result = model.evaluate(x, y)
    assert set(result) == {"loss", "accuracy", "mse"}
    p = model.predict(x)
    bce = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    penalty = 0.01 * np.sum(model.get_weights()[0] ** 2)
    assert result["loss"] == pytest.approx(bce + penalty, rel=1e-10)
    assert result["accuracy"] == np.mean((p > 0.5) == (y > 0.5))
    assert result["mse"] == pytest.approx(np.mean((p - y) ** 2), rel=1e-10)
    assert model.evaluate(x, y, batch_size=7)["loss"] == pytest.approx(result["loss"], rel=1e-10)


def test_predict_returns_probabilities():
    x, labels = three_classes()
    softmax = ml.Sequential([ml.Dense(5, "relu"), ml.Dense(3, "softmax")], seed=0)
    softmax.compile(ml.Adam(0.01), "sparse_categorical_crossentropy")
    softmax.fit(x, labels, epochs=2, verbose=0)
    p = softmax.predict(x)
    assert p.shape == (90, 3) and np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(softmax.predict(x, batch_size=7), p, rtol=1e-6)

    sigmoid_model = ml.Sequential([ml.Dense(5, "relu"), ml.Dropout(0.5), ml.Dense(2, "sigmoid")], seed=0)
    q = sigmoid_model.predict(x)
    assert q.shape == (90, 2) and np.all((q > 0) & (q < 1))
    # inference mode: dropout is off, so predictions are repeatable and use no randomness
    state = sigmoid_model.rng.bit_generator.state
    np.testing.assert_array_equal(sigmoid_model.predict(x), q)
    assert sigmoid_model.rng.bit_generator.state == state


def test_get_weights_and_set_weights_round_trip_in_keras_order():
    model = ml.Sequential([ml.Dense(4, "relu", input_dim=3), ml.BatchNormalization(), ml.Dense(2)], seed=0)
    weights = model.get_weights()
    assert [w.shape for w in weights] == [(3, 4), (4,), (4,), (4,), (4,), (4,), (4, 2), (2,)]
    np.testing.assert_array_equal(weights[0], model.layers[0].params["weight"])
    np.testing.assert_array_equal(weights[5], model.layers[1].state["moving_variance"])
    weights[0][...] = 99.0  # get_weights returns copies
    assert not np.any(model.layers[0].params["weight"] == 99.0)

    other = ml.Sequential([ml.Dense(4, "relu", input_dim=3), ml.BatchNormalization(), ml.Dense(2)], seed=1)
    x = np.random.default_rng(0).normal(size=(5, 3))
    assert not np.allclose(other.predict(x), model.predict(x))
    other.set_weights(model.get_weights())
    np.testing.assert_array_equal(other.predict(x), model.predict(x))
    for a, b in zip(other.get_weights(), model.get_weights()):
        assert np.array_equal(a, b)


def test_set_weights_builds_an_unbuilt_model():
    source = ml.Sequential([ml.Dense(3, "tanh", input_dim=2), ml.Dense(1)], seed=0)
    target = ml.Sequential([ml.Dense(3, "tanh"), ml.Dense(1)], seed=5)
    target.set_weights(source.get_weights())
    x = np.ones((2, 2))
    np.testing.assert_array_equal(target.predict(x), source.predict(x))


def test_summary_lists_layers_shapes_and_parameter_counts():
    model = ml.Sequential([ml.Dense(4, "relu", input_dim=3), ml.Dropout(0.5), ml.Dense(2, "softmax")], seed=0)
    text = model.summary(print_fn=None)
    lines = text.splitlines()
    row = {name: next(line for line in lines if line.startswith(name)) for name in ("dense ", "dropout", "dense_1")}
    assert "(Dense)" in row["dense "] and "(None, 4)" in row["dense "] and row["dense "].split()[-1] == "16"
    assert "(Dropout)" in row["dropout"] and "(None, 4)" in row["dropout"] and row["dropout"].split()[-1] == "0"
    assert "(None, 2)" in row["dense_1"] and row["dense_1"].split()[-1] == "10"
    total = sum(w.size for w in model.get_weights())
    assert total == 26 == model.count_params()
    assert f"Total params: {total}" in text
    printed = []
    model.summary(print_fn=printed.append)
    assert printed == [text]


def test_summary_mentions_the_fused_output():
    model = ml.Sequential([ml.Dense(3, "softmax", input_dim=2)])
    model.compile("sgd", "categorical_crossentropy")
    assert "fuses the output softmax" in model.summary(print_fn=None)


def test_config_round_trip_gives_the_same_architecture():
    model = ml.Sequential([ml.Flatten(input_shape=(2, 3)), ml.Dense(4, "elu"), ml.BatchNormalization(momentum=0.9),
                           ml.Dropout(0.2), ml.Dense(3, "softmax", use_bias=False)], seed=3, dtype="float64",
                          name="net")
    config = model.get_config()
    clone = ml.Sequential.from_config(config)
    assert clone.get_config() == config
    assert [type(layer) for layer in clone.layers] == [type(layer) for layer in model.layers]
    assert [layer.name for layer in clone.layers] == [layer.name for layer in model.layers]
    assert clone.summary(print_fn=None) == model.summary(print_fn=None)
    # the same seed gives the same initial weights, hence the same predictions
    for a, b in zip(clone.get_weights(), model.get_weights()):
        assert a.dtype == np.float64 and np.array_equal(a, b)
    x = np.random.default_rng(0).normal(size=(4, 2, 3))
    np.testing.assert_array_equal(clone.predict(x), model.predict(x))


# -- the fused output: stable for huge logits ------------------------------------------------------------------

def test_fused_sigmoid_bce_is_finite_and_exact_for_huge_logits():
    model = ml.Sequential([ml.Dense(1, "sigmoid", input_dim=1)], seed=0)
    model.set_weights([np.array([[1e4]]), np.array([0.0])])
    model.compile(ml.SGD(learning_rate=0.0), "binary_crossentropy")
    assert fused_loss_name(model) == "sigmoid"
    x, y = np.array([[1.0], [-1.0]], np.float32), np.array([[0.0], [1.0]], np.float32)
    loss, output = ml.train_step(model, x, y)  # logits ±1e4, both confidently wrong
    # L = mean(max(z, 0) − z·y + log(1 + e^−|z|)) = mean(1e4, 1e4); dL/dz = (σ(z) − y)/2 = (0.5, −0.5)
    assert loss == 1e4
    layer = model.layers[0]
    np.testing.assert_array_equal(layer.grads["weight"], [[1.0]])  # xᵀ dz = 0.5 + 0.5
    np.testing.assert_array_equal(layer.grads["bias"], [0.0])
    assert np.array_equal(output, [[1.0], [0.0]])
    history = model.fit(x, y, epochs=1, verbose=0)
    assert history.history["loss"] == [1e4]
    assert model.evaluate(x, y)["loss"] == 1e4


def test_fused_softmax_cce_is_finite_and_exact_for_huge_logits():
    model = ml.Sequential([ml.Dense(3, "softmax", input_dim=1, use_bias=False)], seed=0)
    model.set_weights([np.array([[1e4, -1e4, 0.0]])])
    model.compile(ml.SGD(learning_rate=0.0), "sparse_categorical_crossentropy")
    assert fused_loss_name(model) == "softmax"
    loss, _ = ml.train_step(model, np.array([[1.0]], np.float32), np.array([1]))
    # L = logsumexp(z) − z_1 = 1e4 − (−1e4); dL/dz = softmax(z) − one_hot = (1, −1, 0)
    assert loss == 2e4
    np.testing.assert_array_equal(model.layers[0].grads["weight"], [[1.0, -1.0, 0.0]])


def test_losses_from_logits_are_finite_for_huge_logits():
    bce = ml.BinaryCrossentropy(from_logits=True)
    assert bce.forward(np.array([[0.0], [1.0]]), np.array([[1e4], [-1e4]])) == 1e4
    np.testing.assert_array_equal(bce.backward(), [[0.5], [-0.5]])
    cce = ml.CategoricalCrossentropy(from_logits=True)
    assert cce.forward(np.array([[0.0, 1.0, 0.0]]), np.array([[1e4, -1e4, 0.0]])) == 2e4
    np.testing.assert_array_equal(cce.backward(), [[1.0, -1.0, 0.0]])
    # the probability form clips instead: finite too, but capped at −log(1e−7)
    assert ml.BinaryCrossentropy().forward(np.array([[1.0]]), np.array([[0.0]])) == pytest.approx(-math.log(1e-7))


# -- diagnostics: gradient norms and activation statistics ------------------------------------------------------

def _deep(activation, seed=0):
    layers = [ml.Dense(16, activation, input_dim=8)] + [ml.Dense(16, activation) for _ in range(5)]
    model = ml.Sequential(layers + [ml.Dense(1, "sigmoid")], seed=seed)
    model.compile(ml.SGD(learning_rate=0.0), "binary_crossentropy")
    return model


def test_deep_sigmoid_network_has_vanishing_first_layer_gradients_compared_with_relu():
    x, y = blobs(64, 8)
    sigmoid_history = _deep("sigmoid").fit(x, y, epochs=2, batch_size=None, verbose=0)
    relu_history = _deep("relu").fit(x, y, epochs=2, batch_size=None, verbose=0)
    for history in (sigmoid_history, relu_history):
        assert len(history.gradient_norms) == 2 and len(history.activation_stats) == 2
        assert list(history.gradient_norms[0]) == [f"dense_{i}" if i else "dense" for i in range(7)]
        assert all(np.isfinite(v) and v >= 0 for v in history.gradient_norms[-1].values())
    sigmoid_first = sigmoid_history.gradient_norms[-1]["dense"]
    relu_first = relu_history.gradient_norms[-1]["dense"]
    assert 0 < sigmoid_first < 0.1 * relu_first
    # in the sigmoid net the gradient shrinks going back from the output layer to the first
    assert sigmoid_first < sigmoid_history.gradient_norms[-1]["dense_6"]
    assert set(sigmoid_history.activation_stats[-1]["dense"]) == {"saturated"}
    assert set(relu_history.activation_stats[-1]["dense"]) == {"dead_relu"}


def test_dead_relu_fraction_is_one_when_biases_are_very_negative():
    x, y = blobs(32, 4)
    model = ml.Sequential([ml.Dense(8, "relu", input_dim=4, bias_initializer=ml.Constant(-100.0)),
                           ml.Dense(1, "sigmoid")], seed=0)
    model.compile(ml.SGD(0.1), "binary_crossentropy")
    history = model.fit(x, y, epochs=2, verbose=0)
    assert [stats["dense"]["dead_relu"] for stats in history.activation_stats] == [1.0, 1.0]
    assert history.gradient_norms[-1]["dense"] == 0.0  # dead units pass no gradient back

    # A unit is dead when it is zero for every sample: kill exactly 2 of 8 units.
    partly = ml.Sequential([ml.Dense(8, "relu", input_dim=4), ml.Dense(1, "sigmoid")], seed=0)
    weights = partly.get_weights()
    weights[1][:2] = -100.0
    partly.set_weights(weights)
    partly.compile(ml.SGD(0.0), "binary_crossentropy")
    assert partly.fit(x, y, epochs=1, verbose=0).activation_stats[0]["dense"]["dead_relu"] == 0.25


def test_saturated_sigmoid_fraction_is_measured():
    x, y = blobs(32, 4)
    model = ml.Sequential([ml.Dense(8, "sigmoid", input_dim=4, kernel_initializer=ml.RandomNormal(stddev=100.0)),
                           ml.Dense(1, "sigmoid")], seed=0)
    model.compile(ml.SGD(0.0), "binary_crossentropy")
    stats = model.fit(x, y, epochs=1, verbose=0).activation_stats[0]["dense"]["saturated"]
    a = model.layers[0].activation.forward(x.astype(np.float32) @ model.get_weights()[0])
    assert stats == pytest.approx(np.mean((a < 0.01) | (a > 0.99))) and stats > 0.9
