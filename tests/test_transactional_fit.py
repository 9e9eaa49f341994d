"""`fit` is one transaction: an exception anywhere inside it, Ctrl-C included, leaves the model as it was
before fit (weights, BatchNormalization statistics, optimizer m/v/iterations, learning rate, random
generator, built or not), and the next fit gives exactly what it would have given without the failure.

The interrupt test raises KeyboardInterrupt at the k-th line executed inside the training step (the
engine's train_step/update, the optimizer's rules, the layers' passes, the loop and the callbacks),
for every k.
"""
import os
import sys

import numpy as np
import pytest

import mlplab as ml
import mlplab.core.base
import mlplab.core.callbacks
import mlplab.core.layers
import mlplab.core.optimizers
import mlplab.engine.buffers
import mlplab.training

# the step (engine), the update rules, the layers (BatchNormalization's moving statistics), the loop, callbacks
TRACED = {os.path.abspath(module.__file__) for module in
          (mlplab.engine.buffers, mlplab.core.optimizers, mlplab.core.layers, mlplab.core.base, mlplab.training,
           mlplab.core.callbacks)}
rng = np.random.default_rng(0)
X = rng.normal(size=(12, 3))
Y = (X[:, 0] + X[:, 1] > 0).astype(int)


def make_model(optimizer, built=True):
    model = ml.Sequential([ml.Dense(4, "relu", **({"input_dim": 3} if built else {})), ml.BatchNormalization(),
                           ml.Dropout(0.3), ml.Dense(2, "softmax")], seed=1)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def state_of(model):
    """Everything a fit may change, as plain values to compare exactly."""
    return {"built": model.built, "weights": [w.copy() for w in model.get_weights()] if model.built else None,
            "optimizer": model.optimizer.get_state(), "learning_rate": model.optimizer.learning_rate,
            "rng": model.rng.bit_generator.state}


def assert_same(before, after):
    assert before["built"] == after["built"]
    if before["weights"] is not None:
        assert len(before["weights"]) == len(after["weights"])
        assert all(np.array_equal(a, b) for a, b in zip(before["weights"], after["weights"]))
    assert before["optimizer"].keys() == after["optimizer"].keys()
    assert all(np.array_equal(before["optimizer"][k], after["optimizer"][k]) for k in before["optimizer"])
    assert before["learning_rate"] == after["learning_rate"] and before["rng"] == after["rng"]


class InterruptAt:
    """A tracer that raises KeyboardInterrupt at the k-th line event in the traced files (k=None: count)."""

    def __init__(self, k=None):
        self.k, self.count = k, 0

    def __enter__(self):
        sys.settrace(self.calls)
        return self

    def __exit__(self, *exc):
        sys.settrace(None)

    def calls(self, frame, event, arg):
        return self.lines if frame.f_code.co_filename in TRACED else None

    def lines(self, frame, event, arg):
        if event == "line":
            self.count += 1
            if self.count == self.k:
                sys.settrace(None)
                raise KeyboardInterrupt(f"line {self.k}")
        return self.lines


def fit(model, **kwargs):
    return model.fit(X, Y, epochs=2, batch_size=6, verbose=0, validation_split=0.0, **kwargs)


OPTIMIZERS = {"adam": lambda: ml.Adam(0.05), "sgd-momentum": lambda: ml.SGD(0.1, momentum=0.9, nesterov=True),
              "rmsprop-clipped": lambda: ml.RMSprop(0.01, clipnorm=0.5)}


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_an_interrupt_at_every_line_of_fit_leaves_the_model_as_it_was(optimizer):
    model = make_model(OPTIMIZERS[optimizer]())
    fit(model)  # optimizer state exists: an interrupt must not tear m, v or iterations
    reference = make_model(OPTIMIZERS[optimizer]())
    fit(reference)
    fit(reference)
    expected = state_of(reference)
    before = state_of(model)
    k = interrupt_at_every_line(model, lambda: assert_same(before, state_of(model)))
    assert k > 400  # every line of two epochs of two steps, the optimizer's rule included
    assert_same(expected, state_of(model))  # the fit that ran to the end trained as if nothing had happened


def interrupt_at_every_line(model, check, stride=1):
    """Fit with a KeyboardInterrupt at line k = 1, 1 + stride, ... until a fit runs to its end; `check()`
    after each interrupted one. Returns the k at which fit finished."""
    k = 1
    while True:
        try:
            with InterruptAt(k):
                fit(model)
            return k
        except KeyboardInterrupt as err:
            assert str(err) == f"line {k}"
        check()
        k += stride


def test_an_interrupt_in_the_first_fit_of_an_unbuilt_model_leaves_it_unbuilt():
    model = make_model(ml.Adam(0.05), built=False)
    before = state_of(model)

    def check():
        assert_same(before, state_of(model))
        assert all(not layer.built and not layer.params for layer in model.layers)

    interrupt_at_every_line(model, check, stride=7)
    reference = make_model(ml.Adam(0.05), built=False)
    fit(reference)
    assert_same(state_of(reference), state_of(model))  # the same initial weights were drawn


@pytest.mark.parametrize("where", ["on_batch_end", "on_epoch_end", "on_train_end"])
def test_an_error_in_a_callback_after_updates_rolls_the_fit_back(where):
    model = make_model(ml.Adam(0.05))
    fit(model)
    before = state_of(model)

    def fail(*args):
        raise RuntimeError("a user callback failed")

    with pytest.raises(RuntimeError, match="a user callback failed"):
        fit(model, callbacks=[ml.LambdaCallback(**{where: fail})])
    assert_same(before, state_of(model))


def test_a_learning_rate_reduced_during_a_failed_fit_is_put_back():
    model = make_model(ml.SGD(0.5))
    plateau = ml.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=1e9)
    with pytest.raises(RuntimeError):
        model.fit(X, Y, epochs=3, batch_size=6, verbose=0, callbacks=[plateau, ml.LambdaCallback(
            on_epoch_end=lambda epoch, logs: epoch == 2 and (_ for _ in ()).throw(RuntimeError("stop")))])
    assert model.optimizer.learning_rate == 0.5 and model.optimizer.iterations == 0


def test_a_second_ctrl_c_during_the_rollback_does_not_tear_it(monkeypatch):
    import signal

    model = make_model(ml.Adam(0.05))
    fit(model)
    before = state_of(model)
    real = model.optimizer.set_state

    def set_state_under_a_second_ctrl_c(state, **kwargs):
        signal.raise_signal(signal.SIGINT)  # arrives in the middle of the rollback
        real(state, **kwargs)

    monkeypatch.setattr(model.optimizer, "set_state", set_state_under_a_second_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        fit(model, callbacks=[ml.LambdaCallback(on_epoch_end=lambda epoch, logs: 1 / 0)])
    monkeypatch.undo()
    assert_same(before, state_of(model))
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
