"""The playground's exports: the trained model as an mlplab model file, and a Python script that
rebuilds the same data and network with mlplab and retrains it offline."""
from __future__ import annotations

import copy
import json
import os
import tempfile

SCRIPT_EPOCHS_WHEN_UNTRAINED = 300
SETTINGS_MARK = "# mlplab playground settings: "  # the line Import reads back (JSON, never executed)


def model_file(model) -> tuple[bytes, str]:
    """(bytes, file name) of `model` saved with `model.save`: the mlplab model file (docs/files.md)."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and callable(optimizer.learning_rate):
        # Model files store a float learning rate, not a schedule: save a copy with the rate the schedule has
        # reached (predictions are the same; the exported script rebuilds the schedule for retraining).
        model = copy.deepcopy(model)
        model.optimizer.learning_rate = optimizer.current_learning_rate
    with tempfile.TemporaryDirectory(prefix="mlplab-playground-") as folder:
        path = os.path.join(folder, "playground.safetensors")
        model.save(path)
        with open(path, "rb") as handle:
            return handle.read(), "playground.safetensors"


def settings_from_script(text) -> dict:
    """The page's settings from an exported script: the JSON on its settings line (the script is never run)."""
    if not isinstance(text, str):
        raise ValueError("import: expected the text of an exported playground_model.py.")
    for line in text.splitlines():
        if line.startswith(SETTINGS_MARK):
            try:
                settings = json.loads(line[len(SETTINGS_MARK):])
            except (json.JSONDecodeError, RecursionError):
                break
            if isinstance(settings, dict):
                return settings
            break
    raise ValueError(f"import: this script has no readable settings line ({SETTINGS_MARK.strip()} ...); "
                     "export the code from the page again.")


def onnx_file(model) -> tuple[bytes, str]:
    """(bytes, file name) of `model` as ONNX (the Features layer as graph ops); needs mlplab[onnx]."""
    with tempfile.TemporaryDirectory(prefix="mlplab-playground-") as folder:
        path = os.path.join(folder, "playground.onnx")
        model.export_onnx(path)
        with open(path, "rb") as handle:
            return handle.read(), "playground.onnx"


def _layers_code(config: dict, n_outputs: int) -> list[str]:
    regularizer = ""
    if config["regularization"] != "none" and config["regularization_rate"] > 0:
        kind = {"l1": "L1", "l2": "L2"}[config["regularization"]]
        regularizer = f", kernel_regularizer=ml.{kind}({config['regularization_rate']!r})"
    lines = [f"    ml.Features({config['features']!r}),  # computes the chosen inputs from the raw point (x1, x2)"]
    if len(config["columns"]) != 2:  # a table: its standardized columns go in directly
        lines = []
    for spec in config["layers"]:
        if config["batch_norm"]:
            lines += [f"    ml.Dense({spec['units']}{regularizer}),", "    ml.BatchNormalization(),",
                      f"    ml.Activation({spec['activation']!r}),"]
        else:
            lines.append(f"    ml.Dense({spec['units']}, {spec['activation']!r}{regularizer}),")
        if config["dropout"] > 0:
            lines.append(f"    ml.Dropout({config['dropout']!r}),")
    output = {"binary": "sigmoid", "multiclass": "softmax", "regression": "linear"}[config["task"]]
    lines.append(f"    ml.Dense({n_outputs}, {output!r}{regularizer}),")
    return lines


def _standardize_code(config: dict) -> list[str]:
    """A table's columns, standardized with the training split's statistics, as the page does."""
    if len(config["columns"]) == 2:
        return []
    return ["mean, scale = x_train.mean(axis=0), x_train.std(axis=0)",
            "scale[scale == 0] = 1.0",
            "x_train, x_test = (x_train - mean) / scale, (x_test - mean) / scale",
            f"PREPROCESSING = {{'feature_names': {config['columns']!r}, 'mean': mean.tolist(), 'scale': scale.tolist()}}"]


