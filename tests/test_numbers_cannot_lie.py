"""Every case where the numbers could silently lie is a correct result or a clear error, and a failed call
leaves the model as it was (weights, generator, optimizer)."""
import numpy as np
import pytest

import mlplab as ml
from mlplab.engine import fused_loss_name


def _classifier(output="sigmoid", units=1, seed=0):
    return ml.Sequential([ml.Dense(4, "tanh", input_dim=3), ml.Dense(units, output)], seed=seed)


X = np.random.default_rng(0).normal(size=(12, 3))
Y = (X[:, :1] > 0).astype(float)


@pytest.mark.parametrize("output, units, loss", [
    ("sigmoid", 1, ml.BinaryCrossentropy(from_logits=True)),
    ("softmax", 3, ml.CategoricalCrossentropy(from_logits=True)),
    ("softmax", 3, ml.SparseCategoricalCrossentropy(from_logits=True)),
])
def test_from_logits_after_a_probability_output_is_refused(output, units, loss):
    model = _classifier(output, units)
    with pytest.raises(ValueError, match=rf"`loss`.*already applies {output}.*from_logits"):
        model.compile(ml.SGD(0.1), loss)
    assert not model.compiled


def test_a_layer_added_after_compile_is_seen_by_the_next_fit(model_snapshot):
    model = ml.Sequential([ml.Dense(4, "tanh", input_dim=3), ml.Dense(2)], seed=0)
    model.compile(ml.SGD(0.1), ml.BinaryCrossentropy(from_logits=True))
    model.add(ml.Dense(1, "sigmoid"))  # now the output is a probability: logits would be wrong
    snapshot = model_snapshot(model, X)
    with pytest.raises(ValueError, match="already applies sigmoid"):
        model.fit(X, Y, verbose=0)
    snapshot.assert_unchanged()
    # A fused model extended by a linear layer trains on the new output, not the old fused one.
    model = _classifier()
    model.compile(ml.SGD(0.1), "mse")
    assert fused_loss_name(model) is None
    model.compile(ml.SGD(0.1), "binary_crossentropy")
    assert fused_loss_name(model) == "sigmoid"
    model.add(ml.Dense(1))
    assert fused_loss_name(model) is None
    expected = model.layer_outputs(X)[-1]
    loss, output = ml.train_step(model, X.astype(np.float32), Y.astype(np.float32))
    np.testing.assert_allclose(output, expected, rtol=1e-5)  # the new linear output, before the update


def test_accuracy_with_logits_thresholds_at_zero():
    model = ml.Sequential([ml.Dense(1, input_dim=3)], seed=0)
    model.compile(ml.SGD(0.0), ml.BinaryCrossentropy(from_logits=True), metrics=["accuracy"])
    z = model.predict(X)
    assert model.evaluate(X, Y)["accuracy"] == pytest.approx(np.mean((z > 0) == (Y > 0.5)))


@pytest.mark.parametrize("targets, row", [
    (np.zeros((12, 3)), 0),
    (np.tile([1.0, 1.0, 0.0], (12, 1)), 0),
    (np.vstack([np.eye(3)[[0, 1, 2] * 3], [[0.5, 0.2, 0.2]] * 3]), 9),
])
def test_categorical_targets_must_be_distributions(targets, row, model_snapshot):
    model = _classifier("softmax", 3)
    model.compile(ml.SGD(0.1), "categorical_crossentropy")
    snapshot = model_snapshot(model, X)
    with pytest.raises(ValueError, match=rf"`y`.*sum to 1.*row {row} sums to"):
        model.fit(X, targets, verbose=0)
    snapshot.assert_unchanged()
    soft = np.full((12, 3), 1 / 3)  # soft labels summing to 1 are fine
    model.fit(X, soft, verbose=0)


def test_an_exploding_finite_loss_is_divergence(model_snapshot):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(32, 3)) * 3
    model = ml.Sequential([ml.Dense(1, input_dim=3)], seed=0, dtype="float64")
    model.compile(ml.SGD(0.9), "mse")
    snapshot = model_snapshot(model, x)
    losses = []
    with pytest.raises(FloatingPointError, match=r"grew to .* times its first value.*restored"):
        model.fit(x, x @ [1.0, 2.0, 3.0], epochs=200, batch_size=None, verbose=0,
                  callbacks=[ml.LambdaCallback(on_batch_end=lambda batch, logs: losses.append(logs["loss"]))])
    assert all(np.isfinite(losses)) and losses[-1] > 1e6 * losses[0]  # finite all the way: no NaN to see
    snapshot.assert_unchanged()
    assert model.optimizer.iterations == 0


