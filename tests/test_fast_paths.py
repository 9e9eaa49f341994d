"""Every speed trick of the engine (mlplab.engine) keeps the results of the plain computation it replaces.

- the flat buffers: one rule call for the whole model = the textbook rule per parameter (optimizer.step);
- Adam's folded bias corrections = the textbook formula, written out here in float64;
- fit's batches gathered into a reused buffer = slicing x[permutation], with the same weights bit for bit,
  and no copy of the training set per epoch;
- the fused output's probabilities = the model's own softmax/sigmoid output;
- the one-pass finite check = np.isfinite(...).all();
- the compiled Adam kernel = the NumPy path, bit for bit.
"""
import copy
import tracemalloc

import numpy as np
import pytest

import mlplab as ml
from mlplab.core.checks import all_finite
from mlplab.engine import engine_for, fused_loss_name

OPTIMIZERS = {
    "sgd": lambda: ml.SGD(0.1),
    "momentum": lambda: ml.SGD(0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "rmsprop": lambda: ml.RMSprop(0.01),
    "adagrad": lambda: ml.Adagrad(0.05),
    "adam": lambda: ml.Adam(0.01),
    "adamw": lambda: ml.AdamW(0.01, weight_decay=0.1),
    "adam clipnorm": lambda: ml.Adam(0.01, clipnorm=0.05),
    "sgd clipvalue+clipnorm": lambda: ml.SGD(0.1, clipvalue=0.01, clipnorm=0.02),
    "adam global_clipnorm": lambda: ml.Adam(0.01, global_clipnorm=0.1),
}


def _net(seed=0, dtype="float64", batchnorm=False):
    layers = [ml.Dense(8, "tanh", input_dim=5)]
    layers += [ml.BatchNormalization()] if batchnorm else []
    layers += [ml.Dense(3, "softmax")]
    return ml.Sequential(layers, seed=seed, dtype=dtype)


def _data(n=40, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 5)), rng.integers(0, 3, size=n)


def _train(model, optimizer, steps, engine):
    """`steps` steps on one batch: through the engine (ml.train_step) or the plain explicit loop
    (forward, the loss on probabilities, model.backward, optimizer.step per parameter)."""
    x, y = _data()
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    for _ in range(steps):
        if engine:
            ml.train_step(model, x, y)
        else:
            loss = model.loss
            loss.forward(y, model.forward(x, training=True))
            model.backward(loss.backward())
            model.optimizer.step(model)
    return model.get_weights()


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_engine_step_equals_the_plain_step(name):
    fast = _train(_net(batchnorm=True), OPTIMIZERS[name](), 15, engine=True)
    plain = _train(_net(batchnorm=True), OPTIMIZERS[name](), 15, engine=False)
    for got, want in zip(fast, plain):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)
    assert not np.array_equal(fast[0], _net(batchnorm=True).get_weights()[0])  # it did train


def test_adam_matches_the_textbook_formula():
    """m̂ = m/(1 − β1ᵗ), v̂ = v/(1 − β2ᵗ), w ← w − lr·m̂/(√v̂ + ε), written out without any folding."""
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-7
    model = _net()
    want = [w.copy() for w in model.get_weights()]
    x, y = _data()
    model.compile(optimizer=ml.Adam(lr, beta_1=b1, beta_2=b2, epsilon=eps), loss="sparse_categorical_crossentropy")
    m = [np.zeros_like(w) for w in want]
    v = [np.zeros_like(w) for w in want]
    reference = _net()
    reference.compile(optimizer=ml.SGD(0.0), loss="sparse_categorical_crossentropy")
    for t in range(1, 21):
        reference.set_weights(want)
        reference.loss.forward(y, reference.forward(x, training=True))
        reference.backward(reference.loss.backward())
        grads = [g for _, g in reference.parameters()]
        for i, g in enumerate(grads):
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            want[i] = want[i] - lr * (m[i] / (1 - b1 ** t)) / (np.sqrt(v[i] / (1 - b2 ** t)) + eps)
        ml.train_step(model, x, y)
    for got, expected in zip(model.get_weights(), want):
        np.testing.assert_allclose(got, expected, rtol=1e-11, atol=1e-14)


