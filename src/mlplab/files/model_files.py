"""Model and weight files: a Sequential, its compile settings, optimizer state and preprocessing in one
safetensors container (mlplab.files.container) that can never run code. The full specification is in
docs/files.md.

>>> model.save("model.safetensors")               # doctest: +SKIP
>>> model = ml.load_model("model.safetensors")    # doctest: +SKIP
"""
from __future__ import annotations

import json

import numpy as np

from mlplab.files.container import (FORMAT, FORMAT_VERSION, ModelFileError, _error, _is_count, read_file,
                                    read_metadata, write_file)

from mlplab.files.preprocessing import KEYS as PREPROCESSING_KEYS  # noqa: F401  (the valid keys)
__all__ = ["ModelFileError", "load_model", "load_weights", "read_file", "read_metadata", "save_model",
           "save_weights", "write_file", "check_preprocessing"]


# -- models -------------------------------------------------------------------------------------
def save_model(model, path, *, include_optimizer: bool | None = None, preprocessing: dict | None = None) -> None:
    """Write `model` to `path`: weights, architecture, compile settings, preprocessing, seed, RNG state,
    and (include_optimizer=None: whenever the model is compiled) the optimizer state, so that a
    resumed `fit` continues exactly where this one stopped.

    `model` may also be a fitted mlplab MLPClassifier/MLPRegressor or a fitted scikit-learn Pipeline
    ending in one: its scalers, imputers and one-hot encoders become the file's preprocessing."""
    from mlplab.core.registry import MODELS

    if not isinstance(model, MODELS.get("sequential")):
        from mlplab.files.preprocessing import pipeline_parts

        model, spec = pipeline_parts(model)
        preprocessing = {**spec, **(preprocessing or {})}
    tensors = _weight_tensors(model)
    metadata = _base_metadata("model")
    config = model.get_config()
    if not isinstance(config.get("seed"), (int, type(None))):
        config["seed"] = None  # a Generator passed as seed cannot be written; its state is in rng_state
    metadata["architecture"] = _dumps("the architecture", config)
    metadata["input_shape"] = _dumps("input_shape", list(model.input_shape) if model.built else None)
    metadata["seed"] = _dumps("seed", config["seed"])
    metadata["rng_state"] = _dumps("the RNG state", model.rng.bit_generator.state)
    compile_config = model.get_compile_config()
    if compile_config is not None:
        metadata["compile"] = _dumps("the compile settings", compile_config)
    if include_optimizer is None:
        include_optimizer = compile_config is not None
    if include_optimizer:
        if compile_config is None:
            raise ValueError("Invalid value for argument `include_optimizer`: the model is not compiled, so it "
                             "has no optimizer state. Received: include_optimizer=True.")
        for key, value in model.optimizer.get_state().items():
            tensors[f"optimizer/{key}"] = value
    preprocessing = preprocessing if preprocessing is not None else getattr(model, "preprocessing", None)
    if preprocessing is not None:
        try:
            checked = check_preprocessing(preprocessing, model)
        except (ValueError, TypeError) as err:
            raise ModelFileError(f"Cannot save {str(path)!r}: invalid preprocessing ({err})") from None
        metadata["preprocessing"] = _dumps("preprocessing", checked)
    write_file(path, tensors, metadata)


