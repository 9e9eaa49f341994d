"""Bad input raises ValueError/TypeError naming the argument, and leaves the model exactly as it was:
same weights, same rng state (so a later fit is unaffected), same optimizer step count, same predictions."""
import numpy as np
import pytest

import mlplab as ml

RNG = np.random.default_rng(0)
X = RNG.normal(size=(20, 3))
LABELS = np.arange(20) % 3


def classifier(input_dim=3):
    model = ml.Sequential([ml.Dense(4, "relu", input_dim=input_dim), ml.Dropout(0.2), ml.Dense(3, "softmax")],
                          seed=0)
    model.compile(ml.SGD(0.1), "sparse_categorical_crossentropy", ["accuracy"])
    return model


def regressor():
    model = ml.Sequential([ml.Dense(4, "tanh", input_dim=3), ml.Dense(1)], seed=0)
    model.compile(ml.SGD(0.1), "mse")
    return model


def binary():
    model = ml.Sequential([ml.Dense(4, "tanh", input_dim=3), ml.Dense(1, "sigmoid")], seed=0)
    model.compile(ml.SGD(0.1), "binary_crossentropy")
    return model


def with_value(array, index, value):
    array = np.array(array, dtype=float)
    array[index] = value
    return array


# (id, model factory, fit keyword arguments, exception, regex the message must match)
FIT_CASES = [
    ("x-1d", classifier, dict(x=np.ones(3), y=LABELS[:1]), ValueError, r"`x`.*at least 2 dimension"),
    ("x-3d", classifier, dict(x=np.ones((20, 3, 1))), ValueError, r"`x`.*shape \(n_samples, 3\)"),
    ("x-feature-count", classifier, dict(x=np.ones((20, 4))), ValueError, r"`x`.*\(n_samples, 3\)"),
    ("x-nan", classifier, dict(x=with_value(X, (3, 1), np.nan)), ValueError, r"`x`.*NaN/inf.*\(3, 1\)"),
    ("x-inf", classifier, dict(x=with_value(X, (0, 0), np.inf)), ValueError, r"`x`.*finite"),
    ("x-string", classifier, dict(x="1,2,3"), TypeError, r"`x`.*string"),
    ("x-strings", classifier, dict(x=np.array([["a", "b", "c"]] * 20)), TypeError, r"`x`.*numeric"),
    ("x-object", classifier, dict(x=np.array([[1, None, 2]] * 20, dtype=object)), TypeError, r"`x`.*object"),
    ("x-ragged", classifier, dict(x=[[1, 2, 3], [1, 2]], y=[0, 1]), TypeError, r"`x`"),
    ("x-empty", classifier, dict(x=np.empty((0, 3)), y=np.empty(0)), ValueError, r"`x`.*non-empty"),
    ("y-rows", classifier, dict(y=LABELS[:19]), ValueError, r"`y`.*20 rows"),
    ("y-empty", classifier, dict(y=np.empty(0)), ValueError, r"`y`.*non-empty"),
    ("y-nan", regressor, dict(y=with_value(np.zeros(20), 5, np.nan)), ValueError, r"`y`.*NaN"),
    ("y-inf", regressor, dict(y=with_value(np.zeros(20), 5, -np.inf)), ValueError, r"`y`.*finite"),
    ("y-string", regressor, dict(y=np.array(["1"] * 20)), TypeError, r"`y`.*numeric"),
    ("y-shape", regressor, dict(y=np.zeros((20, 2))), ValueError, r"`y`.*\(n_samples, 1\)"),
    ("labels-too-high", classifier, dict(y=with_value(LABELS, 7, 3)), ValueError, r"`y`.*\[0, 2\]"),
    ("labels-negative", classifier, dict(y=with_value(LABELS, 7, -1)), ValueError, r"`y`.*class labels"),
    ("labels-not-integers", classifier, dict(y=with_value(LABELS, 7, 0.5)), ValueError, r"`y`.*integer"),
    ("labels-one-hot", classifier, dict(y=np.eye(3)[LABELS]), ValueError, r"`y`.*categorical_crossentropy"),
    ("bce-targets", binary, dict(y=with_value(np.zeros(20), 2, 2.0)), ValueError, r"`y`.*\[0, 1\]"),
    ("epochs-0", classifier, dict(epochs=0), ValueError, r"`epochs`"),
    ("epochs-float", classifier, dict(epochs=1.5), TypeError, r"`epochs`"),
    ("batch-size-0", classifier, dict(batch_size=0), ValueError, r"`batch_size`"),
    ("batch-size-negative", classifier, dict(batch_size=-4), ValueError, r"`batch_size`"),
    ("validation-split-1", classifier, dict(validation_split=1.0), ValueError, r"`validation_split`"),
    ("validation-split-negative", classifier, dict(validation_split=-0.1), ValueError, r"`validation_split`"),
    ("validation-split-empty", classifier, dict(validation_split=0.01), ValueError, r"`validation_split`"),
    ("validation-data-not-a-pair", classifier, dict(validation_data=X), ValueError, r"`validation_data`"),
    ("validation-data-features", classifier, dict(validation_data=(np.ones((5, 2)), LABELS[:5])), ValueError,
     r"`validation_data\[0\]`"),
    ("validation-data-labels", classifier, dict(validation_data=(X[:5], [0, 1, 2, 3, 0])), ValueError,
     r"`validation_data\[1\]`"),
    ("callbacks", classifier, dict(callbacks=[print]), TypeError, r"`callbacks`"),
    ("verbose", classifier, dict(verbose=5), ValueError, r"`verbose`"),
]


