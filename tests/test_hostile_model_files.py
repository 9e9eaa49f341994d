"""Hostile model files are refused before anything is built or allocated, each with one ModelFileError
naming the file and the field; the same checks run when a model is saved.

The hostile files are loaded in ONE subprocess whose address space is limited (RLIMIT_AS: what Python,
NumPy and mlplab take, plus 256 MiB) and which is killed after two minutes, so a loader that allocates
what an architecture declares, reads trailing gigabytes whole, recurses into deep JSON or waits on a
FIFO makes its case fail instead of taking the machine down.
"""
import json
import os
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import mlplab as ml
from mlplab.files import ModelFileError
from mlplab.files import model_files as io
from mlplab.files.container import JSON_DEPTH_CAP, json_depth

linux_only = pytest.mark.skipif(not hasattr(os, "mkfifo") or sys.platform != "linux",
                                reason="RLIMIT_AS, FIFOs and /dev/zero: Linux only")
BUDGET = 256 * 2**20


def trained_model():
    model = ml.Sequential([ml.Flatten(input_shape=(2, 2)), ml.Dense(5, "relu"), ml.BatchNormalization(),
                           ml.Dense(3, "softmax")], seed=0)
    model.compile(optimizer=ml.Adam(0.01), loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).normal(size=(32, 2, 2))
    model.fit(x, (x[:, 0, 0] > 0).astype(int) + (x[:, 1, 1] > 1), epochs=2, batch_size=8, verbose=0)
    return model


def parts(path):
    tensors, metadata = io.read_file(path)
    metadata = dict(metadata)
    del metadata["checksum"]
    return {k: np.array(v) for k, v in tensors.items()}, metadata


def rewrite(path, tensors, metadata, **changes):
    """A file with valid container bytes (offsets, checksum) and the given metadata fields replaced."""
    io.write_file(path, tensors, {**metadata, **changes})
    return path


def with_layer_config(metadata, index, **config):
    architecture = json.loads(metadata["architecture"])
    architecture["layers"][index]["config"].update(config)
    return json.dumps(architecture)


def raw_file(path, header_text: str, data: bytes = b""):
    encoded = header_text.encode()
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + data)
    return path