def load_model(path, *, compile: bool = True):
    """The model saved at `path`, compiled (with its optimizer state) when it was saved compiled.
    `model.preprocessing` holds the saved preprocessing (feature names, standardization, class labels)."""
    tensors, metadata = read_file(path)
    if metadata.get("kind") != "model":
        raise _error(path, f"this file holds {metadata.get('kind')!r}, not a model; use model.load_weights")
    config = _loads(path, metadata, "architecture")
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise _error(path, "the architecture is not a Sequential config")
    input_shape = _loads(path, metadata, "input_shape")
    if input_shape is not None and (not isinstance(input_shape, list)
                                    or not all(_is_count(d) and d > 0 for d in input_shape)):
        raise _error(path, f"invalid input_shape {input_shape!r}")
    try:
        model = _model_from_config(config, input_shape)
    except (ValueError, TypeError, KeyError, AttributeError) as err:
        raise _error(path, f"the architecture names something mlplab does not know, or does not fit "
                           f"input_shape {input_shape} ({err})") from None
    _assign_weights(path, model, tensors)
    _restore_rng(path, model, _loads(path, metadata, "rng_state"))
    compile_config = _loads(path, metadata, "compile", required=False)
    if compile and compile_config is not None:
        try:
            model.compile_from_config(compile_config)
        except (ValueError, TypeError, KeyError) as err:
            raise _error(path, f"the compile settings name something mlplab does not know ({err})") from None
        state = {name[len("optimizer/"):]: t for name, t in tensors.items() if name.startswith("optimizer/")}
        if state:
            try:
                model.optimizer.set_state({k: np.array(v) for k, v in state.items()}, model=model)
            except (ValueError, TypeError, KeyError) as err:
                raise _error(path, f"the optimizer state does not fit the model ({err})") from None
    preprocessing = _loads(path, metadata, "preprocessing", required=False)
    if preprocessing is not None:
        try:
            preprocessing = check_preprocessing(preprocessing, model)
        except (ValueError, TypeError) as err:
            raise _error(path, f"invalid preprocessing ({err})") from None
    model.preprocessing = preprocessing
    return model


def _model_from_config(config: dict, input_shape):
    """Sequential.from_config, built (for `input_shape`, if not None) once and from zeros: the file's
    weights replace the initial ones anyway, and drawing them, or repacking the parameters as each layer
    is added to a model whose first layer declares its input, took most of the load time of a large
    model. The configured initializers and declared input are checked and put back afterwards, so the
    model's config is the saved one."""
    from mlplab.core.initializers import get_initializer
    from mlplab.core.layers import LAYERS
    from mlplab.core.registry import MODELS

    Sequential = MODELS.get("sequential")

    keys = ("kernel_initializer", "bias_initializer")
    declared = {"Dense": "input_dim", "Flatten": "input_shape"}
    attribute = {"input_dim": "input_dim", "input_shape": "declared_input_shape"}
    layers = []
    for index, item in enumerate(config["layers"]):
        if isinstance(item, dict) and isinstance(item.get("config"), dict):
            changes = {k: "zeros" for k in keys if k in item["config"] and item.get("class_name") == "Dense"}
            if index == 0 and declared.get(item.get("class_name")) in item["config"]:
                changes[declared[item["class_name"]]] = None
            item = {**item, "config": {**item["config"], **changes}}
        layers.append(item)
    model = Sequential.from_config({**config, "layers": layers})
    first = config["layers"][0] if config["layers"] else {}
    name = declared.get(first.get("class_name"))
    stated = None
    if name is not None and name in first["config"]:
        original = LAYERS.get(first["class_name"])(**first["config"])  # checks the declared input
        stated = getattr(original, attribute[name])
    if stated is not None:
        stated_shape = (stated,) if name == "input_dim" else tuple(stated)
        if input_shape is None or tuple(input_shape) != stated_shape:
            raise ValueError(f"the first layer declares input {list(stated_shape)}")
    if input_shape is not None:
        model.build(tuple(input_shape))
    for layer, item in zip(model.layers, config["layers"]):
        if item.get("class_name") == "Dense":
            for key in keys:
                if key in item["config"]:
                    setattr(layer, key, get_initializer(item["config"][key], key))
    if stated is not None:
        setattr(model.layers[0], attribute[name], stated)
    return model