@pytest.mark.parametrize("factory, kwargs, error, message", [case[1:] for case in FIT_CASES],
                         ids=[case[0] for case in FIT_CASES])
def test_fit_rejects_bad_input_and_leaves_the_model_unchanged(factory, kwargs, error, message, model_snapshot):
    model = factory()
    arguments = dict(x=X, y=LABELS if factory is classifier else np.zeros(20), epochs=1, verbose=0) | kwargs
    snapshot = model_snapshot(model, X)
    with pytest.raises(error, match=message):
        model.fit(**arguments)
    snapshot.assert_unchanged()
    assert model.optimizer.state == {}
    # ... and the model still trains normally afterwards
    model.fit(X, LABELS if factory is classifier else np.zeros(20), epochs=1, verbose=0)


def test_failed_fit_leaves_an_unbuilt_model_unbuilt(model_snapshot):
    model = ml.Sequential([ml.Dense(4, "relu"), ml.Dense(3, "softmax")], seed=0)
    model.compile("sgd", "sparse_categorical_crossentropy")
    state = model.rng.bit_generator.state
    with pytest.raises(ValueError, match="`y`"):
        model.fit(X, with_value(LABELS, 0, 5), verbose=0)
    assert not model.built and model.rng.bit_generator.state == state
    with pytest.raises(ValueError, match="Flatten"):
        model.fit(np.ones((20, 3, 2)), LABELS, verbose=0)
    assert not model.built and model.rng.bit_generator.state == state


@pytest.mark.parametrize("x, error, message", [
    (np.ones((5, 4)), ValueError, r"`x`.*\(n_samples, 3\)"),
    (np.ones(3), ValueError, r"`x`"),
    (with_value(X, (1, 1), np.nan), ValueError, r"`x`.*NaN"),
    (np.array([["a", "b", "c"]]), TypeError, r"`x`"),
    (np.empty((0, 3)), ValueError, r"`x`.*non-empty"),
], ids=["features", "1d", "nan", "strings", "empty"])
def test_predict_and_evaluate_reject_bad_x(x, error, message, model_snapshot):
    model = classifier()
    snapshot = model_snapshot(model, X)
    with pytest.raises(error, match=message):
        model.predict(x)
    with pytest.raises(error, match=message):
        model.evaluate(x, np.zeros(len(x)))
    snapshot.assert_unchanged()


def test_predict_and_evaluate_reject_bad_batch_size():
    model = classifier()
    with pytest.raises(ValueError, match="`batch_size`"):
        model.predict(X, batch_size=0)
    with pytest.raises(ValueError, match="`batch_size`"):
        model.evaluate(X, LABELS, batch_size=0)