def _optimizer_code(config: dict) -> list[str]:
    lr = repr(config["learning_rate"])
    schedule = {
        "none": None,
        "step": f"ml.StepDecay({lr}, step_size=100 * STEPS_PER_EPOCH, gamma=0.5)",
        "exponential": f"ml.ExponentialDecay({lr}, decay_steps=300 * STEPS_PER_EPOCH, decay_rate=0.1)",
        "cosine": f"ml.CosineDecay({lr}, decay_steps=500 * STEPS_PER_EPOCH, alpha=0.01)",
    }[config["schedule"]]
    lines = ["STEPS_PER_EPOCH = -(-len(x_train) // BATCH_SIZE)"] if schedule else []
    rate = schedule or lr
    if config["optimizer"] == "adam":
        lines.append(f"optimizer = ml.Adam(learning_rate={rate})")
    else:
        momentum = 0.9 if config["optimizer"] == "momentum" else 0.0
        lines.append(f"optimizer = ml.SGD(learning_rate={rate}, momentum={momentum})")
    return lines


def script(config: dict, epoch: int, n_outputs: int = 1, n_train: int | None = None) -> str:
    """A standalone Python script for validated playground settings (every value written with repr)."""
    epochs = epoch if epoch > 0 else SCRIPT_EPOCHS_WHEN_UNTRAINED
    task = config["task"]
    if config["dataset"] == "custom":
        rows = ",\n".join(f"    {point!r}" for point in config["points"])
        cast = "float" if task == "regression" else "int"
        data = [f"POINTS = np.array([\n{rows},\n])  # your points: {', '.join(config['columns'])}, label",
                f"x, y = POINTS[:, :-1], POINTS[:, -1].astype({cast})"]
    else:
        data = [f"x, y = make_dataset({config['dataset']!r}, n_samples={config['n_samples']}, "
                f"noise={config['noise'] / 100!r}, seed=SEED)"]
    metrics = "[]" if task == "regression" else '["accuracy"]'
    batch_size = config["batch_size"] if n_train is None else min(config["batch_size"], n_train)
    lines = [
        '"""Rebuild and retrain the network from the mlplab playground (exported script; runs offline).',
        "",
        "Run: python playground_model.py   (needs only mlplab: pip install mlplab)",
        '"""',
        SETTINGS_MARK + json.dumps({k: v for k, v in config.items() if k != "task"}, separators=(",", ":")),
        "import numpy as np",
        "",
        "import mlplab as ml",
        "from mlplab.playground.data import make_dataset, split",
        "",
        f"SEED = {config['seed']}",
        f"EPOCHS = {epochs}  # the page's epoch count when exported",
        f"BATCH_SIZE = {batch_size}",
        "",
        "# The data: the same points as on the page, regenerated from the seed, on the square [-6, 6]².",
        *data,
        f"x_train, y_train, x_test, y_test = split(x, y, {config['train_ratio'] / 100!r}, SEED)",
        *_standardize_code(config),
        "",
        "# The network: the raw point (x1, x2) in, the features computed inside the model.",
        "model = ml.Sequential([",
        *_layers_code(config, n_outputs),
        "], seed=SEED)",
        *_optimizer_code(config),
        f"model.compile(optimizer=optimizer, loss={config['loss']!r}, metrics={metrics})",
        "",
        "for epoch in range(EPOCHS):  # one epoch per call, exactly as the playground trains",
        "    model.fit(x_train, y_train, epochs=1, batch_size=BATCH_SIZE, verbose=0)",
        "train, test = model.evaluate(x_train, y_train), model.evaluate(x_test, y_test)",
        'print(f"after {EPOCHS} epochs: training loss {train[\'loss\']:.4f}, test loss {test[\'loss\']:.4f}")',
        *(["optimizer.learning_rate = optimizer.current_learning_rate  # a model file stores a float rate, "
           "not a schedule"] if config["schedule"] != "none" else []),
        *(["model.preprocessing = PREPROCESSING  # mlplab predict and ONNX then take the raw columns"]
          if len(config["columns"]) != 2 else []),
        'model.save("playground_model.safetensors")  # load with ml.load_model("playground_model.safetensors")',
        "",
    ]
    return "\n".join(lines)