def save_weights(model, path) -> None:
    """Write only the weights (and the architecture, to check against when loading)."""
    if not model.built:
        raise ValueError("The model is not built yet, so it has no weights: build, fit or predict first.")
    metadata = _base_metadata("weights")
    metadata["architecture"] = _dumps("the architecture", {**model.get_config(), "seed": None})
    metadata["input_shape"] = _dumps("input_shape", list(model.input_shape))
    write_file(path, _weight_tensors(model), metadata)


def load_weights(model, path) -> None:
    """Copy the weights saved at `path` into `model` (a model file or a weights file); every name,
    shape and dtype is checked first, so on error the model is unchanged."""
    tensors, metadata = read_file(path)
    if not model.built:
        input_shape = _loads(path, metadata, "input_shape")
        if not isinstance(input_shape, list) or not all(_is_count(d) and d > 0 for d in input_shape):
            raise _error(path, f"invalid input_shape {input_shape!r}")
        import copy

        trial = copy.deepcopy(model)  # build and check a copy first: on error the model stays unbuilt
        trial.build(tuple(input_shape))
        _assign_weights(path, trial, tensors)
        model.build(tuple(input_shape))
    _assign_weights(path, model, tensors)


def _weight_tensors(model) -> dict:
    return {f"weights/{layer.name}/{key}": array for layer in model.layers
            for key, array in {**layer.params, **layer.state}.items()}


def _assign_weights(path, model, tensors: dict) -> None:
    expected = _weight_tensors(model) if model.built else {}
    found = {name: t for name, t in tensors.items() if name.startswith("weights/")}
    known = ("weights/", "optimizer/")  # a weights file, or a model file read for its weights
    other = [name for name in tensors if not name.startswith(known)]
    if other:
        raise _error(path, f"unexpected tensor {other[0]!r}")
    missing, extra = sorted(set(expected) - set(found)), sorted(set(found) - set(expected))
    if missing or extra:
        what = f"missing tensor {missing[0]!r}" if missing else f"tensor {extra[0]!r} matches no layer"
        raise _error(path, f"the weights do not match the architecture: {what}")
    for name, target in expected.items():
        if found[name].shape != target.shape or found[name].dtype != target.dtype:
            raise _error(path, f"tensor {name!r} has shape {found[name].shape} and dtype {found[name].dtype}; "
                               f"the model needs {target.shape} and {target.dtype}")
    if expected:
        try:
            model.set_weights([found[name] for name in expected])
        except ValueError as err:
            raise _error(path, f"invalid weights ({err})") from None


def _restore_rng(path, model, state) -> None:
    bit_generator = model.rng.bit_generator
    if not isinstance(state, dict) or state.get("bit_generator") != type(bit_generator).__name__:
        raise _error(path, f"rng_state is not a {type(bit_generator).__name__} state")
    try:
        bit_generator.state = state
    except (ValueError, TypeError, KeyError) as err:
        raise _error(path, f"invalid rng_state ({err})") from None


def _base_metadata(kind: str) -> dict:
    from mlplab.version import __version__

    return {"format": FORMAT, "format_version": FORMAT_VERSION, "kind": kind, "mlplab_version": __version__}


def _dumps(what: str, value) -> str:
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ValueError(f"Cannot save {what}: only JSON values (registered names and numbers) can go in a "
                         f"model file ({err}).") from None


def _loads(path, metadata: dict, key: str, required: bool = True):
    if key not in metadata:
        if required:
            raise _error(path, f"the metadata has no {key!r}")
        return None
    try:
        return json.loads(metadata[key])
    except ValueError:
        raise _error(path, f"the metadata {key!r} is not valid JSON") from None


# -- preprocessing metadata -------------------------------------------------------------------------
def check_preprocessing(preprocessing: dict, model=None) -> dict:
    """Validate the preprocessing a model needs at prediction time (mlplab.files.preprocessing has the
    keys); given a built model, also its fit with the model: inputs after encoding, one class label per
    output class. Returns it as plain JSON values; raises ValueError naming the field."""
    from mlplab.files.preprocessing import check_spec

    return check_spec(preprocessing, model)
