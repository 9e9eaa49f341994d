"""The engine cannot fool its users: custom layers, copies, files, threads and frozen layers.

- a layer's backward may assign new gradient arrays or write in place: both train like ml.Dense;
- optimizer state is keyed by (layer, parameter): deepcopy, pickle and config + weights + state all
  continue training bit for bit like the original;
- inference stores nothing: predictions from other threads leave a concurrent fit's result unchanged;
- `trainable = False` freezes a layer.
"""
import copy
import pickle
import threading

import numpy as np
import pytest

import mlplab as ml
from mlplab.engine import engine_for

OPTIMIZERS = {
    "sgd": lambda: ml.SGD(0.1),
    "momentum": lambda: ml.SGD(0.05, momentum=0.9),
    "nesterov": lambda: ml.SGD(0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "rmsprop": lambda: ml.RMSprop(0.01),
    "adagrad": lambda: ml.Adagrad(0.05),
    "adam": lambda: ml.Adam(0.01),
    "adamw": lambda: ml.AdamW(0.01, weight_decay=0.1),
}


class Affine(ml.Layer):
    """z = x W + b written by a user: backward either assigns new gradient arrays or writes in place."""

    def __init__(self, units, in_place, name=None):
        super().__init__(name=name)
        self.units, self.in_place = units, in_place

    def _create_params(self, input_shape):
        self.params["weight"] = np.zeros((input_shape[0], self.units), self.dtype)
        self.params["bias"] = np.zeros(self.units, self.dtype)

    def compute_output_shape(self, input_shape):
        return (self.units,)

    def forward(self, x, training=False):
        if training:
            self.input = x
        return x @ self.params["weight"] + self.params["bias"]

    def backward(self, grad_output):
        if self.in_place:
            self.grads["weight"][...] = self.input.T @ grad_output
            self.grads["bias"][...] = grad_output.sum(axis=0)
        else:
            self.grads["weight"] = self.input.T @ grad_output
            self.grads["bias"] = grad_output.sum(axis=0)
        return grad_output @ self.params["weight"].T


def _data(n=48, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    return x, (x[:, :1] * x[:, 1:2] > 0).astype(float)


def _net(hidden, seed=0):
    model = ml.Sequential([ml.Dense(6, "tanh", input_dim=4), hidden, ml.Activation("tanh"),
                           ml.Dense(1, "sigmoid")], seed=seed, dtype="float64")
    if isinstance(hidden, Affine):  # the built-in Dense twin's initial weights and generator state
        twin = _net(ml.Dense(5), seed)
        model.set_weights(twin.get_weights())
        model.rng.bit_generator.state = twin.rng.bit_generator.state
    return model


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_custom_layers_assigning_or_in_place_train_like_dense(name):
    x, y = _data()
    results = {}
    for kind, hidden in {"dense": ml.Dense(5), "assign": Affine(5, False), "in place": Affine(5, True)}.items():
        model = _net(hidden)
        model.compile(OPTIMIZERS[name](), "binary_crossentropy")
        model.fit(x, y, epochs=4, batch_size=16, verbose=0)
        assert len(model.optimizer.state) == 6  # one entry per parameter: no growth per step
        results[kind] = model.get_weights()
    for kind in ("assign", "in place"):
        for got, want in zip(results[kind], results["dense"]):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14, err_msg=kind)
    assert not np.allclose(results["dense"][2], _net(ml.Dense(5)).get_weights()[2])  # it trained


def test_a_replaced_gradient_of_the_wrong_shape_is_named():
    class Broken(Affine):
        def backward(self, grad_output):
            result = super().backward(grad_output)
            self.grads["bias"] = np.zeros(3)
            return result

    model = _net(Broken(5, False, name="mine"))
    model.compile(ml.SGD(0.1), "binary_crossentropy")
    with pytest.raises(ValueError, match=r"mine\.grads\['bias'\].*shape \(5,\)"):
        model.fit(*_data(), epochs=1, verbose=0)


def _trained(seed=0):
    x, y = _data()
    model = ml.Sequential([ml.Dense(8, "relu", input_dim=4), ml.Dropout(0.2), ml.BatchNormalization(),
                           ml.Dense(1, "sigmoid")], seed=seed)
    model.compile(ml.Adam(0.01), "binary_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    return model


def _rebuilt_from_parts(model):
    """What a model file holds: config, weights, compile config, optimizer state, rng state."""
    clone = ml.Sequential.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    clone.compile_from_config(model.get_compile_config())
    clone.optimizer.set_state(model.optimizer.get_state(), clone)
    clone.rng.bit_generator.state = model.rng.bit_generator.state
    for mine, theirs in zip(clone.layers, model.layers):  # Dropout draws from the model's generator
        mine.rng = clone.rng if theirs.rng is model.rng else mine.rng
    return clone


@pytest.mark.parametrize("how", ["deepcopy", "pickle", "config + weights + state"])
def test_a_copied_model_continues_training_bit_for_bit(how):
    x, y = _data()
    original = _trained()
    copied = {"deepcopy": copy.deepcopy, "pickle": lambda m: pickle.loads(pickle.dumps(m)),
              "config + weights + state": _rebuilt_from_parts}[how](original)
    original.fit(x, y, epochs=2, batch_size=16, verbose=0)
    copied.fit(x, y, epochs=2, batch_size=16, verbose=0)
    for got, want in zip(copied.get_weights(), original.get_weights()):
        np.testing.assert_array_equal(got, want)
    assert copied.optimizer.iterations == original.optimizer.iterations == 5 * 3


def test_optimizer_state_round_trips_and_bad_state_changes_nothing():
    model = _trained()
    state = model.optimizer.get_state()
    assert state["iterations"] == 9 and set(state) == {"iterations"} | {
        f"{layer.name}/{key}/{slot}" for layer in model.layers for key in layer.params for slot in ("m", "v")}
    assert all(isinstance(value, np.ndarray) for value in state.values())
    state["dense/weight/m"][...] = 7.0  # a copy: the optimizer's own arrays are untouched
    assert not np.any(model.optimizer.state[("dense", "weight")]["m"] == 7.0)
    for bad, message in [({**state, "dense/weight/m": np.zeros((2, 2))}, r"shape \(4, 8\)"),
                         ({**state, "nope/weight/m": np.zeros(3)}, "trainable parameters"),
                         ({**state, "dense/weight/velocity": np.zeros((4, 8))}, "slot"),
                         ({k: v for k, v in state.items() if k != "iterations"}, "iterations")]:
        before = model.optimizer.get_state()
        with pytest.raises(ValueError, match=message):
            model.optimizer.set_state(bad, model)
        after = model.optimizer.get_state()
        assert all(np.array_equal(after[k], before[k]) for k in before)


def test_inference_stores_nothing_in_any_layer():
    model = _trained()
    x = _data()[0]
    before = {id(layer): dict(vars(layer)) for layer in model.layers}
    activations = {id(layer.activation): dict(vars(layer.activation)) for layer in model.layers
                   if hasattr(layer, "activation")}
    model.predict(x)
    model.evaluate(x, _data()[1])
    model.forward(x, training=False)
    model.layer_outputs(x)
    for layer in model.layers:
        assert vars(layer).keys() == before[id(layer)].keys()
        assert all(vars(layer)[k] is v for k, v in before[id(layer)].items())
        if hasattr(layer, "activation"):
            assert all(vars(layer.activation)[k] is v for k, v in activations[id(layer.activation)].items())


def test_threads_predicting_during_fit_change_nothing():
    x, y = _data(n=400)
    reference, model = _trained(), _trained()
    reference.fit(x, y, epochs=6, batch_size=8, verbose=0)
    stop, outputs, errors = threading.Event(), [], []

    def predict_forever():
        try:
            while not stop.is_set():
                outputs.append(model.predict(x[:50]))
                model.evaluate(x[:50], y[:50])
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=predict_forever) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        model.fit(x, y, epochs=6, batch_size=8, verbose=0)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not errors and len(outputs) > 2
    for got, want in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(got, want)


def test_a_frozen_layer_is_not_updated_and_counted_as_non_trainable():
    x, y = _data()
    model = _trained()
    model.layers[0].trainable = False
    model.layers[2].trainable = False  # BatchNormalization: frozen, it normalizes with its moving statistics
    frozen = [w.copy() for layer in (model.layers[0], model.layers[2]) for w in layer.get_weights()]
    last = model.layers[-1].get_weights()
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    after = [w for layer in (model.layers[0], model.layers[2]) for w in layer.get_weights()]
    assert all(np.array_equal(a, b) for a, b in zip(frozen, after))
    assert not np.array_equal(model.layers[-1].get_weights()[0], last[0])
    text = model.summary(print_fn=None)
    trainable = model.layers[-1].count_params() + 0
    assert f"Trainable params: {trainable}" in text
    assert f"Non-trainable params: {model.count_params() - trainable}" in text and "frozen" in text
    clone = ml.Sequential.from_config(model.get_config())
    assert [layer.trainable for layer in clone.layers] == [False, True, False, True]
    model.layers[0].trainable = True  # unfreezing: the next fit trains it again
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert not np.array_equal(model.layers[0].get_weights()[0], frozen[0])


def test_engine_packs_again_when_the_model_changes():
    model = _trained()
    engine = engine_for(model)
    assert engine_for(model) is engine
    model.compile(ml.SGD(0.1), "binary_crossentropy")
    assert engine_for(model) is not engine


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "rmsprop"])
def test_fit_after_set_state_on_a_trained_model_continues(optimizer):
    """engine_key once compared the optimizer state by value (NumPy: 'truth value ... ambiguous')."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 3)), rng.integers(0, 2, size=40)
    model = ml.Sequential([ml.Dense(4, "relu", input_dim=3), ml.Dense(1, "sigmoid")], seed=0)
    model.compile(optimizer=optimizer, loss="binary_crossentropy")
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    twin = copy.deepcopy(model)
    model.optimizer.set_state(model.optimizer.get_state(), model=model)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    twin.fit(x, y, epochs=2, batch_size=8, verbose=0)
    for mine, theirs in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
