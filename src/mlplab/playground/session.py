"""One page's state: its data, its network and its training, all in mlplab, with no web code.

`Session.configure(config)` validates a JSON settings dict from the page (every value checked against a
fixed choice or a bounded number; nothing is ever evaluated) and rebuilds the data and the model.
`train_for(seconds)` trains whole epochs, `snapshot()` is what the page draws, and `explain()`,
`model_file()`, `script()` and `data_csv()` back the "explain one step" dialog and the three exports.
"""
from __future__ import annotations

import base64
import copy
import math
import numbers
import time

import numpy as np

import mlplab as ml

from mlplab.playground import data as playground_data
from mlplab.playground.data import DATASETS, EXTENT, MAX_CLASSES, MAX_COLUMNS, MAX_MAGNITUDE, MAX_SAMPLES

MAX_LAYERS, MAX_UNITS = 8, 32
GRID, NEURON_GRID, CURVE_POINTS = 50, 20, 120
ACTIVATIONS = ["relu", "tanh", "sigmoid", "linear", "leaky_relu", "elu", "softplus"]
LOSSES = {"binary": ["binary_crossentropy", "mean_squared_error"],
          "multiclass": ["sparse_categorical_crossentropy"],
          "regression": ["mean_squared_error", "mean_absolute_error"]}
OPTIMIZERS = ["sgd", "momentum", "adam"]
SCHEDULES = ["none", "step", "exponential", "cosine"]
REGULARIZATIONS = ["none", "l1", "l2"]

DEFAULTS = {
    "dataset": "circle", "n_samples": 400, "noise": 0, "train_ratio": 50, "seed": 0,
    "features": ["x1", "x2"], "layers": [{"units": 4, "activation": "tanh"}, {"units": 2, "activation": "tanh"}],
    "dropout": 0.0, "batch_norm": False, "regularization": "none", "regularization_rate": 0.0,
    "loss": "auto", "optimizer": "adam", "learning_rate": 0.03, "schedule": "none", "batch_size": 10,
    "points": [], "columns": ["x1", "x2"], "lesson": None, "lesson_step": 0,
}
TABLE_EXTENT = 3.0  # a table's heatmap spans ±3 standard deviations of each chosen column


class PlaygroundError(ValueError):
    """A request the playground refuses, with a message meant for the page."""


def _choice(config, key, choices):
    value = config.get(key, DEFAULTS.get(key))
    if not isinstance(value, str) or value not in choices:
        raise PlaygroundError(f"{key}: expected one of {', '.join(map(str, choices))}; received {value!r}.")
    return value


def _number(config, key, low, high, integer=False):
    value = config.get(key, DEFAULTS.get(key))
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind) or not math.isfinite(value) or not low <= value <= high:
        kind_name = "an integer" if integer else "a number"
        raise PlaygroundError(f"{key}: expected {kind_name} from {low} to {high}; received {value!r}.")
    return int(value) if integer else float(value)


