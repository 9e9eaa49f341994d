"""`Sequential`: a stack of layers that owns the chain rule, plus the Keras-style compile/fit/evaluate/predict."""
from __future__ import annotations

import copy
import numbers

import numpy as np

from mlplab import training
from mlplab.core.checks import (OPTIONAL, REQUIRED, all_finite, as_array, check_config, check_finite, check_string,
                                 check_weight, invalid, make_rng, resolve_dtype)
from mlplab.core.base import Layer, backward_pass, copy_weights, weight_list
from mlplab.engine import inference, outofcore
from mlplab.engine.buffers import WATCHED_ACTIVATIONS, activation_statistic, norm, pack
from mlplab.engine.fused import check_output_matches_loss, fused_loss_name, output_plan
from mlplab.core.layers import Dense, declared_input_shape, layer_from_config
from mlplab.core.sparse import SparseRows, is_sparse
from mlplab.core.losses import LOSSES, get_loss
from mlplab.core.metrics import METRICS, Accuracy, get_metric
from mlplab.core.registry import MODELS
from mlplab.core.optimizers import OPTIMIZERS, get_optimizer
from mlplab.training import NotCompiledError  # noqa: F401 (mlplab.model.NotCompiledError, as before)

LAYER_SCHEMA = {"class_name": (str, REQUIRED), "config": (dict, REQUIRED), "trainable": (bool, OPTIONAL)}
CONFIG_SCHEMA = {"layers": ([LAYER_SCHEMA], REQUIRED), "seed": ((numbers.Integral, type(None)), OPTIONAL),
                 "dtype": (str, OPTIONAL), "name": (str, OPTIONAL)}  # what get_config() writes
PREDICT_ROWS = 1024  # rows per forward pass in predict when no batch_size is given


