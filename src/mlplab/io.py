"""Model files: one safetensors container (weights, optimizer state, JSON metadata) that can never run code.

Layout (https://github.com/huggingface/safetensors): 8-byte little-endian header length N, N bytes of
UTF-8 JSON {tensor name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}},
then the tensors' bytes. Reading never unpickles and never imports anything named in the file: the
architecture and compile settings are JSON of registered names, resolved through mlplab's registries.
The full specification is in docs/files.md.

>>> model.save("model.safetensors")               # doctest: +SKIP
>>> model = ml.load_model("model.safetensors")    # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import uuid

import numpy as np

FORMAT = "mlplab"
FORMAT_VERSION = "1.0"  # a reader refuses another major version; minor versions only add optional keys
HEADER_CAP = 100 * 1024 * 1024  # the same cap the safetensors library enforces
DTYPES = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8"), "I64": np.dtype("<i8")}
_CHECKSUM_PLACEHOLDER = "sha256:" + "0" * 64
_FOREIGN = [(b"\x80\x02", "a pickle"), (b"\x80\x03", "a pickle"), (b"\x80\x04", "a pickle"),
            (b"\x80\x05", "a pickle"), (b"PK\x03\x04", "a zip archive (an .npz, or a PyTorch or Keras file)"),
            (b"\x93NUMPY", "a NumPy .npy file"), (b"\x89HDF", "an HDF5 file (an old Keras .h5 model?)")]
PREPROCESSING_KEYS = {"feature_names", "mean", "scale", "class_labels", "target", "task"}


class ModelFileError(ValueError):
    """A file that is not a valid mlplab model file; the message names the file and the problem."""


def _error(path, problem: str) -> ModelFileError:
    return ModelFileError(f"Cannot load {os.fspath(path)!r}: {problem}.")


# -- the container: writing ---------------------------------------------------------------------
def write_file(path, tensors: dict, metadata: dict) -> None:
    """Write `tensors` (name -> array of float32, float64 or int64) and `metadata` (str -> str) as one
    safetensors file, atomically: the bytes go to a temporary file that then replaces `path`."""
    arrays, entries, offset = [], {}, 0
    for name, array in tensors.items():
        array = np.asarray(array)
        code = next((c for c, d in DTYPES.items() if array.dtype == d.newbyteorder("=")), None)
        if code is None or not isinstance(name, str) or not name or name == "__metadata__":
            raise ValueError(f"Cannot save tensor {name!r}: expected a float32, float64 or int64 array with a "
                             f"non-empty name. Received: dtype {array.dtype}.")
        # safetensors writes the raw buffer: a transposed (non C-contiguous) view would be scrambled.
        array = np.asarray(array, dtype=DTYPES[code], order="C")  # (ascontiguousarray would make 0-d arrays 1-d)
        entries[name] = {"dtype": code, "shape": list(array.shape), "data_offsets": [offset, offset + array.nbytes]}
        arrays.append(array)
        offset += array.nbytes
    if any(not isinstance(k, str) or not isinstance(v, str) for k, v in metadata.items()):
        raise TypeError("Invalid metadata: expected a dict of strings to strings.")
    entries["__metadata__"] = {**metadata, "checksum": _CHECKSUM_PLACEHOLDER}
    header = json.dumps(entries, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    header += b" " * (-len(header) % 8)  # pad to 8 bytes, as safetensors does, so tensors stay aligned
    prefix = len(header).to_bytes(8, "little")
    digest = hashlib.sha256(prefix + header)
    for array in arrays:
        digest.update(memoryview(array).cast("B"))
    # The checksum covers the whole file as written with the placeholder; the digest has the same length.
    if header.count(_CHECKSUM_PLACEHOLDER.encode()) != 1:
        raise ValueError("Invalid metadata: a value contains the checksum placeholder.")
    header = header.replace(_CHECKSUM_PLACEHOLDER.encode(), f"sha256:{digest.hexdigest()}".encode(), 1)
    _atomic_write(path, [prefix, header] + [memoryview(a).cast("B") for a in arrays])


def _atomic_write(path, chunks) -> None:
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"Cannot write {path!r}: the folder {folder!r} does not exist.")
    temporary = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
    # O_EXCL with mode 0666: a fresh file that the umask trims as usual (mkstemp would make it 0600).
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(handle, "wb") as file:
            for chunk in chunks:
                file.write(chunk)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)  # atomic: readers see the old file or the new one, never half of one
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


# -- the container: reading, with every check -----------------------------------------------------
def read_file(path) -> tuple[dict, dict]:
    """(tensors, metadata) of an mlplab file, after checking everything; raises ModelFileError
    (a ValueError naming the file and the problem) for anything else, before trusting any of it."""
    path = os.fspath(path)
    with open(path, "rb") as file:
        file_size = os.fstat(file.fileno()).st_size
        prefix = file.read(9)
        _check_prefix(path, prefix, file_size)  # before reading the rest: a huge foreign file is not read
        data = bytearray(file_size)  # one read into one buffer: no growing, no concatenation
        file.seek(0)
        if file.readinto(data) != file_size:
            raise _error(path, "the file changed size while it was read")
    metadata, entries, start = _read_header(path, data)
    buffer = memoryview(data)[start:]
    _check_offsets(path, entries, len(buffer))
    _check_checksum(path, data, start, metadata)
    tensors = {name: np.frombuffer(buffer, DTYPES[e["dtype"]], math.prod(e["shape"]), e["data_offsets"][0])
               .reshape(e["shape"]) for name, e in entries.items()}
    return tensors, metadata


def read_metadata(path) -> dict:
    """The checked metadata of a file (strings) without building a model: what `mlplab inspect` shows."""
    return read_file(path)[1]


def _check_prefix(path, prefix: bytes, file_size: int) -> None:
    """The length field and the first header byte, against the file's size and the cap."""
    if prefix[8:9] != b"{":  # every mlplab file has its JSON header there; otherwise name what it is
        for magic, kind in _FOREIGN:
            if prefix.startswith(magic):
                _foreign(path, kind)
    if file_size < 8:
        raise _error(path, f"the file is {file_size} bytes long, too short for a model file (truncated?)")
    size = int.from_bytes(prefix[:8], "little")
    if (size > HEADER_CAP or 8 + size > file_size) and prefix[8:9] != b"{":
        raise _error(path, "it does not start with a safetensors header: not an mlplab model file")
    if size > HEADER_CAP:
        raise _error(path, f"the header would be {size} bytes, over the {HEADER_CAP}-byte cap: not an mlplab "
                           "model file, or a corrupted one")
    if 8 + size > file_size:
        raise _error(path, f"the header needs {size} bytes but the file has {file_size - 8} after the length "
                           "field: the file is truncated or not a model file")
    if prefix[8:9] != b"{":
        raise _error(path, "no JSON header after the length field: not a safetensors/mlplab model file")