def test_layer_arrays_are_views_of_the_engine_buffers():
    model = _net(batchnorm=True)
    model.compile(optimizer=ml.Adam(0.01), loss="sparse_categorical_crossentropy")
    ml.train_step(model, *_data())
    engine = engine_for(model)
    assert engine.values.size == model.count_params() == engine.grads.size
    assert all(np.shares_memory(p, engine.values) and np.shares_memory(g, engine.grads) for p, g in model.parameters())
    assert all(np.shares_memory(slots[s], engine.slots[s]) for slots in model.optimizer.state.values() for s in slots)
    model.set_weights([np.full_like(w, 0.5) for w in model.get_weights()])
    np.testing.assert_array_equal(engine.values, 0.5)  # set_weights writes through the views


@pytest.mark.parametrize("build", ["input_dim", "build()"])
def test_arrays_taken_after_build_stay_live_through_training(build):
    model = _net()
    if build == "build()":
        model = ml.Sequential([ml.Dense(8, "tanh"), ml.Dense(3, "softmax")], seed=0, dtype="float64")
        model.build((5,))
    weight, grad = model.layers[0].params["weight"], model.layers[0].grads["weight"]
    before = weight.copy()
    ml.train_step(_compiled(model), *_data())
    assert weight is model.layers[0].params["weight"] and grad is model.layers[0].grads["weight"]
    assert not np.array_equal(weight, before) and np.abs(grad).sum() > 0


def _compiled(model):
    model.compile(optimizer=ml.Adam(0.01), loss="sparse_categorical_crossentropy")
    return model


def test_buffer_follows_a_layer_added_after_build():
    model = _net()
    model.compile(optimizer=ml.Adam(0.01), loss="mean_squared_error")
    x = _data()[0]
    ml.train_step(model, x, np.zeros((len(x), 3)))
    model.add(ml.Dense(2))
    before = model.layers[-1].params["weight"].copy()
    model.compile(optimizer=ml.Adam(0.01), loss="mean_squared_error")
    ml.train_step(model, x, np.ones((len(x), 2)))
    assert engine_for(model).values.size == model.count_params()
    assert not np.array_equal(model.layers[-1].params["weight"], before)  # the new layer trains too


def test_a_deep_copy_trains_on_its_own_buffer():
    model = _net()
    model.compile(optimizer=ml.Adam(0.01), loss="sparse_categorical_crossentropy")
    x, y = _data()
    ml.train_step(model, x, y)
    clone = copy.deepcopy(model)
    original = model.get_weights()
    for _ in range(3):
        ml.train_step(clone, x, y)
    for got, want in zip(model.get_weights(), original):
        np.testing.assert_array_equal(got, want)
    assert not np.array_equal(clone.get_weights()[0], original[0])
    assert not np.shares_memory(engine_for(clone).values, engine_for(model).values)


@pytest.mark.parametrize("batch_size", [7, 40])
def test_fit_batches_equal_slicing_the_permuted_training_set(batch_size):
    """Bit for bit: fit == the plain loop over x[order][start:start + batch] with the model's rng."""
    x, y = _data(n=40)
    fitted, manual = _net(seed=3, dtype="float32"), _net(seed=3, dtype="float32")
    for model in (fitted, manual):
        model.compile(optimizer=ml.Adam(0.01), loss="sparse_categorical_crossentropy")
    fitted.fit(x, y, epochs=3, batch_size=batch_size, verbose=0)
    x32 = x.astype(np.float32)
    for _ in range(3):
        order = manual.rng.permutation(len(x)) if batch_size < len(x) else np.arange(len(x))
        xs, ys = x32[order], y[order]
        for start in range(0, len(x), batch_size):
            ml.train_step(manual, xs[start:start + batch_size], ys[start:start + batch_size])
    for got, want in zip(fitted.get_weights(), manual.get_weights()):
        np.testing.assert_array_equal(got, want)