@MODELS.register("sequential")
class Sequential:
    """A linear stack of layers.

    >>> model = Sequential([Dense(3, "sigmoid", input_dim=2), Dense(1, "sigmoid")], seed=0)
    >>> model.compile(optimizer=SGD(0.5), loss="binary_crossentropy", metrics=["accuracy"])

    One `numpy.random.Generator` from `seed` drives initialisation, shuffling and dropout, so the same
    seed and data give bit-identical weights. `dtype` is "float32" (default) or "float64".
    """

    def __init__(self, layers=None, *, seed=None, dtype="float32", name: str = "sequential"):
        self.dtype = resolve_dtype(dtype)
        self.seed = seed
        self.rng = make_rng(seed)
        self.name = check_string("name", name)
        self.layers: list[Layer] = []
        self.input_shape: tuple | None = None
        self.built = False
        self.compiled = False
        self.stop_training = False
        self._engine = None  # packed by the engine when training starts (mlplab.engine)
        if layers is not None and not isinstance(layers, (list, tuple)):
            raise TypeError(f"Invalid type for argument `layers`: expected a list of layers. Received: {layers!r}.")
        for layer in layers or []:
            layer.name = self._new_name(layer)
            self.layers.append(layer)
        if self.layers and declared_input_shape(self.layers[0]) is not None:
            self.build(declared_input_shape(self.layers[0]))  # once, with every layer

    # -- construction ---------------------------------------------------------------------------
    def add(self, layer: Layer) -> None:
        """Append a layer. On a built model the layer is built on the current output and the
        parameters are packed again; on error the model is unchanged."""
        name = self._new_name(layer)
        if self.built:
            layer.build(self.output_shape, self.rng, self.dtype)
        layer.name = name
        self.layers.append(layer)
        if self.built:
            self._pack()
        elif len(self.layers) == 1 and declared_input_shape(layer) is not None:
            self.build(declared_input_shape(layer))

    def _new_name(self, layer) -> str:
        """The layer's name in this model (its own, or dense, dense_1, ...), checked to be unique."""
        if not isinstance(layer, Layer):
            raise TypeError(f"Invalid type for argument `layer`: expected an ml layer (e.g. ml.Dense). "
                            f"Received: {layer!r}.")
        name = layer.name
        if name is None:
            kind = type(layer).__name__.lower()
            count = sum(type(other) is type(layer) for other in self.layers)
            name = kind if count == 0 else f"{kind}_{count}"
        if any(other.name == name for other in self.layers):
            raise invalid("layer.name", "a name not used by another layer of this model", name)
        return name

    def build(self, input_shape) -> None:
        """Create every layer's parameters for inputs of shape (n_samples, *input_shape)."""
        if not self.layers:
            raise ValueError("The model has no layers: pass a list of layers to Sequential([...]).")
        shape = tuple(int(d) for d in input_shape)
        self.output_shapes(shape)  # raises before anything is created if a layer cannot take its input
        self.input_shape = shape
        for layer in self.layers:
            shape = layer.build(shape, self.rng, self.dtype)
        self._pack()
        self.built = True

    def _pack(self) -> None:
        """Put all parameters (and all gradients) in one flat vector now, as training will: arrays taken
        from the layers after build stay the ones training updates (unless a layer is frozen)."""
        places = [(layer, key) for layer in self.layers for key in layer.params]
        pack([(layer.params, key) for layer, key in places], self.dtype)
        pack([(layer.grads, key) for layer, key in places], self.dtype)

    def output_shapes(self, input_shape) -> list[tuple]:
        shapes, shape = [], tuple(input_shape)
        for layer in self.layers:
            if isinstance(layer, Dense) and len(shape) != 1:
                raise invalid("x", f"inputs of shape (n_samples, n_features) for layer {layer.name!r}; "
                                   "add ml.Flatten() before it", (None, *shape))
            shape = layer.compute_output_shape(shape)
            shapes.append(shape)
        return shapes

    @property
    def output_shape(self) -> tuple | None:
        return self.output_shapes(self.input_shape)[-1] if self.built else None

    # -- the chain rule -------------------------------------------------------------------------
    def forward(self, x, training: bool = False) -> np.ndarray:
        """Run every layer in order; in training mode each keeps what its backward pass needs, in
        inference mode none stores anything."""
        x = self.check_input(x, finite=False) if is_sparse(x) else np.asarray(x, dtype=self.dtype)
        if not self.built:
            self.check_input(x)
            self.build(x.shape[1:])
        for layer in self.layers:
            x = layer.forward(x, training)
        return x

    __call__ = forward

    def backward(self, grad_output, stop_at=None) -> np.ndarray | None:
        """Backpropagate dL/d(output) through the layers in reverse; fills every layer's `grads` and
        returns dL/d(input). The chain rule is one loop, `backward_pass` (mlplab.core.base): each layer
        knows only its own derivative. `fit` runs the same loop with `stop_at` the lowest trainable layer."""
        return backward_pass(self.layers, grad_output, stop_at)

    def layer_outputs(self, x) -> list[np.ndarray]:
        """Each layer's output for inputs `x`, in inference mode (what plots of hidden layers show)."""
        x = self.check_input(x)
        if not self.built:
            self.build(x.shape[1:])
        outputs = []
        for layer in self.layers:
            x = layer.forward(x, False)
            outputs.append(x)
        return outputs

    def parameters(self):
        """(parameter, gradient) pairs of every layer, in Keras weight order."""
        return [(layer.params[key], layer.grads[key]) for layer in self.layers for key in layer.params]

    def zero_grad(self) -> None:
        for _, grad in self.parameters():
            grad.fill(0)

    def regularization_loss(self) -> float:
        return float(sum(layer.regularization_loss() for layer in self.layers))

    # -- weights --------------------------------------------------------------------------------
    def get_weights(self) -> list[np.ndarray]:
        """All weights in Keras order: [W1 (in, out), b1, W2, b2, ...] (BatchNormalization: γ, β, mean, var)."""
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights, check_finite: bool = True) -> None:
        """Copy `weights` (as from get_weights) into the model; all shapes are checked before any copy."""
        weights = weight_list(weights)
        if not self.built:
            first = self.layers[0] if self.layers else None
            kernel = check_weight("weights[0]", weights[0], None, self.dtype, finite=check_finite) if weights else None
            if not (isinstance(first, Dense) and kernel is not None and kernel.ndim == 2):
                raise ValueError("The model is not built yet: give the first layer input_dim=... or call "
                                 "model.build(input_shape) before set_weights.")
            trial = copy.deepcopy(self)  # check on a built copy first: on error this model stays unbuilt
            trial.build((kernel.shape[0],))
            trial.set_weights(weights, check_finite)
            self.build((kernel.shape[0],))
        targets = [t for layer in self.layers for t in layer.weight_arrays()]
        copy_weights(targets, weights, check_finite, where=" (Keras order: W1, b1, W2, b2, ...)")

    def count_params(self) -> int:
        return sum(layer.count_params() for layer in self.layers)

    def count_trainable_params(self) -> int:
        return sum(layer.count_params() for layer in self.layers if layer.trainable)

    # -- Keras-style API --------------------------------------------------------------------------
    def compile(self, optimizer="adam", loss="mean_squared_error", metrics=None) -> None:
        """Choose the optimizer, the loss and the metrics. A softmax/sigmoid output with its
        cross-entropy is trained in the fused form (log-sum-exp on the logits, gradient p − y)."""
        optimizer = get_optimizer(optimizer)
        loss = get_loss(loss)
        if metrics is not None and not isinstance(metrics, (list, tuple)):
            raise TypeError(f"Invalid type for argument `metrics`: expected a list such as ['accuracy']. "
                            f"Received: {metrics!r}.")
        metric_objects = [get_metric(m) for m in metrics or []]
        check_output_matches_loss(self.layers, loss)
        for metric in metric_objects:
            if isinstance(metric, Accuracy) and loss.from_logits:
                metric.threshold = 0.0  # outputs are logits: p > 0.5 ⇔ z > 0
        self.optimizer, self.loss, self.metrics = optimizer, loss, metric_objects
        self.compiled = True

    def get_compile_config(self) -> dict | None:
        """The compile settings as JSON-able registered names and configs (None before compile)."""
        if not self.compiled:
            return None
        optimizer = OPTIMIZERS.serialize(self.optimizer)
        if callable(self.optimizer.learning_rate):
            raise ValueError("Cannot put a learning-rate schedule in a compile config yet: use a float rate.")
        return {"optimizer": optimizer, "loss": LOSSES.serialize(self.loss),
                "metrics": [METRICS.serialize(metric) for metric in self.metrics]}

    def compile_from_config(self, config: dict) -> None:
        """compile() from what get_compile_config() returned: registered names only."""
        if not isinstance(config, dict) or not {"optimizer", "loss"} <= set(config):
            raise invalid("config", "a dict from get_compile_config() with 'optimizer' and 'loss'", config)
        self.compile(optimizer=OPTIMIZERS.resolve(config["optimizer"], "optimizer", "an optimizer config"),
                     loss=LOSSES.resolve(config["loss"], "loss", "a loss config"),
                     metrics=[METRICS.resolve(m, "metrics", "a metric config") for m in config.get("metrics", [])])

    def fit(self, x, y=None, epochs: int = 1, batch_size: int | None = 32, *, validation_split: float = 0.0,
            validation_data=None, shuffle: bool = True, callbacks=None, verbose: int = 1, nan_guard: bool = True,
            sample_weight=None, class_weight=None):
        """Train for `epochs` passes over (x, y); returns a History (`history.history["val_loss"]`, ...).
        x may also be chunks of a table larger than memory: a Dask array (y one too) or (x, y) pairs.

        batch_size=None trains on the full batch. validation_split holds out a *shuffled* fraction.
        sample_weight (one per sample) and class_weight ({class: weight} or "balanced") weight each
        sample's loss and metrics, as in Keras. Everything is validated first: on bad input nothing
        about the model changes.
        """
        if outofcore.is_chunked(x):  # chunks of a table larger than memory: one chunk in memory at a time
            return outofcore.fit_chunks(self, x, y, epochs=epochs, batch_size=batch_size, shuffle=shuffle,
                                        verbose=verbose, validation_data=validation_data, nan_guard=nan_guard,
                                        validation_split=validation_split, callbacks=callbacks,
                                        sample_weight=sample_weight, class_weight=class_weight)
        before = self._before_fit()
        try:
            return training.fit(self, x, y, epochs=epochs, batch_size=batch_size, validation_split=validation_split,
                                validation_data=validation_data, shuffle=shuffle, callbacks=callbacks,
                                verbose=verbose, nan_guard=nan_guard, sample_weight=sample_weight,
                                class_weight=class_weight)
        except BaseException:
            self._undo_unstarted_fit(before)
            raise

    def _before_fit(self):
        """What a fit that fails before its first update must put back (a callback refusing the setup in
        on_train_begin runs after the model was built and the validation rows were drawn)."""
        optimizer = getattr(self, "optimizer", None)
        return (self.built, copy.deepcopy(self.rng.bit_generator.state),
                None if optimizer is None else (optimizer.iterations, dict(optimizer.state)))

    def _undo_unstarted_fit(self, before) -> None:
        built, rng_state, optimizer_state = before
        optimizer = getattr(self, "optimizer", None)
        if optimizer is None or optimizer_state is None or optimizer.iterations != optimizer_state[0]:
            return  # steps were taken: what they leave is training's transaction (mlplab.training)
        self.rng.bit_generator.state = rng_state
        if set(optimizer.state) != set(optimizer_state[1]):  # slots made for the fit that never ran
            optimizer.state, self._engine = optimizer_state[1], None  # the engine is packed again when needed
        if not built:
            self._engine, self.built, self.input_shape = None, False, None
            for layer in self.layers:
                layer.built, layer.input_shape, layer.params, layer.grads, layer.state = False, None, {}, {}, {}

    def evaluate(self, x, y, batch_size: int | None = None, verbose: int = 0, sample_weight=None) -> dict[str, float]:
        """Loss (including regularization) and metrics on (x, y), in inference mode: {"loss": ..., ...}."""
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below, naming where
            logs = training.evaluate(self, x, y, batch_size=batch_size, verbose=verbose, sample_weight=sample_weight)
        if not np.isfinite(logs["loss"]):  # x, y and the weights passed their checks: something overflowed
            x = self.check_input(x)
            for start in range(0, len(x), PREDICT_ROWS):
                chunk = x[start:start + PREDICT_ROWS]
                with np.errstate(all="ignore"):
                    output = inference.predict(self.layers, chunk, PREDICT_ROWS, lambda *_: None)
                if not all_finite(output):
                    row = start + int(np.argwhere(~np.isfinite(output.reshape(len(output), -1)))[0][0])
                    raise self._non_finite_error(x[row:row + 1], f"row {row} of x")
            where = ("the regularization penalty" if not np.isfinite(self.regularization_loss())
                     else f"the loss ({type(self.loss).__name__}) of finite outputs and targets")
            raise FloatingPointError(
                f"evaluate: {where} overflowed to {logs['loss']} in {self.dtype.name}. Rescale the targets "
                f"(e.g. divide y by its scale)" + (" or build the model with dtype='float64'."
                                                   if self.dtype == np.float32 else "."))
        return logs

    def predict(self, x, batch_size: int | None = None) -> np.ndarray:
        """Outputs in inference mode: probabilities for softmax/sigmoid outputs.

        A row's output does not depend on the other rows, bit for bit (docs/performance.md). A Dask array
        or DataFrame gives a lazy one of the outputs (docs/performance.md, tables larger than memory).
        """
        training.check_batch_size(batch_size)
        if outofcore.is_dask(x):  # lazy: a Dask array or DataFrame of outputs, block by block
            return outofcore.predict_dask(self, x, batch_size)
        source, x = x, self.check_input(x, finite=self.built is False)  # unbuilt: built only for valid input
        if not self.built:
            self.build(x.shape[1:])
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below, naming the layer
            output = inference.predict(self.layers, x, batch_size or PREDICT_ROWS, lambda chunk, start: check_finite(
                "x", chunk, start, whole=x, source=source))
        if not all_finite(output):  # the input was finite: something overflowed inside the network
            row = int(np.argwhere(~np.isfinite(output.reshape(len(output), -1)))[0][0])
            raise self._non_finite_error(x[row:row + 1], f"row {row} of x")
        return output

    def _non_finite_error(self, x, what: str) -> FloatingPointError:
        """The error for non-finite values computed from finite `x`: reruns the layers one by one
        (`layer.forward(x, False)`, a failure path only) and names the first whose output is not finite."""
        with np.errstate(all="ignore"):
            for layer in self.layers:
                x = layer.forward(x, False)
                if not all_finite(x):
                    weights_bad = not all(all_finite(w) for w in layer.weight_arrays())
                    cause = ("its weights hold NaN/inf (did training diverge? ml.NaNGuard restores the last "
                             "finite weights)" if weights_bad else f"the values overflow {self.dtype.name}")
                    return FloatingPointError(
                        f"Layer {layer.name!r} ({type(layer).__name__}) produced non-finite values (NaN/inf) from "
                        f"finite input ({what}): {cause}. Rescale the input (e.g. ml.preprocessing.Standardizer) or build the "
                        f"model with dtype='float64'.")
        return FloatingPointError(f"Non-finite values (NaN/inf) from finite input ({what}): the values "
                                  f"overflow {self.dtype.name}. Rescale the data or use dtype='float64'.")

    def check_input(self, x, name: str = "x", finite: bool = True) -> np.ndarray:
        """`x` as the model takes it (an array of its dtype and input shape), or a ValueError/TypeError
        naming `name`. Builds nothing."""
        if not self.layers:
            raise ValueError("The model has no layers: add some (Sequential([...]) or model.add(...)) first.")
        if (type(x) is np.ndarray and x.dtype == self.dtype and self.built and x.size
                and x.shape[1:] == tuple(self.input_shape)):  # already what the model takes: the checks that remain
            if finite:
                check_finite(name, x)
            return x
        x = as_array(name, x, self.dtype, min_ndim=2, finite=finite)
        if isinstance(x, SparseRows) and not isinstance(self.layers[0], Dense):
            raise invalid(name, "a dense array: sparse input goes only into a first ml.Dense layer", x)
        expected = self.input_shape or declared_input_shape(self.layers[0]) if self.layers else None
        if expected is not None and x.shape[1:] != tuple(expected):
            raise invalid(name, f"an array of shape (n_samples, {', '.join(map(str, expected))}) as the model "
                                f"was built for", x)
        if expected is None:
            self.output_shapes(x.shape[1:])
        return x

    def output_plan(self, loss=None):
        """(the layers training runs, the fused loss or None) for `loss` (default: the compiled one). With a
        softmax/sigmoid output and its cross-entropy, the last layer runs as its linear part and the loss
        takes the logits."""
        return output_plan(self.layers, self.loss if loss is None else loss)

    # -- diagnostics ----------------------------------------------------------------------------
    def gradient_norms(self) -> dict[str, float]:
        """‖dL/dW‖₂ of each layer's first parameter (its weight), from the last backward pass."""
        return {layer.name: norm(next(iter(layer.grads.values()))) for layer in self.layers if layer.grads}

    def activation_stats(self) -> dict[str, dict[str, float]]:
        """From the last forward pass: dead ReLU units (zero for every sample in the batch) and
        saturated sigmoid (< 0.01 or > 0.99) / tanh (|a| > 0.99) outputs, as fractions."""
        stats = {}
        for layer in self.layers:
            activation = getattr(layer, "activation", None)
            output = getattr(activation, "output", None)
            if output is not None and isinstance(activation, WATCHED_ACTIVATIONS):
                stats[layer.name] = activation_statistic(activation, output)
        return stats

    # -- display and config ---------------------------------------------------------------------
    def summary(self, print_fn=print) -> str:
        """Print (and return) each layer with its output shape and parameter count."""
        if print_fn is not None and not callable(print_fn):
            raise TypeError(f"Invalid type for argument `print_fn`: expected a function such as print, or None. "
                            f"Received: {print_fn!r}.")
        shapes = self.output_shapes(self.input_shape) if self.built else [None] * len(self.layers)
        rows = [(f"{layer.name} ({type(layer).__name__}{'' if layer.trainable else ', frozen'})",
                 "(None, " + ", ".join(map(str, s)) + ")" if s else "?",
                 str(layer.count_params()) if layer.built else "?") for layer, s in zip(self.layers, shapes)]
        widths = [max(len(h), *(len(r[i]) for r in rows)) + 2 for i, h in enumerate(("Layer (type)", "Output Shape", "Param #"))]
        line = "".join(h.ljust(w) for h, w in zip(("Layer (type)", "Output Shape", "Param #"), widths))
        text = [f'Model: "{self.name}"', "=" * len(line), line, "-" * len(line)]
        text += ["".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
        text += ["=" * len(line), f"Total params: {self.count_params() if self.built else '? (not built)'}"]
        if self.built:
            trainable = self.count_trainable_params()
            text += [f"Trainable params: {trainable}", f"Non-trainable params: {self.count_params() - trainable}"]
        fused = fused_loss_name(self)
        if fused:
            text.append(f"Training fuses the output {fused} with {type(self.loss).__name__} "
                        f"(log-sum-exp form, gradient p - y).")
        result = "\n".join(text)
        if print_fn is not None:
            print_fn(result)
        return result

    def get_config(self) -> dict:
        return {"name": self.name, "seed": self.seed, "dtype": self.dtype.name,
                "layers": [{"class_name": type(layer).__name__, "config": layer.get_config(),
                            **({} if layer.trainable else {"trainable": False})} for layer in self.layers]}

    @classmethod
    def from_config(cls, config: dict) -> "Sequential":
        """The model get_config() described; the dict is checked against CONFIG_SCHEMA first, and an error
        names the path of the bad field (e.g. config['layers'][1]['config'])."""
        check_config(config, CONFIG_SCHEMA)
        layers = [layer_from_config(item["class_name"], item["config"], item.get("trainable", True),
                                    f"config['layers'][{index}]") for index, item in enumerate(config["layers"])]
        return cls(layers, seed=config.get("seed"), dtype=config.get("dtype", "float32"),
                   name=config.get("name", "sequential"))

    def __getstate__(self):
        """Copies and pickles leave the engine behind: a copy packs its own buffers when it trains."""
        return {**self.__dict__, "_engine": None}

    def __repr__(self):
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return f"Sequential([\n  {inner}\n])"

    # -- files (mlplab.files: loaded on first use) -------------------------------
    def save(self, path, include_optimizer=None) -> None:
        """Write the model to one file that can never run code (see mlplab.files); reload with ml.load_model."""
        from mlplab.files.model_files import save_model
        save_model(self, path, include_optimizer=include_optimizer)

    def save_weights(self, path) -> None:
        from mlplab.files.model_files import save_weights
        save_weights(self, path)

    def load_weights(self, path) -> None:
        from mlplab.files.model_files import load_weights
        load_weights(self, path)

    def export_onnx(self, path) -> None:
        """Write an ONNX graph of the model in inference mode (needs `pip install mlplab[onnx]`)."""
        from mlplab.files.onnx import export_onnx
        export_onnx(self, path)