def test_batch_normalization_refuses_a_one_row_batch(model_snapshot):
    model = ml.Sequential([ml.Dense(4, input_dim=3), ml.BatchNormalization(), ml.Dense(1)], seed=0)
    model.compile(ml.SGD(0.1), "mse")
    x, y = np.random.default_rng(0).normal(size=(33, 3)), np.zeros(33)
    snapshot = model_snapshot(model, x)
    with pytest.raises(ValueError, match=r"`batch_size`.*33 samples.*BatchNormalization"):
        model.fit(x, y, batch_size=32, verbose=0)
    snapshot.assert_unchanged()
    model.fit(x, y, batch_size=11, verbose=0)  # 3 batches of 11: fine
    with pytest.raises(ValueError, match="one row has no variance"):
        model.layers[1].forward(np.ones((1, 4), np.float32), training=True)


@pytest.mark.parametrize("where", ["x", "y", "weights"])
def test_values_beyond_float32_are_reported_as_overflow(where, model_snapshot):
    model = ml.Sequential([ml.Dense(1, input_dim=3)], seed=0)
    model.compile(ml.SGD(0.1), "mse")
    snapshot = model_snapshot(model, X)
    x, y = X.copy(), Y.copy()
    with pytest.raises(ValueError, match=r"float32's range.*1e\+39"):
        if where == "x":
            x[2, 1] = 1e39
            model.fit(x, y, verbose=0)
        elif where == "y":
            y[5, 0] = -1e39
            model.fit(x, y, verbose=0)
        else:
            model.set_weights([np.full((3, 1), 1e39), np.zeros(1)])
    snapshot.assert_unchanged()
    with pytest.raises(ValueError, match=r"float32's range"):
        model.predict(np.full((1, 3), 1e39))


@pytest.mark.parametrize("rate", [-0.1, float("nan"), float("inf")])
def test_a_schedule_returning_a_bad_rate_is_refused(rate, model_snapshot):
    model = ml.Sequential([ml.Dense(1, input_dim=3)], seed=0)
    model.compile(ml.SGD(learning_rate=lambda step: rate), "mse")
    snapshot = model_snapshot(model, X)
    with pytest.raises(ValueError, match=r"`learning_rate`.*finite rates ≥ 0"):
        model.fit(X, Y, verbose=0)
    snapshot.assert_unchanged()


@pytest.mark.parametrize("make, error, message", [
    (lambda: ml.Adam(epsilon=0), ValueError, "`epsilon`"),
    (lambda: ml.RMSprop(epsilon=0.0), ValueError, "`epsilon`"),
    (lambda: ml.SGD(0.1, momentum=0.9, nesterov="yes"), TypeError, "`nesterov`"),
    (lambda: ml.Sequential([ml.Dense(1)], dtype=None), ValueError, "`dtype`"),
    (lambda: ml.Sequential(ml.Dense(1)), TypeError, "`layers`"),
    (lambda: ml.MeanSquaredError(reduction="avg"), ValueError, "`reduction`"),
])
def test_hyper_parameters_are_checked(make, error, message):
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize("kwargs, error, message", [
    ({"shuffle": "False"}, TypeError, "`shuffle`"),
    ({"nan_guard": 1}, TypeError, "`nan_guard`"),
    ({"callbacks": ml.History()}, TypeError, "`callbacks`"),
    ({"sample_weight": np.ones(5)}, ValueError, "`sample_weight`"),
    ({"sample_weight": -np.ones(12)}, ValueError, "`sample_weight`"),
    ({"class_weight": "even"}, ValueError, "`class_weight`"),
    ({"class_weight": [1, 2]}, TypeError, "`class_weight`"),
])
def test_fit_arguments_are_checked(kwargs, error, message, model_snapshot):
    model = _classifier()
    model.compile(ml.SGD(0.1), "binary_crossentropy")
    snapshot = model_snapshot(model, X)
    with pytest.raises(error, match=message):
        model.fit(X, Y, verbose=0, **kwargs)
    snapshot.assert_unchanged()


def test_masked_arrays_are_refused_with_the_fix():
    model = _classifier()
    model.compile(ml.SGD(0.1), "binary_crossentropy")
    masked = np.ma.masked_array(X, mask=X > 1.5)
    with pytest.raises(TypeError, match=r"`x`.*masked arrays.*filled"):
        model.fit(masked, Y, verbose=0)
    with pytest.raises(TypeError, match="masked"):
        model.predict(masked)


def test_an_empty_model_says_so():
    model = ml.Sequential()
    for call in (lambda: model.predict(X), lambda: model.fit(X, Y, verbose=0),
                 lambda: model.evaluate(X, Y), lambda: model.build((3,))):
        with pytest.raises(ValueError, match="no layers"):
            call()


@pytest.mark.parametrize("x", [np.full((2, 3), np.nan), np.ones((2, 3, 1)), np.array([[1.0, np.inf, 0.0]])])
def test_a_failed_predict_does_not_build_the_model(x):
    model = ml.Sequential([ml.Dense(2), ml.Dense(1)], seed=0)
    with pytest.raises(ValueError):
        model.predict(x)
    assert not model.built and all(not layer.built for layer in model.layers)
    model.predict(np.ones((2, 3)))
    assert model.built
