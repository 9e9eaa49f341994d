"""Bring a model file back into the playground: read its bytes safely and the page's settings from its layers.

A playground model is Features (or, for a table, standardized columns), then blocks of Dense [→ BatchNormalization
→ Activation] [→ Dropout], then the output Dense. Anything else is refused with a message naming the layer.
"""
from __future__ import annotations

import base64
import binascii
import os
import tempfile

import mlplab as ml

MAX_MODEL_BYTES = 280_000  # base64 of it fits one message


class ImportRefused(ValueError):
    """A model file the page cannot take, with a message for the page."""


def load_bytes(encoded) -> "ml.Sequential":
    """The model in base64 text `encoded` (a .safetensors model file), loaded with ml.load_model's checks."""
    if not isinstance(encoded, str):
        raise ImportRefused("import: expected the model file's bytes as base64 text.")
    try:
        content = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ImportRefused("import: the model file's bytes are not valid base64.") from None
    if len(content) > MAX_MODEL_BYTES:
        raise ImportRefused(f"import: the model file is too large for the page (at most {MAX_MODEL_BYTES // 1000} kB; "
                            f"received {len(content) // 1000} kB).")
    with tempfile.TemporaryDirectory(prefix="mlplab-import-") as folder:
        path = os.path.join(folder, "imported.safetensors")
        with open(path, "wb") as handle:
            handle.write(content)
        try:
            return ml.load_model(path)
        except (ValueError, TypeError, KeyError, OSError) as err:
            raise ImportRefused(f"import: this is not a model file mlplab can load ({err}).") from None


ACTIVATION_NAMES = {"ReLU": "relu", "Tanh": "tanh", "Sigmoid": "sigmoid", "Linear": "linear", "LeakyReLU": "leaky_relu",
                    "ELU": "elu", "Softplus": "softplus", "Softmax": "softmax"}


def _activation_name(layer) -> str:
    kind = type(layer.activation).__name__
    if kind not in ACTIVATION_NAMES:
        raise ImportRefused(f"import: layer {layer.name!r} uses the activation {kind}, which the page does not offer.")
    return ACTIVATION_NAMES[kind]


def settings_from_model(model, current: dict) -> dict:
    """The page's settings for `model`, on the current data (which must have the model's inputs and task)."""
    if not model.compiled:
        raise ImportRefused("import: the model was saved without its compile settings (loss and optimizer).")
    layers = list(model.layers)
    config = {key: value for key, value in current.items() if key != "task"}
    config.update(lesson=None, lesson_step=0, dropout=0.0, batch_norm=False)
    if layers and isinstance(layers[0], ml.Features):
        config["features"] = list(layers.pop(0).features)
        if len(current["columns"]) != 2:
            raise ImportRefused("import: this model takes points (x1, x2); load a data set of two columns first.")
    elif model.input_shape != (len(current["columns"]),) or len(current["columns"]) == 2:
        raise ImportRefused(f"import: this model takes {model.input_shape[0]} columns; upload the table it was "
                            f"trained on first (the page has {len(current['columns'])}).")
    if not layers or not isinstance(layers[-1], ml.Dense):
        raise ImportRefused("import: a playground model ends in a Dense output layer.")
    output = layers.pop()
    config["layers"] = _hidden(layers, config)
    task = {"sigmoid": "binary", "softmax": "multiclass", "linear": "regression"}.get(_activation_name(output))
    if task != current["task"]:
        raise ImportRefused(f"import: this model solves a {task or 'different'} task; the page's data are "
                            f"{current['task']}. Choose matching data first.")
    config["loss"] = model.loss.name if hasattr(model.loss, "name") else current["loss"]
    optimizer = model.optimizer
    config["optimizer"] = ("adam" if isinstance(optimizer, ml.Adam) else
                           "momentum" if getattr(optimizer, "momentum", 0) else "sgd")
    config["learning_rate"] = float(optimizer.current_learning_rate)
    config["schedule"] = "none"
    return config


def _hidden(layers: list, config: dict) -> list:
    hidden = []
    index = 0
    while index < len(layers):
        layer = layers[index]
        if not isinstance(layer, ml.Dense):
            raise ImportRefused(f"import: layer {layer.name!r} ({type(layer).__name__}) is not where a playground "
                                "network has it.")
        activation = _activation_name(layer)
        index += 1
        if index < len(layers) and isinstance(layers[index], ml.BatchNormalization):
            config["batch_norm"] = True
            activation = _activation_name(layers[index + 1]) if index + 1 < len(layers) else "linear"
            index += 2
        if index < len(layers) and isinstance(layers[index], ml.Dropout):
            config["dropout"] = float(layers[index].rate)
            index += 1
        hidden.append({"units": int(layer.units), "activation": activation})
    return hidden
