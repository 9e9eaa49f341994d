"""Model and weight files: a Sequential, its compile settings, optimizer state and preprocessing in one
safetensors container (mlplab.files.container) that can never run code. The full specification is in
docs/files.md.

>>> model.save("model.safetensors")               # doctest: +SKIP
>>> model = ml.load_model("model.safetensors")    # doctest: +SKIP
"""
from __future__ import annotations

import json
import math

import numpy as np

from mlplab.files.container import (FORMAT, FORMAT_VERSION, ModelFileError, _error, _is_count, check_json,
                                    read_file, read_metadata, write_file)

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
    # the checks load_model makes, so that save never writes a file that load_model would refuse
    _check_contents(path, model, tensors, model.input_shape, metadata, "save")
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
    input_shape = _input_shape(path, metadata)
    _check_finite(path, tensors)
    try:  # the tensors are checked against the architecture's shapes before the model is built
        model = _model_from_config(config, input_shape,
                                   lambda unbuilt: _check_contents(path, unbuilt, tensors, input_shape))
    except ModelFileError:
        raise
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


def _model_from_config(config: dict, input_shape, check=None):
    """Sequential.from_config, built (for `input_shape`, if not None) once and from zeros: the file's
    weights replace the initial ones anyway, and drawing them, or repacking the parameters as each layer
    is added to a model whose first layer declares its input, took most of the load time of a large
    model. The configured initializers and declared input are checked and put back afterwards, so the
    model's config is the saved one. `check(model)` runs on the unbuilt model, before build allocates."""
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
    if check is not None:
        check(model)  # the file's tensors against the shapes the architecture needs, before anything is allocated
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
    _check_finite(path, tensors)
    if not model.built:
        input_shape = _input_shape(path, metadata)
        if input_shape is None:
            raise _error(path, "the metadata field 'input_shape' is null: the file holds no weights")
        try:
            _check_tensor_shapes(path, model, input_shape, tensors)
        except ModelFileError:
            raise
        except (ValueError, TypeError) as err:
            raise _error(path, f"the weights do not fit this model for input_shape {input_shape} ({err})") from None
        import copy

        trial = copy.deepcopy(model)  # build and check a copy first: on error the model stays unbuilt
        trial.build(tuple(input_shape))
        _assign_weights(path, trial, tensors)
        model.build(tuple(input_shape))
    _assign_weights(path, model, tensors)


def _input_shape(path, metadata: dict):
    input_shape = _loads(path, metadata, "input_shape")
    if input_shape is not None and (not isinstance(input_shape, list) or not input_shape
                                    or not all(_is_count(d) and d > 0 for d in input_shape)):
        raise _error(path, f"the metadata field 'input_shape' is invalid: {input_shape!r}")
    return input_shape


# -- the checks that run before a model is built (and again before a file is written) ---------------
def _check_contents(path, model, tensors: dict, input_shape, metadata: dict | None = None,
                    action: str = "load") -> None:
    """Everything a file must satisfy that can be checked without allocating: bounded JSON metadata (at
    save: what load will parse), finite tensors, and every tensor's shape against the architecture."""
    if metadata is not None:
        for key in ("architecture", "input_shape", "seed", "rng_state", "compile", "preprocessing"):
            if key in metadata:
                check_json(path, metadata[key], f"the metadata field {key!r}", action)
        _check_finite(path, tensors, action)
    if input_shape is not None:
        _check_tensor_shapes(path, model, input_shape, tensors, action)


def _check_finite(path, tensors: dict, action: str = "load") -> None:
    """Weights and optimizer state finite, the step count a non-negative integer: NaN in Adam's v would
    otherwise load silently and the next fit would blame the learning rate."""
    for name, tensor in tensors.items():
        field = "optimizer state" if name.startswith("optimizer/") else "weights"
        if name == "optimizer/iterations":
            if tensor.shape != () or tensor.dtype.kind not in "iu" or int(tensor) < 0:
                raise _error(path, f"tensor {name!r} (optimizer state) must be one non-negative integer; it has "
                                   f"shape {tensor.shape} and dtype {tensor.dtype}", action)
        elif tensor.dtype.kind == "f" and not np.isfinite(tensor).all():
            raise _error(path, f"tensor {name!r} ({field}) holds NaN or inf", action)