def validate(config) -> dict:
    """A clean copy of the page's settings, or PlaygroundError naming the first bad setting."""
    if not isinstance(config, dict):
        raise PlaygroundError(f"settings: expected an object; received {type(config).__name__}.")
    unknown = sorted(set(config) - set(DEFAULTS))
    if unknown:
        raise PlaygroundError(f"settings: unknown names {unknown}; valid names: {sorted(DEFAULTS)}.")
    clean = {
        "dataset": _choice(config, "dataset", list(DATASETS)),
        "n_samples": _number(config, "n_samples", 20, MAX_SAMPLES, integer=True),
        "noise": _number(config, "noise", 0, 50, integer=True),
        "train_ratio": _number(config, "train_ratio", 10, 90, integer=True),
        "seed": _number(config, "seed", 0, 2**31 - 1, integer=True),
        "dropout": _number(config, "dropout", 0.0, 0.9),
        "regularization": _choice(config, "regularization", REGULARIZATIONS),
        "regularization_rate": _number(config, "regularization_rate", 0.0, 1.0),
        "optimizer": _choice(config, "optimizer", OPTIMIZERS),
        "learning_rate": _number(config, "learning_rate", 1e-6, 10.0),
        "schedule": _choice(config, "schedule", SCHEDULES),
        "batch_size": _number(config, "batch_size", 1, MAX_SAMPLES, integer=True),
    }
    batch_norm = config.get("batch_norm", False)
    if not isinstance(batch_norm, bool):
        raise PlaygroundError(f"batch_norm: expected true or false; received {batch_norm!r}.")
    clean["batch_norm"] = batch_norm
    features = config.get("features", DEFAULTS["features"])
    names = list(ml.FEATURES)
    if (not isinstance(features, list) or not features or len(features) > len(names)
            or any(not isinstance(f, str) or f not in names for f in features) or len(set(features)) != len(features)):
        raise PlaygroundError(f"features: expected a non-empty list of distinct names from {names}; "
                              f"received {features!r}.")
    clean["features"] = [f for f in names if f in features]  # canonical order
    layers = config.get("layers", DEFAULTS["layers"])
    if not isinstance(layers, list) or len(layers) > MAX_LAYERS:
        raise PlaygroundError(f"layers: expected a list of at most {MAX_LAYERS} hidden layers; "
                              f"received {len(layers) if isinstance(layers, list) else repr(layers)}.")
    clean["layers"] = []
    for index, layer in enumerate(layers, start=1):
        if not isinstance(layer, dict) or set(layer) != {"units", "activation"}:
            raise PlaygroundError(f"layers[{index}]: expected {{units, activation}}; received {layer!r}.")
        clean["layers"].append({"units": _number(layer, "units", 1, MAX_UNITS, integer=True),
                                "activation": _choice(layer, "activation", ACTIVATIONS)})
    clean["columns"] = _columns(config.get("columns", DEFAULTS["columns"]))
    clean["lesson"], clean["lesson_step"] = _lesson(config)
    width = len(clean["columns"]) + 1
    points = config.get("points", [])
    if not isinstance(points, list) or len(points) > MAX_SAMPLES:
        raise PlaygroundError(f"points: expected a list of at most {MAX_SAMPLES} rows of {width} numbers.")
    for point in points:
        if (not isinstance(point, list) or len(point) != width
                or any(isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) for v in point)):
            raise PlaygroundError(f"points: expected rows of {width} finite numbers "
                                  f"({', '.join(clean['columns'])}, label); received {_short(point)}.")
        if any(abs(v) > MAX_MAGNITUDE for v in point):
            raise PlaygroundError(f"points: values must lie within ±{MAX_MAGNITUDE:g} (rescale the column); "
                                  f"received {_short(point)}.")
    clean["points"] = [[float(v) for v in point] for point in points]
    if clean["dataset"] == "custom":
        if len(points) < 4:
            raise PlaygroundError("Your points: add at least 4 points (click the plane or upload a CSV file), "
                                  f"with both labels; there are {len(points)}.")
        task = playground_data.infer_task([p[-1] for p in points])
        if task != "regression" and len({p[-1] for p in points}) < 2:
            raise PlaygroundError("Your points: every point has the same label; add points of another class.")
    else:
        task = DATASETS[clean["dataset"]][1]
        clean["points"], clean["columns"] = [], ["x1", "x2"]  # generated data is regenerated from the seed
    loss = config.get("loss", "auto")
    if loss == "auto":
        loss = LOSSES[task][0]
    if loss not in LOSSES[task]:
        raise PlaygroundError(f"loss: for a {task} task expected one of {', '.join(LOSSES[task])}; received {loss!r}.")
    clean["loss"], clean["task"] = loss, task
    return clean


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _columns(columns) -> list:
    if (not isinstance(columns, list) or not 1 <= len(columns) <= MAX_COLUMNS
            or any(not isinstance(c, str) or not 0 < len(c) <= 40 for c in columns) or len(set(columns)) != len(columns)):
        raise PlaygroundError(f"columns: expected 1 to {MAX_COLUMNS} distinct feature names of at most 40 "
                              f"characters; received {_short(columns)}.")
    return list(columns)


def _lesson(config) -> tuple:
    from mlplab.playground.lessons import PAGES

    name = config.get("lesson")
    if name is None:
        return None, 0
    if not isinstance(name, str) or name not in PAGES:
        raise PlaygroundError(f"lesson: expected one of {', '.join(PAGES)}; received {_short(name)}.")
    step = _number(config, "lesson_step", 0, len(PAGES[name]["steps"]) - 1, integer=True)
    return name, step