def test_fit_or_evaluate_before_compile_raises_not_compiled_error(model_snapshot):
    model = ml.Sequential([ml.Dense(3, "softmax", input_dim=3)], seed=0)
    snapshot = model_snapshot(model, X)
    for call in (lambda: model.fit(X, LABELS, verbose=0), lambda: model.evaluate(X, LABELS)):
        with pytest.raises(ml.NotCompiledError, match=r"compile") as info:
            call()
        assert isinstance(info.value, ValueError)
    snapshot.assert_unchanged()
    assert model.predict(X).shape == (20, 3)  # predict needs no compile


# -- unknown names: the message lists the valid ones ---------------------------------------------------------

@pytest.mark.parametrize("make, valid", [
    (lambda: ml.Dense(3, activation="relux"), ["relu", "sigmoid", "tanh", "softmax"]),
    (lambda: ml.Activation("sigmoidal"), ["sigmoid", "elu"]),
    (lambda: ml.Dense(3, kernel_initializer="glorot"), ["glorot_uniform", "he_normal", "zeros"]),
    (lambda: ml.Dense(3, bias_initializer="one"), ["ones", "zeros"]),
    (lambda: ml.Dense(3, kernel_regularizer="l3"), ["l1", "l2", "l1_l2"]),
    (lambda: classifier().compile(optimizer="adamm", loss="mse"), ["adam", "sgd", "rmsprop", "adagrad", "adamw"]),
    (lambda: classifier().compile(optimizer="sgd", loss="msee"), ["mse", "binary_crossentropy",
                                                                  "sparse_categorical_crossentropy"]),
    (lambda: classifier().compile(optimizer="sgd", loss="mse", metrics=["acuracy"]), ["accuracy", "mae", "r2"]),
], ids=["activation", "activation-layer", "kernel_initializer", "bias_initializer", "regularizer", "optimizer",
        "loss", "metric"])
def test_unknown_names_list_the_valid_choices(make, valid):
    with pytest.raises(ValueError) as info:
        make()
    message = str(info.value)
    assert "Unknown" in message
    for name in valid:
        assert name in message


@pytest.mark.parametrize("kwargs, message", [
    (dict(optimizer=3), "`optimizer`"),
    (dict(loss=None), "`loss`"),
    (dict(metrics="accuracy"), "`metrics`"),
])
def test_compile_rejects_wrong_types(kwargs, message):
    with pytest.raises(TypeError, match=message):
        classifier().compile(**({"optimizer": "sgd", "loss": "mse"} | kwargs))


def test_a_failed_compile_keeps_the_previous_compile():
    model = classifier()
    optimizer, loss = model.optimizer, model.loss
    with pytest.raises(ValueError):
        model.compile(optimizer="adam", loss="msee")
    assert model.optimizer is optimizer and model.loss is loss and model.compiled


# -- invalid hyper-parameters ---------------------------------------------------------------------------------

@pytest.mark.parametrize("make, error, message", [
    (lambda: ml.SGD(learning_rate=-0.1), ValueError, r"`learning_rate`.*-0\.1"),
    (lambda: ml.Adam(learning_rate=float("nan")), ValueError, r"`learning_rate`"),
    (lambda: ml.SGD(learning_rate="fast"), TypeError, r"`learning_rate`"),
    (lambda: ml.Dropout(1.0), ValueError, r"`rate`.*\[0\.0, 1\.0\)"),
    (lambda: ml.Dropout(-0.1), ValueError, r"`rate`"),
    (lambda: ml.Dropout(1.5), ValueError, r"`rate`.*1\.5"),
    (lambda: ml.Dense(0), ValueError, r"`units`"),
    (lambda: ml.Dense(2.5), TypeError, r"`units`"),
    (lambda: ml.Dense(3, input_dim=0), ValueError, r"`input_dim`"),
    (lambda: ml.BatchNormalization(momentum=1.5), ValueError, r"`momentum`"),
    (lambda: ml.BatchNormalization(epsilon=0), ValueError, r"`epsilon`"),
    (lambda: ml.Flatten(input_shape=(28, 0)), ValueError, r"`input_shape`"),
    (lambda: ml.Sequential([ml.Dense(1)], dtype="int32"), ValueError, r"`dtype`"),
    (lambda: ml.Sequential(["dense"]), TypeError, r"`layer`"),
    (lambda: ml.Sequential([ml.Dense(1, name="a"), ml.Dense(1, name="a")]), ValueError, r"`layer.name`"),
    (lambda: ml.L2(-0.01), ValueError, r"`l2`"),
], ids=["lr-negative", "lr-nan", "lr-string", "dropout-1", "dropout-negative", "dropout-1.5", "units-0",
        "units-float", "input_dim", "bn-momentum", "bn-epsilon", "flatten-shape", "dtype", "not-a-layer",
        "duplicate-name", "l2-negative"])