def test_fit_does_not_copy_the_training_set():
    x = np.random.default_rng(0).normal(size=(20_000, 100)).astype(np.float32)  # 8 MB
    y = (x[:, 0] > 0).astype(np.float32)
    model = ml.Sequential([ml.Dense(4, "relu", input_dim=100), ml.Dense(1, "sigmoid")], seed=0)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    tracemalloc.start()
    try:
        model.fit(x, y, epochs=2, batch_size=256, verbose=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < x.nbytes / 4, f"fit allocated {peak / 1e6:.1f} MB for an {x.nbytes / 1e6:.0f} MB training set"


@pytest.mark.parametrize("output, loss, y", [
    ("softmax", "sparse_categorical_crossentropy", np.array([0, 2, 1, 2, 0, 1])),
    ("sigmoid", "binary_crossentropy", np.array([0.0, 1, 1, 0, 1, 0])),
])
def test_fused_step_returns_the_models_own_probabilities(output, loss, y):
    x = np.random.default_rng(2).normal(size=(6, 5)) * 30  # large logits, saturated outputs
    units = 3 if output == "softmax" else 1
    model = ml.Sequential([ml.Dense(8, "relu", input_dim=5), ml.Dense(units, output)], seed=0, dtype="float64")
    model.compile(optimizer=ml.SGD(0.0), loss=loss)
    assert fused_loss_name(model) == output
    _, probabilities = ml.train_step(model, x, y.reshape(-1, 1) if units == 1 else y)
    np.testing.assert_allclose(probabilities, model.predict(x), rtol=1e-12, atol=1e-300)
    assert np.isfinite(probabilities).all()


@pytest.mark.parametrize("values", [
    np.zeros((3, 4)), np.array([[1e38, 1e38, 1e38]], np.float32), np.array([[np.inf, -np.inf]]),
    np.array([[1.0, np.nan, 2.0]]), np.array([np.nan]), np.ones(5, np.float32), np.array([[-np.inf]]),
    np.full((300, 300), 3e38, np.float32), np.full((300, 300), 1.0), np.pad([[np.nan]], ((0, 299), (0, 299))),
])
def test_one_pass_finite_check_equals_isfinite(values):
    """Row sums overflow for [1e38]*3 in float32 although every value is finite: the check looks closer."""
    assert all_finite(values) == bool(np.isfinite(values).all())


# -- the optional compiled kernel (C extension) ----------------------------------------------------------------

def _adam_run(dtype, compiled, steps=12):
    from mlplab.engine import kernels
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(64, 80)), rng.integers(0, 4, size=64)
    model = ml.Sequential([ml.Dense(64, "relu", input_dim=80), ml.Dense(4, "softmax")], seed=0, dtype=dtype)
    model.compile(optimizer=ml.AdamW(0.01, weight_decay=0.01), loss="sparse_categorical_crossentropy")
    kernels.set_enabled(compiled)
    try:
        for _ in range(steps):
            ml.train_step(model, x, y)
    finally:
        kernels.set_enabled(True)
    return model.get_weights()


def _needs_kernels():
    from mlplab.engine import kernels
    if not kernels.available():
        pytest.skip("the compiled kernels are not built here (no C compiler) or MLPLAB_KERNELS=0")
    return kernels


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_compiled_adam_equals_the_textbook_rule(dtype):
    """The fused form (bias corrections folded, one compiled pass) against Adam.update, the reference."""
    kernels = _needs_kernels()
    compiled, reference = _adam_run(dtype, True), _adam_run(dtype, False)
    assert compiled[0].size >= kernels.MIN_SIZE  # large enough to take the compiled path
    for got, want in zip(compiled, reference):
        np.testing.assert_allclose(got, want, rtol=2e-5 if dtype == "float32" else 1e-12, atol=1e-6 if dtype == "float32" else 1e-13)