def _check_tensor_shapes(path, model, input_shape, tensors: dict, action: str = "load") -> None:
    """Each layer's parameter shapes, computed from the architecture and input_shape with integers only,
    against the file's tensors: a huge `units` or `input_shape` is refused before any layer allocates.
    A layer class of its own (shapes unknown here) may not take or give more values than the file holds."""
    shapes = model.output_shapes(tuple(input_shape))  # integers only; raises if a layer cannot take its input
    found = {name: t for name, t in tensors.items() if name.startswith("weights/")}
    budget = sum(t.size for t in found.values()) + 2 ** 20
    for layer, shape_in, shape_out in zip(model.layers, [tuple(input_shape), *shapes[:-1]], shapes):
        expected = _parameter_shapes(layer, shape_in)
        if expected is None:
            size = max(math.prod(shape_in), math.prod(shape_out))
            if size > budget:
                raise _error(path, f"the architecture gives layer {layer.name!r} {size} values per sample, more "
                                   f"than the file's weights could go with ({budget})", action)
            continue
        for key, shape in expected.items():
            name, dtype = f"weights/{layer.name}/{key}", np.dtype(model.dtype)
            tensor = found.get(name)
            if tensor is None:
                raise _error(path, f"the architecture needs tensor {name!r} of shape {shape}, which the file "
                                   "does not hold", action)
            if tuple(tensor.shape) != shape or tensor.dtype != dtype:
                raise _error(path, f"tensor {name!r} has shape {tuple(tensor.shape)} and dtype {tensor.dtype}; "
                                   f"the architecture (input_shape {list(input_shape)}) needs {shape} and {dtype}",
                             action)


def _parameter_shapes(layer, input_shape) -> dict | None:
    """{parameter or state name: shape} of a built-in layer for `input_shape`, without building it;
    None for a layer class mlplab does not know the shapes of."""
    from mlplab.core.layers import Activation, BatchNormalization, Dense, Dropout, Flatten

    kind = type(layer)
    if kind is Dense:
        return {"weight": (input_shape[0], layer.units), **({"bias": (layer.units,)} if layer.use_bias else {})}
    if kind is BatchNormalization:
        return dict.fromkeys(("gamma", "beta", "moving_mean", "moving_variance"), (input_shape[-1],))
    return {} if kind in (Activation, Dropout, Flatten) else None


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
    except (ValueError, TypeError, KeyError, OverflowError) as err:
        raise _error(path, f"invalid rng_state ({err})") from None


def _base_metadata(kind: str) -> dict:
    from mlplab.version import __version__

    return {"format": FORMAT, "format_version": FORMAT_VERSION, "kind": kind, "mlplab_version": __version__}


def _dumps(what: str, value) -> str:
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as err:
        raise ValueError(f"Cannot save {what}: only JSON values (registered names and numbers) can go in a "
                         f"model file ({err}).") from None


def _loads(path, metadata: dict, key: str, required: bool = True):
    if key not in metadata:
        if required:
            raise _error(path, f"the metadata has no {key!r}")
        return None
    return check_json(path, metadata[key], f"the metadata field {key!r}")


# -- preprocessing metadata -------------------------------------------------------------------------
def check_preprocessing(preprocessing: dict, model=None) -> dict:
    """Validate the preprocessing a model needs at prediction time (mlplab.files.preprocessing has the
    keys); given a built model, also its fit with the model: inputs after encoding, one class label per
    output class. Returns it as plain JSON values; raises ValueError naming the field."""
    from mlplab.files.preprocessing import check_spec

    return check_spec(preprocessing, model)
