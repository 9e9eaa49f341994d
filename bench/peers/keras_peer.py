"""Keras 3 on JAX (CPU): `compile` + `fit(..., verbose=0)`, NumPy arrays in, as a Keras user writes it.

Keras's softmax output with "sparse_categorical_crossentropy" computes the loss from the clipped
probabilities; that is Keras's usual form. `predict` is the variant "predict" (`model.predict`, one
batch of everything) or "call" (`model(x)`, eager, no predict loop).
"""
import os

import workloads as W

keras = None


def setup():
    global keras
    os.environ["KERAS_BACKEND"] = "jax"           # before the first import of keras
    os.environ.setdefault("JAX_PLATFORMS", "cpu")  # no accelerator probing on a CPU-only machine
    import jax
    import keras as _keras

    keras = _keras
    if keras.backend.backend() != "jax":
        raise ImportError(f"keras uses the {keras.backend.backend()!r} backend, not jax")
    keras.utils.set_random_seed(W.SEED)
    return {"keras": keras.__version__, "jax": jax.__version__}


def _dense(units, activation):
    kwargs = {} if W.KERAS_KERNEL_INIT is None else {"kernel_initializer": W.KERAS_KERNEL_INIT}
    return keras.layers.Dense(units, activation=activation, **kwargs)


def xor(variant, x, y):
    model = keras.Sequential([keras.Input(shape=(2,)), _dense(3, "sigmoid"), _dense(1, "sigmoid")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=W.W1_LR), loss="binary_crossentropy")
    y = y.reshape(-1, 1).astype("float32")

    def run(steps):
        model.fit(x, y, epochs=steps, batch_size=4, verbose=0)

    return run


class Classifier:
    def __init__(self, hidden, batch_size, n_in=784, n_out=10):
        layers = [keras.Input(shape=(n_in,))] + [_dense(units, "relu") for units in hidden]
        self.model = keras.Sequential(layers + [_dense(n_out, "softmax")])
        self.model.compile(optimizer=keras.optimizers.Adam(learning_rate=W.ADAM_LR),
                           loss="sparse_categorical_crossentropy")
        self.batch_size = batch_size

    def train_epoch(self, x, y):
        self.model.fit(x, y, epochs=1, batch_size=self.batch_size, shuffle=True, verbose=0)

    def predict(self, x, variant=None):
        if variant == "call":
            return keras.ops.convert_to_numpy(self.model(x, training=False))
        return self.model.predict(x, batch_size=len(x), verbose=0)