def build_cases(root: Path) -> dict:
    """{case name: (path, regex the message must match)}; every case is a class of attack, several variants each."""
    good = root / "good.safetensors"
    trained_model().save(good)
    tensors, metadata = parts(good)
    cases = {}

    def case(name, path, expect):
        cases[name] = (str(path), expect)

    fifo = root / "fifo.safetensors"
    os.mkfifo(fifo)
    case("a FIFO", fifo, "FIFO, not a regular file")
    folder = root / "folder.safetensors"
    folder.mkdir()
    case("a folder", folder, "folder, not a regular file")
    zero = root / "zero.safetensors"
    zero.symlink_to("/dev/zero")
    case("a link to /dev/zero", zero, "device or socket, not a regular file")

    deep = 100_000
    case("header nested 100,000 deep in a list", raw_file(root / "deep_list.safetensors", "{\"a\":" + "[" * deep
                                                          + "]" * deep + "}"), "the header nests 100001 levels")
    case("header nested 100,000 deep in objects", raw_file(root / "deep_obj.safetensors", '{"a":' * deep + "1"
                                                           + "}" * deep), "the header nests 100000 levels")
    case("header nested just over the cap", raw_file(root / "deep_cap.safetensors", '{"a":' + "[" * JSON_DEPTH_CAP
                                                     + "]" * JSON_DEPTH_CAP + "}"), "the header nests 65 levels")
    for field in ("architecture", "compile", "rng_state", "input_shape"):
        case(f"{field} nested 100,000 deep", rewrite(root / f"deep_{field}.safetensors", tensors, metadata,
                                                      **{field: "[" * deep + "]" * deep}),
             f"metadata field '{field}' nests 100000 levels")
    case("architecture of 17 MiB", rewrite(root / "big_architecture.safetensors", tensors, metadata,
                                           architecture=json.dumps(["x" * (17 * 2**20)])),
         "metadata field 'architecture' is .* over the .*-byte cap")

    case("units of 10**10 in the first Dense", rewrite(root / "units0.safetensors", tensors, metadata,
                                                       architecture=with_layer_config(metadata, 1, units=10**10)),
         r"tensor 'weights/dense/weight' has shape \(4, 5\).*needs \(4, 10000000000\)")
    case("units of 10**10 in the last Dense", rewrite(root / "units1.safetensors", tensors, metadata,
                                                      architecture=with_layer_config(metadata, 3, units=10**10)),
         r"tensor 'weights/dense_1/weight' .* needs \(5, 10000000000\)")
    case("input_shape of 10**6 x 10**6", rewrite(
        root / "input.safetensors", tensors, metadata, input_shape="[1000000, 1000000]",
        architecture=with_layer_config(metadata, 0, input_shape=[10**6, 10**6])),
        r"weights/dense/weight.*needs \(1000000000000, 5\)")
    case("input_shape of 10**12 features", rewrite(
        root / "input1.safetensors", tensors, metadata, input_shape=json.dumps([10**12, 1]),
        architecture=with_layer_config(metadata, 0, input_shape=[10**12, 1])), r"needs \(1000000000000, 5\)")
    case("a Dense weight missing", rewrite(root / "missing.safetensors", {
        k: v for k, v in tensors.items() if k != "weights/dense_1/weight"}, metadata),
        "needs tensor 'weights/dense_1/weight'")

    data = good.read_bytes()
    for label, size in (("1 byte", 1), ("1.25 GiB", 5 * 2**28)):
        padded = root / f"trailing_{size}.safetensors"
        padded.write_bytes(data)
        with open(padded, "r+b") as file:
            file.truncate(len(data) + size)  # sparse: the test machine's disk stays free
        case(f"{label} of trailing bytes", padded, "padded or corrupted")

    for slot, value in (("m", np.nan), ("v", np.inf), ("m", -np.inf)):
        bad = {**tensors, f"optimizer/dense/weight/{slot}": np.full((4, 5), value, np.float32)}
        case(f"optimizer slot {slot} holding {value}", rewrite(root / f"opt_{slot}_{value}.safetensors", bad,
                                                               metadata),
             f"tensor 'optimizer/dense/weight/{slot}' \\(optimizer state\\) holds NaN or inf")
    for label, iterations in (("negative", np.array(-3)), ("a vector", np.array([1, 2])),
                              ("a float", np.array(2.5))):
        bad = {**tensors, "optimizer/iterations": iterations}
        name = root / f"iterations_{label.split()[-1]}.safetensors"
        case(f"optimizer iterations {label}", rewrite(name, bad, metadata),
             "tensor 'optimizer/iterations' \\(optimizer state\\) must be one non-negative integer")
    bad = {**tensors, "weights/batchnormalization/moving_variance": np.full(5, np.nan, np.float32)}
    case("NaN in a moving variance", rewrite(root / "bn_nan.safetensors", bad, metadata),
         "'weights/batchnormalization/moving_variance' \\(weights\\) holds NaN or inf")
    return cases


CHILD = textwrap.dedent("""
    import json, re, resource, sys, time
    import mlplab as ml
    used = int(re.search(r"VmSize:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) * 1024
    limit = used + int(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    results = {}
    for name, (path, _) in json.loads(open(sys.argv[1]).read()).items():
        start = time.perf_counter()
        try:
            ml.load_model(path)
            outcome = ("loaded", "")
        except BaseException as err:
            outcome = (type(err).__name__, str(err))
        results[name] = outcome + (time.perf_counter() - start,)
    print(json.dumps(results))
""")


@pytest.fixture(scope="module")
def hostile_results(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile_models")
    cases = build_cases(root)
    (root / "cases.json").write_text(json.dumps(cases))
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(Path(ml.__file__).parents[1]), os.environ.get("PYTHONPATH", "")]))
    child = subprocess.run([sys.executable, "-c", CHILD, str(root / "cases.json"), str(BUDGET)], env=env,
                           capture_output=True, text=True, timeout=120)  # a hang (FIFO) fails here
    assert child.returncode == 0, child.stderr[-3000:]
    return cases, json.loads(child.stdout.strip().splitlines()[-1])


CASES = ["a FIFO", "a folder", "a link to /dev/zero", "header nested 100,000 deep in a list",
         "header nested 100,000 deep in objects", "header nested just over the cap",
         "architecture nested 100,000 deep", "compile nested 100,000 deep", "rng_state nested 100,000 deep",
         "input_shape nested 100,000 deep", "architecture of 17 MiB", "units of 10**10 in the first Dense",
         "units of 10**10 in the last Dense", "input_shape of 10**6 x 10**6", "input_shape of 10**12 features",
         "a Dense weight missing", "1 byte of trailing bytes", "1.25 GiB of trailing bytes",
         "optimizer slot m holding nan", "optimizer slot v holding inf", "optimizer slot m holding -inf",
         "optimizer iterations negative", "optimizer iterations a vector", "optimizer iterations a float",
         "NaN in a moving variance"]


