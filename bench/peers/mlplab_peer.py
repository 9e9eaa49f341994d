"""mlplab: Keras-style API (`fit`, `predict`) and the explicit loop (`ml.train_step`)."""
import workloads as W

ml = None


def setup():
    global ml
    import numpy

    import mlplab

    ml = mlplab
    versions = {"mlplab": mlplab.__version__, "numpy": numpy.__version__}
    try:                                    # which Adam path is timed: the compiled kernel, if built, or NumPy
        from mlplab.engine import kernels
        versions["mlplab_kernels"] = "compiled" if kernels.available() else "numpy"
    except ImportError:
        pass
    return versions


def xor(variant, x, y):
    """variant "loop": `ml.train_step(model, x, y)` per step; "fit": one `model.fit(epochs=steps)` call."""
    model = ml.Sequential([ml.Dense(3, activation="sigmoid", input_dim=2),
                           ml.Dense(1, activation="sigmoid")], seed=W.SEED)
    model.compile(optimizer=ml.SGD(learning_rate=W.W1_LR), loss="binary_crossentropy")
    model.build((2,))
    y = y.reshape(-1, 1).astype("float32")      # the form fit gives train_step

    def run_loop(steps):
        for _ in range(steps):
            ml.train_step(model, x, y)

    def run_fit(steps):
        model.fit(x, y, epochs=steps, batch_size=None, verbose=0)

    return {"loop": run_loop, "fit": run_fit}[variant]


class Classifier:
    def __init__(self, hidden, batch_size, n_in=784, n_out=10):
        layers = [ml.Dense(units, activation="relu", kernel_initializer=W.MLPLAB_KERNEL_INIT,
                           input_dim=n_in if i == 0 else None) for i, units in enumerate(hidden)]
        layers.append(ml.Dense(n_out, activation="softmax", kernel_initializer=W.MLPLAB_KERNEL_INIT))
        self.model = ml.Sequential(layers, seed=W.SEED)
        self.model.compile(optimizer=ml.Adam(learning_rate=W.ADAM_LR), loss="sparse_categorical_crossentropy")
        self.batch_size = batch_size

    def train_epoch(self, x, y):
        self.model.fit(x, y, epochs=1, batch_size=self.batch_size, verbose=0)

    def predict(self, x, variant=None):
        return self.model.predict(x)