def _read_header(path, data: bytes):
    size = int.from_bytes(data[:8], "little")
    try:
        header = json.loads(data[8:8 + size].decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError) as err:
        raise _error(path, f"the header is not valid JSON ({err}): the file is corrupted") from None
    if not isinstance(header, dict):
        raise _error(path, "the header is not a JSON object")
    metadata = header.pop("__metadata__", None)
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise _error(path, "no string metadata: a safetensors file, but not one written by mlplab")
    if metadata.get("format") != FORMAT:
        raise _error(path, f"the metadata names format {metadata.get('format')!r}, not {FORMAT!r}: a safetensors "
                           "file from another program")
    version = metadata.get("format_version", "")
    if version.split(".")[0] != FORMAT_VERSION.split(".")[0]:
        raise _error(path, f"format version {version!r} is not supported (this mlplab reads version "
                           f"{FORMAT_VERSION.split('.')[0]}.x): the file was written by another mlplab version; "
                           "upgrade mlplab")
    for name, entry in header.items():
        _check_entry(path, name, entry)
    return metadata, header, 8 + size


def _foreign(path, kind):
    advice = " mlplab never unpickles; load it with the program that wrote it" if "pickle" in kind else ""
    raise _error(path, f"this is {kind}, not an mlplab model file (safetensors layout).{advice}")


def _no_duplicates(pairs):
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate key {next(k for k in keys if keys.count(k) > 1)!r}")
    return dict(pairs)


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_entry(path, name, entry):
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise _error(path, f"tensor {name!r} is not described by exactly dtype, shape and data_offsets")
    if entry["dtype"] not in DTYPES:
        raise _error(path, f"tensor {name!r} has dtype {entry['dtype']!r}; mlplab files hold only "
                           f"{', '.join(DTYPES)}")
    shape, offsets = entry["shape"], entry["data_offsets"]
    if not isinstance(shape, list) or not all(_is_count(d) for d in shape):
        raise _error(path, f"tensor {name!r} has an invalid shape {shape!r}")
    if (not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_count(o) for o in offsets)
            or offsets[1] - offsets[0] != math.prod(shape) * DTYPES[entry["dtype"]].itemsize):
        raise _error(path, f"tensor {name!r} has data_offsets {offsets!r} that do not match its shape "
                           f"{shape} and dtype {entry['dtype']}")