@linux_only
@pytest.mark.parametrize("name", CASES)
def test_hostile_model_file_is_refused_before_anything_is_allocated(hostile_results, name):
    cases, results = hostile_results
    kind, message, seconds = results[name]
    path, expect = cases[name]
    assert kind == "ModelFileError", f"{name}: {kind}: {message}"  # MemoryError/RecursionError: a check came late
    assert __import__("re").search(expect, message), message
    assert message.startswith(f"Cannot load {path!r}: "), message  # one error, naming the file
    assert seconds < 30, seconds  # generous: only a hang or a whole read of the trailing bytes is this slow


@linux_only
def test_every_hostile_model_case_is_listed(tmp_path):
    assert sorted(build_cases(tmp_path)) == sorted(CASES)


def test_the_checked_good_file_still_loads_and_continues_training(tmp_path):
    model = trained_model()
    model.save(tmp_path / "good.safetensors")
    loaded = ml.load_model(tmp_path / "good.safetensors")
    assert all(np.array_equal(a, b) for a, b in zip(loaded.get_weights(), model.get_weights()))
    assert loaded.optimizer.iterations == model.optimizer.iterations


@pytest.mark.parametrize("text", ["[]", '{"a": [1, {"b": "[[[\\"[["}]}', '"{{{{"', "[" * 70 + "]" * 70,
                                  '{"a": "\\\\", "b": [[]]}'])
def test_json_depth_matches_the_parsed_depth(text):
    def depth(value):
        if isinstance(value, (list, dict)):
            children = value.values() if isinstance(value, dict) else value
            return 1 + max((depth(child) for child in children), default=0)
        return 0

    assert json_depth(text) == depth(json.loads(text))


def test_save_runs_the_same_checks_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "model.safetensors"
    model = trained_model()
    model.save(path)
    before = path.read_bytes()
    state = model.optimizer.get_state()
    model.optimizer.set_state({**state, "dense/weight/v": np.full((4, 5), np.nan, np.float32)})
    with pytest.raises(ModelFileError, match=r"Cannot save .*model.safetensors.*'optimizer/dense/weight/v' "
                                             r"\(optimizer state\) holds NaN"):
        model.save(path)
    assert path.read_bytes() == before
    model.optimizer.set_state(state)
    deep = "[" * 100 + "]" * 100
    model.preprocessing = {"target": "y", "feature_names": [f"{deep}{i}" for i in range(4)]}  # deep text in strings
    model.save(path)  # brackets inside strings are not nesting
    assert ml.load_model(path).preprocessing["feature_names"][0] == deep + "0"


def test_load_weights_checks_shapes_before_building_an_unbuilt_model(tmp_path):
    model = trained_model()
    model.save_weights(tmp_path / "w.safetensors")
    tensors, metadata = parts(tmp_path / "w.safetensors")
    rewrite(tmp_path / "huge.safetensors", tensors, metadata, input_shape="[1000000, 1000000]")
    target = ml.Sequential([ml.Flatten(), ml.Dense(5, "relu"), ml.BatchNormalization(), ml.Dense(3, "softmax")])
    with pytest.raises(ModelFileError, match=r"huge.safetensors.*needs \(1000000000000, 5\)"):
        target.load_weights(tmp_path / "huge.safetensors")
    assert not target.built
    target.load_weights(tmp_path / "w.safetensors")
    assert all(np.array_equal(a, b) for a, b in zip(target.get_weights(), model.get_weights()))


@pytest.mark.parametrize("field, value", [("state", -1), ("state", 2**130), ("inc", -5), ("state", "x"),
                                          ("state", None)])
def test_an_rng_state_out_of_range_is_one_model_file_error(tmp_path, field, value):
    trained_model().save(tmp_path / "good.safetensors")
    tensors, metadata = parts(tmp_path / "good.safetensors")
    state = json.loads(metadata["rng_state"])
    state["state"][field] = value
    rewrite(tmp_path / "rng.safetensors", tensors, metadata, rng_state=json.dumps(state))
    with pytest.raises(ModelFileError, match=r"rng.safetensors.*rng_state"):
        ml.load_model(tmp_path / "rng.safetensors")