def is_table(config: dict) -> bool:
    """A table (uploaded CSV) whose feature count is not 2: raw standardized columns in, no Features layer."""
    return len(config["columns"]) != 2


def dataset_arrays(config: dict):
    """(x_train, y_train, x_test, y_test) for validated settings (the same arrays every time)."""
    if config["dataset"] == "custom":
        array = np.array(config["points"], dtype=np.float64)
        x, y = array[:, :-1], array[:, -1]
    else:
        x, y = playground_data.make_dataset(config["dataset"], config["n_samples"], config["noise"] / 100,
                                            config["seed"])
    y = y.astype(np.int64) if config["task"] != "regression" else y.astype(np.float64)
    return playground_data.split(x, y, config["train_ratio"] / 100, config["seed"])


def build_model(config: dict, n_outputs: int, steps_per_epoch: int) -> ml.Sequential:
    """The network the settings describe, compiled: Features, hidden blocks, then the output layer."""
    layers = [] if is_table(config) else [ml.Features(config["features"])]
    regularizer = None
    if config["regularization"] != "none" and config["regularization_rate"] > 0:
        regularizer = {"l1": ml.L1, "l2": ml.L2}[config["regularization"]](config["regularization_rate"])
    for spec in config["layers"]:
        if config["batch_norm"]:  # Dense -> BatchNormalization -> activation, the usual order
            layers += [ml.Dense(spec["units"], kernel_regularizer=regularizer), ml.BatchNormalization(),
                       ml.Activation(spec["activation"])]
        else:
            layers.append(ml.Dense(spec["units"], spec["activation"], kernel_regularizer=regularizer))
        if config["dropout"] > 0:
            layers.append(ml.Dropout(config["dropout"]))
    output = {"binary": "sigmoid", "multiclass": "softmax", "regression": "linear"}[config["task"]]
    layers.append(ml.Dense(n_outputs, output, kernel_regularizer=regularizer))
    model = ml.Sequential(layers, seed=config["seed"])
    if is_table(config):
        model.build((len(config["columns"]),))
    model.compile(optimizer=make_optimizer(config, steps_per_epoch), loss=config["loss"],
                  metrics=[] if config["task"] == "regression" else ["accuracy"])
    return model


def make_optimizer(config: dict, steps_per_epoch: int):
    lr = config["learning_rate"]
    schedule = config["schedule"]
    if schedule == "step":  # halve every 100 epochs
        lr = ml.StepDecay(lr, step_size=100 * steps_per_epoch, gamma=0.5)
    elif schedule == "exponential":  # ×0.1 over 300 epochs, smoothly
        lr = ml.ExponentialDecay(lr, decay_steps=300 * steps_per_epoch, decay_rate=0.1)
    elif schedule == "cosine":  # to 1% over 500 epochs
        lr = ml.CosineDecay(lr, decay_steps=500 * steps_per_epoch, alpha=0.01)
    if config["optimizer"] == "adam":
        return ml.Adam(learning_rate=lr)
    return ml.SGD(learning_rate=lr, momentum=0.9 if config["optimizer"] == "momentum" else 0.0)


def _grid_points(size: int) -> np.ndarray:
    """size² points covering the square, row by row from the top (x2 = +EXTENT) down."""
    ticks = np.linspace(-EXTENT, EXTENT, size)
    gx, gy = np.meshgrid(ticks, ticks[::-1])
    return np.column_stack([gx.ravel(), gy.ravel()])


def _finite(value):
    """A float for JSON, or None for a missing or non-finite value (JSON has no NaN)."""
    return None if value is None or not math.isfinite(value) else float(value)


def _bytes(values: np.ndarray) -> str:
    """Values in [-1, 1] as base64 bytes 0..255 (what the page's neuron heatmaps decode)."""
    return base64.b64encode(np.round((np.clip(values, -1, 1) + 1) * 127.5).astype(np.uint8).tobytes()).decode()