def _check_offsets(path, entries: dict, size: int) -> None:
    """The tensors must tile the buffer exactly: in range, no overlap, no gap, nothing left over."""
    end = 0
    for name, entry in sorted(entries.items(), key=lambda item: item[1]["data_offsets"]):
        begin, stop = entry["data_offsets"]
        if begin != end:
            problem = "overlaps the previous tensor" if begin < end else "leaves a gap before it"
            raise _error(path, f"tensor {name!r} at bytes {begin}..{stop} {problem}")
        end = stop
    if end != size:
        raise _error(path, f"the tensors cover {end} bytes but the data section has {size}: the file is "
                           f"{'truncated' if end > size else 'padded or corrupted'}")


def _check_checksum(path, data: bytes, start: int, metadata: dict) -> None:
    stored = metadata.get("checksum", "")
    if not stored.startswith("sha256:") or len(stored) != len(_CHECKSUM_PLACEHOLDER):
        raise _error(path, "the metadata has no sha256 checksum")
    digest = hashlib.sha256()
    header = data[:start]
    # The checksum was computed over the file with a placeholder where the checksum now is.
    if header.count(stored.encode()) != 1:
        raise _error(path, "the checksum field is damaged")
    digest.update(header.replace(stored.encode(), _CHECKSUM_PLACEHOLDER.encode(), 1))
    digest.update(memoryview(data)[start:])
    if f"sha256:{digest.hexdigest()}" != stored:
        raise _error(path, "the checksum does not match the contents: the file is corrupted (a changed byte, "
                           "or an incomplete copy)")


# -- models -------------------------------------------------------------------------------------
def save_model(model, path, *, include_optimizer: bool | None = None, preprocessing: dict | None = None) -> None:
    """Write `model` to `path`: weights, architecture, compile settings, preprocessing, seed, RNG state,
    and (include_optimizer=None: whenever the model is compiled) the optimizer state, so that a
    resumed `fit` continues exactly where this one stopped."""
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
        metadata["preprocessing"] = _dumps("preprocessing", check_preprocessing(preprocessing))
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
            preprocessing = check_preprocessing(preprocessing)
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
    from .initializers import get_initializer
    from .layers import LAYERS
    from .model import Sequential

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
    from . import __version__

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
def check_preprocessing(preprocessing: dict) -> dict:
    """Validate the preprocessing a model needs at prediction time; returns it as plain JSON values.

    Keys (all optional): feature_names (list of str), mean and scale (lists of numbers, one per
    feature: x' = (x - mean) / scale), class_labels (list of str or numbers, one per output class),
    target (str), task ("classification" or "regression").
    """
    if not isinstance(preprocessing, dict):
        raise TypeError(f"Invalid type for argument `preprocessing`: expected a dict. Received: {preprocessing!r}.")
    unknown = set(preprocessing) - PREPROCESSING_KEYS
    if unknown:
        raise ValueError(f"Invalid value for argument `preprocessing`: unknown key {sorted(unknown)[0]!r}; "
                         f"valid keys: {', '.join(sorted(PREPROCESSING_KEYS))}.")
    result = {}
    for key, value in preprocessing.items():
        if value is None:
            result[key] = None
        elif key in ("mean", "scale"):
            values = np.asarray(value, dtype=np.float64)
            if values.ndim != 1 or not np.isfinite(values).all() or (key == "scale" and (values <= 0).any()):
                raise ValueError(f"Invalid value for preprocessing `{key}`: expected finite numbers, one per "
                                 f"feature{' (positive)' if key == 'scale' else ''}.")
            result[key] = values.tolist()
        elif key in ("feature_names", "class_labels"):
            if not isinstance(value, (list, tuple)) or not all(
                    isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value):
                raise ValueError(f"Invalid value for preprocessing `{key}`: expected a list of strings or numbers.")
            if key == "feature_names" and not all(isinstance(v, str) for v in value):
                raise ValueError("Invalid value for preprocessing `feature_names`: expected a list of strings.")
            result[key] = [v.item() if hasattr(v, "item") else v for v in value]
        elif key == "task" and value not in ("classification", "regression"):
            raise ValueError(f"Invalid value for preprocessing `task`: expected 'classification' or "
                             f"'regression'. Received: {value!r}.")
        elif key in ("target", "task") and not isinstance(value, str):
            raise ValueError(f"Invalid value for preprocessing `{key}`: expected a string.")
        else:
            result[key] = value
    lengths = {k: len(result[k]) for k in ("feature_names", "mean", "scale") if result.get(k) is not None}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"Invalid preprocessing: feature_names, mean and scale need one entry per feature. "
                         f"Received lengths {lengths}.")
    return result