def test_invalid_hyper_parameters(make, error, message):
    with pytest.raises(error, match=message):
        make()


# -- set_weights -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("change, message", [
    (lambda w: w[:-1], r"`weights`.*4 arrays"),
    (lambda w: w + [np.zeros(3)], r"`weights`"),
    (lambda w: [w[0].T] + w[1:], r"`weights\[0\]`.*\(3, 4\)"),
    (lambda w: w[:3] + [np.zeros(2)], r"`weights\[3\]`.*\(3,\)"),
    (lambda w: w[:1] + [with_value(w[1], 0, np.nan)] + w[2:], r"`weights\[1\]`.*finite"),
    (lambda w: w[:2] + [np.full((4, 3), "a")] + w[3:], r"`weights\[2\]`.*numeric"),
    (lambda w: w[:2] + [[[1.0, 2.0, 3.0]] * 3 + [[1.0]]] + w[3:], r"`weights\[2\]`.*ragged"),
    (lambda w: w[:1] + [with_value(w[1], 2, 1e39)] + w[2:], r"`weights\[1\]`.*float32's range.*1e\+39"),
    (lambda w: w[:2] + [None] + w[3:], r"`weights\[2\]`.*NoneType"),
], ids=["too-few", "too-many", "transposed", "bias-shape", "nan", "strings", "ragged", "overflow", "none"])
def test_set_weights_rejects_wrong_weights_and_changes_nothing(change, message, model_snapshot):
    model = ml.Sequential([ml.Dense(4, "relu", input_dim=3), ml.Dense(3, "softmax")], seed=0)
    snapshot = model_snapshot(model, X)
    bad = change(model.get_weights())
    # the first arrays of a wrong list may be fine: nothing may be copied before everything is checked
    if len(bad) > 1 and bad[0].shape == (3, 4):
        bad[0] = bad[0] + 1.0
    with pytest.raises((ValueError, TypeError), match=message):
        model.set_weights(bad)
    snapshot.assert_unchanged()


@pytest.mark.parametrize("weights", [None, np.zeros(3), "weights", 3.0, {"w": 1}])
@pytest.mark.parametrize("built", [True, False])
def test_set_weights_wants_a_list(weights, built, model_snapshot):
    model = ml.Sequential([ml.Dense(4, "relu", input_dim=3 if built else None), ml.Dense(3, "softmax")], seed=0)
    snapshot = model_snapshot(model)
    with pytest.raises(TypeError, match=r"`weights`: expected a list of arrays"):
        model.set_weights(weights)
    snapshot.assert_unchanged()
    assert model.built is built


def test_set_weights_on_an_unbuilt_model_changes_nothing_on_error(model_snapshot):
    model = ml.Sequential([ml.Dense(4, "relu"), ml.Dense(3, "softmax")], seed=0)
    state = model.rng.bit_generator.state
    with pytest.raises(ValueError, match=r"`weights\[3\]`"):
        model.set_weights([np.ones((3, 4)), np.ones(4), np.ones((4, 3)), np.ones(2)])
    assert not model.built and model.rng.bit_generator.state == state
    reference = ml.Sequential([ml.Dense(4, "relu", input_dim=3), ml.Dense(3, "softmax")], seed=0)
    model.build((3,))  # building later gives the same initial weights as if nothing had happened
    for a, b in zip(model.get_weights(), reference.get_weights()):
        assert np.array_equal(a, b)


def test_layer_set_weights_rejects_wrong_shapes():
    layer = ml.Dense(2, input_dim=3)
    ml.Sequential([layer])
    before = layer.get_weights()
    with pytest.raises(ValueError, match=r"`weights\[1\]`.*\(2,\)"):
        layer.set_weights([before[0] + 1, np.zeros(3)])
    with pytest.raises(ValueError, match=r"`weights`"):
        layer.set_weights([before[0]])
    for a, b in zip(before, layer.get_weights()):
        assert np.array_equal(a, b)