def test_the_optimizer_chooses_its_fused_form():
    """A subclass that redefines `update` runs its own rule; fused=False runs the textbook rule."""
    class SignAdam(ml.Adam):
        def update(self, param, grad, state, lr):
            param -= lr * np.sign(grad)

    class QuietAdam(ml.Adam):  # same rule: may take the fused form
        pass

    assert ml.Adam().fused_rule() == "adam" and ml.AdamW().fused_rule() == "adamw"
    assert QuietAdam().fused_rule() == "adam" and SignAdam().fused_rule() is None
    assert ml.Adam(fused=False).fused_rule() is None and ml.SGD().fused_rule() is None
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 80)), rng.integers(0, 4, size=32)
    model = ml.Sequential([ml.Dense(64, "relu", input_dim=80), ml.Dense(4, "softmax")], seed=0)
    model.compile(optimizer=SignAdam(0.01), loss="sparse_categorical_crossentropy")
    before = model.get_weights()
    ml.train_step(model, x, y)
    steps = [np.abs(a - b) for a, b in zip(model.get_weights(), before)]
    assert all(np.allclose(s[s > 0], np.float32(0.01), rtol=1e-3) for s in steps)  # the sign rule ran


def test_compiled_adam_is_used_only_where_it_applies(monkeypatch):
    kernels = _needs_kernels()
    big = [np.ones(kernels.MIN_SIZE, np.float32) for _ in range(4)]
    assert kernels.adam(*big, 0.9, 0.999, 1e-7, 1e-3)
    small = [np.ones(10, np.float32) for _ in range(4)]
    assert not kernels.adam(*small, 0.9, 0.999, 1e-7, 1e-3)
    mixed = big[:3] + [np.ones(kernels.MIN_SIZE)]  # float64 moment buffer: leave it to NumPy
    assert not kernels.adam(*mixed, 0.9, 0.999, 1e-7, 1e-3)
    monkeypatch.setattr(kernels, "_module", False)  # as when the extension was not built
    assert not kernels.available() and not kernels.adam(*big, 0.9, 0.999, 1e-7, 1e-3)
    weights = _adam_run("float32", True, steps=2)  # training falls back to NumPy
    assert all(np.isfinite(w).all() for w in weights)
    with pytest.raises(TypeError, match="enabled"):
        kernels.set_enabled("yes")


@pytest.mark.parametrize("activation", ["linear", "relu", "tanh", "softmax", "sigmoid", "elu"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_in_place_inference_equals_each_layers_forward(activation, dtype):
    """engine.forward_inference applies common activations in place on z: bit for bit the layers' forward."""
    from mlplab.engine import forward_inference
    model = ml.Sequential([ml.Dense(7, activation, input_dim=5), ml.Dropout(0.3), ml.Dense(4, activation),
                           ml.Dense(3, activation, use_bias=False)], seed=0, dtype=dtype)
    x = np.random.default_rng(1).normal(size=(9, 5)).astype(dtype) * 3
    plain = x
    for layer in model.layers:
        plain = layer.forward(plain, False)
    np.testing.assert_array_equal(forward_inference(model.layers, x), plain)
    # predict takes the compiled stack (another summation order, libm's exp/tanh): equal up to rounding
    tight = {"float32": 1e-5, "float64": 1e-13}[dtype]
    np.testing.assert_allclose(model.predict(x), plain, rtol=tight, atol=tight)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, "inf and -inf"])
@pytest.mark.parametrize("zero_weights", [False, True])
def test_predict_checks_large_inputs_through_the_first_layer_exactly(bad, zero_weights):
    """For large x, predict scans the first Dense layer's z instead of x: a NaN/±inf anywhere in x is
    still reported, with its index, even where every weight it meets is 0 (inf·0 is NaN)."""
    model = ml.Sequential([ml.Dense(16, "relu", input_dim=100), ml.Dense(3, "softmax")], seed=0)
    x = np.random.default_rng(0).normal(size=(3000, 100)).astype(np.float32)
    assert x.size > 65536  # the large path
    if zero_weights:
        model.layers[0].params["weight"][37] = 0.0
    if bad == "inf and -inf":
        x[2500, 37], x[2500, 38] = np.inf, -np.inf
    else:
        x[2500, 37] = bad
    with pytest.raises(ValueError, match=r"`x`.*NaN/inf found at index \(2500, 37\)"):
        model.predict(x)
    x[2500, 37:39] = 1e30  # finite inputs whose products overflow: no input error, the outputs say it
    with np.errstate(over="ignore", invalid="ignore"):
        model.predict(x)