class Session:
    """The state of one page: its settings, data, model and epoch (the page keeps the curves)."""

    def __init__(self, config: dict | None = None):
        self.view = {"x": 0, "y": 1, "held": 0.0}
        self.configure(config or {})

    # -- settings -------------------------------------------------------------------------------
    def configure(self, config: dict) -> None:
        """Validate and apply new settings; committed only after a trial evaluation succeeds, else nothing changes."""
        clean = validate(config)
        x_train, y_train, x_test, y_test = dataset_arrays(clean)
        mean = scale = None
        if is_table(clean):  # standardize each column with the training split's statistics
            mean, scale = x_train.mean(axis=0), x_train.std(axis=0)
            scale[scale == 0] = 1.0
            x_train, x_test = (x_train - mean) / scale, (x_test - mean) / scale
        if clean["task"] == "multiclass":
            n_outputs = int(max(y_train.max(), y_test.max())) + 1
            if n_outputs > MAX_CLASSES:
                raise PlaygroundError(f"labels: at most {MAX_CLASSES} classes (0..{MAX_CLASSES - 1}).")
        else:
            n_outputs = 1
        if clean["batch_size"] > len(x_train):
            clean["batch_size"] = len(x_train)
        if clean["batch_norm"] and (clean["batch_size"] == 1 or len(x_train) % clean["batch_size"] == 1):
            raise PlaygroundError(f"batch_size: batch normalization needs at least 2 points in every batch, but "
                                  f"{len(x_train)} training points in batches of {clean['batch_size']} leave a "
                                  "batch of one; choose another batch size.")
        model = build_model(clean, n_outputs, -(-len(x_train) // clean["batch_size"]))
        if mean is not None:
            model.preprocessing = {"feature_names": clean["columns"], "mean": mean.tolist(), "scale": scale.tolist()}
        self._trial(model, x_train, y_train)
        self.config, self.model = clean, model
        self.x_train, self.y_train, self.x_test, self.y_test = x_train, y_train, x_test, y_test
        self.n_outputs, self.epoch, self.diverged = n_outputs, 0, None
        n_columns = len(clean["columns"])
        self.view = {"x": min(self.view["x"], n_columns - 1), "y": min(self.view["y"], n_columns - 1),
                     "held": self.view["held"]}
        if n_columns > 1 and self.view["x"] == self.view["y"]:
            self.view = {"x": 0, "y": 1, "held": self.view["held"]}

    @staticmethod
    def _trial(model, x, y) -> None:
        """Evaluate the new model on its data before it replaces the old one: non-finite results are refused."""
        try:
            with np.errstate(all="ignore"):
                loss = model.evaluate(x, y)["loss"]
                out = model.predict(x[:64])
        except (ArithmeticError, ValueError) as err:
            raise PlaygroundError(f"These data cannot be used: evaluating the network on them failed ({err}).") from None
        if not (math.isfinite(loss) and np.isfinite(out).all()):
            raise PlaygroundError("These data cannot be used: the network's output on them is not a finite number "
                                  "(values too large for float32?). Rescale the columns and upload again.")

    def set_view(self, view) -> None:
        """Which two columns the heatmap shows (x, y) and the value, in standard units, the others are held at."""
        n = len(self.config["columns"])
        if not isinstance(view, dict) or set(view) - {"x", "y", "held"}:
            raise PlaygroundError(f"view: expected {{x, y, held}}; received {_short(view)}.")
        clean = {"x": _number(view, "x", 0, n - 1, integer=True) if "x" in view else self.view["x"],
                 "y": _number(view, "y", 0, n - 1, integer=True) if "y" in view else self.view["y"],
                 "held": _number(view, "held", -TABLE_EXTENT, TABLE_EXTENT) if "held" in view else self.view["held"]}
        if n > 1 and clean["x"] == clean["y"]:
            raise PlaygroundError("view: the two axes must show two different columns.")
        self.view = clean

    def reset(self) -> None:
        """A fresh network from the seed, epoch 0 (the data stay)."""
        self.configure({key: value for key, value in self.config.items() if key != "task"})

    def adopt(self, model) -> None:
        """Make a loaded model (a playground model file) this page's network, with settings read from it."""
        from mlplab.playground.imports import settings_from_model

        config = settings_from_model(model, self.config)
        self.configure(config)
        if model.input_shape != self.model.input_shape or model.output_shape != self.model.output_shape:
            raise PlaygroundError("import: the model does not fit these data.")
        self._trial(model, self.x_train, self.y_train)
        self.model = model

    # -- training -------------------------------------------------------------------------------
    def train_epochs(self, epochs: int = 1) -> None:
        """Whole epochs; if training diverges, the model is put back as it was and the doctor is told why."""
        saved, saved_epoch = copy.deepcopy(self.model), self.epoch
        try:
            with np.errstate(all="ignore"):
                for _ in range(epochs):
                    self.model.fit(self.x_train, self.y_train, epochs=1, batch_size=self.config["batch_size"],
                                   verbose=0)
                    self.epoch += 1
                    if not all(np.isfinite(w).all() for w in self.model.get_weights()):
                        raise FloatingPointError("the weights are no longer finite numbers")
            self.diverged = None  # a step that went through: the last divergence is history
        except (FloatingPointError, OverflowError) as err:
            self.model, self.epoch = saved, saved_epoch
            self.diverged = str(err)
            rate = self.model.optimizer.current_learning_rate
            raise PlaygroundError(f"Training diverged at learning rate {rate:g}: the loss blew up, so the network "
                                  "was put back as it was before this step. Lower the learning rate (÷10) and "
                                  "press Play again.") from None

    def train_for(self, seconds: float, max_epochs: int = 1000) -> int:
        """Whole epochs until `seconds` have passed (at least one): returns how many ran."""
        start, done = time.perf_counter(), 0
        while done < max_epochs and (done == 0 or time.perf_counter() - start < seconds):
            self.train_epochs(1)
            done += 1
        return done

    # -- what the page draws ---------------------------------------------------------------------
    def metrics(self) -> dict:
        with np.errstate(all="ignore"):
            train = self.model.evaluate(self.x_train, self.y_train)
            test = self.model.evaluate(self.x_test, self.y_test)
        norms = self.model.gradient_norms() if self.epoch else {}
        dense = [layer.name for layer in self.model.layers if isinstance(layer, ml.Dense)]
        gradients = [_finite(norms.get(name)) for name in dense]
        ratio = None
        if len(gradients) >= 2 and gradients[0] is not None and gradients[-1]:
            ratio = gradients[0] / gradients[-1]
        return {"epoch": self.epoch, "train_loss": _finite(train["loss"]), "test_loss": _finite(test["loss"]),
                "train_accuracy": _finite(train.get("accuracy")), "test_accuracy": _finite(test.get("accuracy")),
                "gradient_norms": gradients, "gradient_ratio": _finite(ratio),
                "learning_rate": self.model.optimizer.current_learning_rate}

    def grid_inputs(self, size: int) -> np.ndarray:
        """Points for the heatmap: the plane, or for a table the two viewed columns with the others held."""
        if not is_table(self.config):
            return _grid_points(size)
        ticks = np.linspace(-TABLE_EXTENT, TABLE_EXTENT, size)
        gx, gy = np.meshgrid(ticks, ticks[::-1])
        points = np.full((size * size, len(self.config["columns"])), self.view["held"])
        points[:, self.view["x"]] = gx.ravel()
        if len(self.config["columns"]) > 1:
            points[:, self.view["y"]] = gy.ravel()
        return points

    def curve_inputs(self) -> np.ndarray:
        """Points along the horizontal axis (regression): x1 for the plane, the viewed column for a table."""
        if not is_table(self.config):
            ticks = np.linspace(-EXTENT, EXTENT, CURVE_POINTS)
            return np.column_stack([ticks, np.zeros_like(ticks)])
        ticks = np.linspace(-TABLE_EXTENT, TABLE_EXTENT, CURVE_POINTS)
        points = np.full((CURVE_POINTS, len(self.config["columns"])), self.view["held"])
        points[:, self.view["x"]] = ticks
        return points

    def predict_grid(self) -> list:
        """Output on the GRID×GRID plane, row by row from the top (binary: p(class 1); multi-class: the class
        plus its probability, capped below 1, in one number; regression: CURVE_POINTS values along x1)."""
        with np.errstate(all="ignore"):
            if self.config["task"] == "regression":
                values = self.model.predict(self.curve_inputs())[:, 0]
                return [_finite(v) for v in values.round(4).tolist()]
            out = self.model.predict(self.grid_inputs(GRID))
        if self.config["task"] == "binary":
            return [_finite(v) for v in out[:, 0].round(4).tolist()]
        return [_finite(v) for v in (out.argmax(axis=1) + out.max(axis=1).clip(0, 0.999)).round(3).tolist()]

    def neurons(self) -> list:
        """Every node's output on a small grid (features, then each hidden layer's units), as base64 bytes."""
        x = self.grid_inputs(NEURON_GRID).astype(self.model.dtype)
        columns = [] if not is_table(self.config) else [[_bytes(x[:, j] / TABLE_EXTENT) for j in range(x.shape[1])]]
        with np.errstate(all="ignore"):
            for layer in self.model.layers[:-1]:
                x = layer.forward(x, training=False)
                if isinstance(layer, (ml.Features, ml.Activation)) or (isinstance(layer, ml.Dense) and not self.config["batch_norm"]):
                    scale = np.abs(np.nan_to_num(x)).max(axis=0)
                    scale[scale == 0] = 1
                    columns.append([_bytes(np.nan_to_num(x[:, j] / scale[j])) for j in range(x.shape[1])])
        return columns

    def weights(self) -> list:
        """The weight matrix (in, out) of every Dense layer, rounded for display."""
        return [np.round(layer.get_weights()[0], 4).tolist() for layer in self.model.layers if isinstance(layer, ml.Dense)]

    def biases(self) -> list:
        return [np.round(layer.get_weights()[1], 4).tolist() if layer.use_bias else [0.0] * layer.units
                for layer in self.model.layers if isinstance(layer, ml.Dense)]

    def doctor(self, metrics: dict | None = None) -> list:
        from mlplab.playground.doctor import diagnose

        return diagnose(self, metrics or self.metrics())

    def snapshot(self) -> dict:
        metrics = self.metrics()
        message = {"type": "update", **metrics, "output": self.predict_grid(), "neurons": self.neurons(),
                   "weights": self.weights(), "biases": self.biases(), "doctor": self.doctor(metrics)}
        if self.config["lesson"]:
            from mlplab.playground import lessons

            step = lessons.PAGES[self.config["lesson"]]["steps"][self.config["lesson_step"]]
            message["lesson"] = {"live": lessons.probe(self.config["lesson"], self, metrics),
                                 "reached": lessons.reached(step["outcome"], metrics, self.epoch)}
        return message

    def data_message(self) -> dict:
        """The points and the settings as the server understood them (sent after every configure/reset).
        A table's points come as (viewed x, viewed y, label) in standard units."""
        def rows(x, y):
            if is_table(self.config):
                other = x[:, self.view["y"]] if x.shape[1] > 1 else np.zeros(len(x))
                x = np.column_stack([x[:, self.view["x"]], other])
            return np.column_stack([x, y]).round(4).tolist()
        table = is_table(self.config)
        return {"type": "data", "config": self.config, "task": self.config["task"], "n_outputs": self.n_outputs,
                "features": self.config["columns"] if table else self.config["features"], "table": table,
                "view": self.view, "extent": TABLE_EXTENT if table else EXTENT, "grid": GRID,
                "neuron_grid": NEURON_GRID, "train": rows(self.x_train, self.y_train), "test": rows(self.x_test, self.y_test)}

    # -- explain and export ------------------------------------------------------------------------
    def explain(self, batch: int = 4) -> str:
        """One training step of a copy of the current network on `batch` training points, with the page's own
        optimizer (Adam: m̂, v̂ and the step size; SGD: the gradient step), as text. The page's network stays."""
        from mlplab.playground.doctor import explain_text

        return explain_text(self.model, self.x_train[:batch], self.y_train[:batch])

    def model_file(self) -> tuple[bytes, str]:
        from mlplab.playground.export import model_file
        return model_file(self.model)

    def onnx_file(self) -> tuple[bytes, str]:
        from mlplab.playground.export import onnx_file
        return onnx_file(self.model)

    def script(self) -> str:
        from mlplab.playground.export import script
        return script(self.config, self.epoch, self.n_outputs, len(self.x_train))

    def data_csv(self) -> str:
        """The points as the page holds them: raw columns (a table is written back in its own units)."""
        columns = self.config["columns"]
        lines = [",".join([*columns, "label", "split"])]
        for name, x, y in (("train", self.x_train, self.y_train), ("test", self.x_test, self.y_test)):
            if is_table(self.config):
                prep = self.model.preprocessing
                x = x * np.array(prep["scale"]) + np.array(prep["mean"])
            lines += [",".join([*(repr(v) for v in row), str(label), name]) for row, label in zip(x.tolist(), y.tolist())]
        return "\n".join(lines) + "\n"
