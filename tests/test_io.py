"""Model files (mlplab.io): round trips, resumed training, and every kind of bad file refused."""
import json
import os
import pickle
import struct

import numpy as np
import pytest

import mlplab as ml
from mlplab.files import model_files as io



def make_model(dtype="float32", seed=0, compiled=True):
    model = ml.Sequential([ml.Dense(8, "relu", input_dim=4), ml.BatchNormalization(), ml.Dropout(0.2),
                           ml.Dense(6, "tanh"), ml.Dense(3, "softmax")], seed=seed, dtype=dtype)
    if compiled:
        model.compile(optimizer=ml.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def data(n=64):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 4))
    return x, (x[:, 0] + x[:, 1] > 0).astype(int) + (x[:, 2] > 1)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("include_optimizer", [False, None])
def test_round_trip_predicts_identically(tmp_path, dtype, include_optimizer):
    x, y = data()
    model = make_model(dtype)
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    path = tmp_path / "model.safetensors"
    model.save(path, include_optimizer=include_optimizer)
    loaded = ml.load_model(path)
    assert loaded.dtype == np.dtype(dtype)
    assert np.array_equal(loaded.predict(x), model.predict(x))
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert loaded.get_config() == model.get_config()
    assert loaded.rng.bit_generator.state == model.rng.bit_generator.state
    assert loaded.evaluate(x, y) == model.evaluate(x, y)
    names = set(io.read_file(path)[0])
    assert any(n.startswith("optimizer/") for n in names) == (include_optimizer is None)
    if include_optimizer is None:  # every slot (Adam's m and v per parameter) and the step count come back
        saved, restored = model.optimizer.get_state(), loaded.optimizer.get_state()
        assert set(saved) == set(restored) and len(saved) > 1 and int(restored["iterations"]) == 8
        for key in saved:
            assert np.array_equal(saved[key], restored[key]) and saved[key].dtype == restored[key].dtype
    else:
        assert loaded.optimizer.iterations == 0


def test_uncompiled_and_unbuilt_models_round_trip(tmp_path):
    model = make_model(compiled=False)
    model.save(tmp_path / "a.safetensors")
    loaded = ml.load_model(tmp_path / "a.safetensors")
    assert not loaded.compiled and np.array_equal(loaded.predict(data()[0]), model.predict(data()[0]))
    unbuilt = ml.Sequential([ml.Dense(3), ml.Dense(1)], seed=2)
    unbuilt.save(tmp_path / "b.safetensors")
    assert not ml.load_model(tmp_path / "b.safetensors").built


def test_file_is_a_valid_safetensors_container(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    from safetensors import safe_open

    model = make_model()
    model.save(tmp_path / "m.safetensors")
    tensors = safetensors_numpy.load_file(tmp_path / "m.safetensors")
    assert np.array_equal(tensors["weights/dense/weight"], model.layers[0].params["weight"])
    with safe_open(tmp_path / "m.safetensors", "np") as file:
        metadata = file.metadata()
    assert metadata["format"] == "mlplab" and json.loads(metadata["architecture"]) == model.get_config()
    # And the other way: the safetensors library's output is read by our reader (given our metadata).
    path = tmp_path / "theirs.safetensors"
    ours_meta = io.read_metadata(tmp_path / "m.safetensors")
    safetensors_numpy.save_file(dict(tensors), path, metadata={k: v for k, v in ours_meta.items() if k != "checksum"})
    with pytest.raises(ValueError, match="checksum"):
        ml.load_model(path)  # no checksum: refused, but only for that reason (the layout was accepted)


def test_transposed_weights_round_trip(tmp_path):
    """safetensors writes raw buffers: a non-contiguous array must be made contiguous first."""
    weight = np.arange(12, dtype=np.float32).reshape(4, 3).T  # (3, 4), Fortran-ordered view
    assert not weight.flags.c_contiguous
    io.write_file(tmp_path / "t.safetensors", {"w": weight, "s": weight[:, ::2], "n": np.array(7, np.int64)},
                  {"format": "mlplab", "format_version": "1.0"})
    tensors, _ = io.read_file(tmp_path / "t.safetensors")
    assert np.array_equal(tensors["w"], weight) and np.array_equal(tensors["s"], weight[:, ::2])
    assert tensors["n"].shape == () and tensors["n"] == 7  # 0-d stays 0-d
    model = ml.Sequential([ml.Dense(4, input_dim=3)], seed=0)
    model.set_weights([np.asfortranarray(np.arange(12.0).reshape(3, 4)), np.zeros(4)])
    model.layers[0].params["weight"] = model.layers[0].params["weight"].T.copy().T  # a strided view
    model.save(tmp_path / "m.safetensors")
    assert np.array_equal(ml.load_model(tmp_path / "m.safetensors").get_weights()[0], np.arange(12.0).reshape(3, 4))


@pytest.mark.parametrize("optimizer", ["adam", "sgd_momentum", "rmsprop"])
def test_resumed_fit_equals_uninterrupted_fit_bit_for_bit(tmp_path, optimizer):
    x, y = data(96)
    make_optimizer = {"adam": lambda: ml.Adam(0.01), "sgd_momentum": lambda: ml.SGD(0.05, momentum=0.9),
                      "rmsprop": lambda: ml.RMSprop(0.01)}[optimizer]

    def fresh():
        model = make_model(seed=3)
        model.compile(optimizer=make_optimizer(), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    straight = fresh()
    straight.fit(x, y, epochs=4, batch_size=16, verbose=0)
    first = fresh()
    first.fit(x, y, epochs=2, batch_size=16, verbose=0)
    first.save(tmp_path / "half.safetensors")
    resumed = ml.load_model(tmp_path / "half.safetensors")
    resumed.fit(x, y, epochs=2, batch_size=16, verbose=0)
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        assert np.array_equal(a, b)
    assert resumed.optimizer.iterations == straight.optimizer.iterations


def test_save_weights_and_load_weights(tmp_path):
    x, y = data()
    model = make_model()
    model.fit(x, y, epochs=1, verbose=0)
    model.save_weights(tmp_path / "w.safetensors")
    other = make_model(seed=9)
    other.load_weights(tmp_path / "w.safetensors")
    assert np.array_equal(other.predict(x), model.predict(x))
    unbuilt = ml.Sequential([ml.Dense(8, "relu"), ml.BatchNormalization(), ml.Dropout(0.2), ml.Dense(6, "tanh"),
                             ml.Dense(3, "softmax")])
    unbuilt.load_weights(tmp_path / "w.safetensors")
    assert np.array_equal(unbuilt.predict(x), model.predict(x))
    with pytest.raises(ValueError, match="not a model"):
        ml.load_model(tmp_path / "w.safetensors")


def test_load_weights_into_a_different_architecture_changes_nothing(tmp_path, model_snapshot):
    make_model().save_weights(tmp_path / "w.safetensors")
    model = ml.Sequential([ml.Dense(8, "relu", input_dim=4), ml.Dense(3, "softmax")], seed=0)
    snap = model_snapshot(model, data()[0])
    with pytest.raises(ValueError, match="w.safetensors.*do not match the architecture"):
        model.load_weights(tmp_path / "w.safetensors")
    snap.assert_unchanged()


def test_preprocessing_with_string_labels_round_trips(tmp_path):
    model = make_model()
    prep = {"feature_names": ["a", "b", "c", "d"], "mean": [0.5, 1, 2, 3], "scale": [1, 2, 3, 0.25],
            "class_labels": ["cat", "dog", "émeu"], "target": "animal", "task": "classification"}
    io.save_model(model, tmp_path / "m.safetensors", preprocessing=prep)
    loaded = ml.load_model(tmp_path / "m.safetensors")
    assert loaded.preprocessing == {**prep, "mean": [0.5, 1.0, 2.0, 3.0], "scale": [1.0, 2.0, 3.0, 0.25]}
    loaded.save(tmp_path / "again.safetensors")  # kept on the model: saved again
    assert ml.load_model(tmp_path / "again.safetensors").preprocessing == loaded.preprocessing
    with pytest.raises(ValueError, match="one entry per feature"):
        io.save_model(model, tmp_path / "bad.safetensors", preprocessing={"feature_names": ["a"], "mean": [1, 2]})
    assert not (tmp_path / "bad.safetensors").exists()


# -- refused files ------------------------------------------------------------------------------
@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "model.safetensors"
    make_model().save(path)
    return path


def test_truncated_files_are_refused(saved, tmp_path):
    data_bytes = saved.read_bytes()
    for cut in (0, 5, 8, 40, len(data_bytes) // 2, len(data_bytes) - 1):
        path = tmp_path / f"cut{cut}.safetensors"
        path.write_bytes(data_bytes[:cut])
        with pytest.raises(ValueError, match=f"cut{cut}.safetensors"):
            ml.load_model(path)


def test_every_bit_flip_in_sampled_positions_is_refused(saved, tmp_path):
    data_bytes = bytearray(saved.read_bytes())
    header_end = 8 + struct.unpack("<Q", bytes(data_bytes[:8]))[0]
    positions = list(range(0, 8)) + list(range(8, header_end, 37)) + list(range(header_end, len(data_bytes), 11))
    for position in positions:
        flipped = bytearray(data_bytes)
        flipped[position] ^= 1 << (position % 8)
        path = tmp_path / "flipped.safetensors"
        path.write_bytes(bytes(flipped))
        with pytest.raises(ValueError, match="flipped.safetensors"):
            ml.load_model(path)


@pytest.mark.parametrize("kind", ["pickle", "npz", "zip", "npy", "text", "empty", "other_safetensors"])
def test_foreign_files_are_refused_with_a_named_reason(tmp_path, kind):
    path = tmp_path / f"file.{kind}"
    if kind == "pickle":
        path.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
        reason = "pickle"
    elif kind in ("npz", "zip"):
        np.savez(path.with_suffix(".npz"), x=np.zeros(3))
        os.replace(path.with_suffix(".npz"), path)
        reason = "zip archive"
    elif kind == "npy":
        np.save(path.with_suffix(".npy"), np.zeros(3))
        os.replace(path.with_suffix(".npy"), path)
        reason = "npy"
    elif kind == "text":
        path.write_text("x,y\n1,2\n")
        reason = "header"
    elif kind == "empty":
        path.write_bytes(b"")
        reason = "too short"
    else:
        header = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                             "__metadata__": {"format": "pt"}}).encode()
        path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0\0\0\0")
        reason = "another program"
    with pytest.raises(ValueError, match=reason) as info:
        ml.load_model(path)
    assert str(path) in str(info.value)


class Payload:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


MARKER = None


def test_pickle_payload_is_refused_and_never_runs(tmp_path):
    global MARKER
    MARKER = tmp_path / "payload_ran"
    raw = pickle.dumps(Payload())
    (tmp_path / "evil.safetensors").write_bytes(raw)
    with pytest.raises(ValueError, match="pickle"):
        ml.load_model(tmp_path / "evil.safetensors")
    # A well-formed container whose metadata and tensors carry the payload, and whose architecture names
    # code instead of a registered layer: refused, and nothing is unpickled.
    config = {"name": "x", "seed": 0, "dtype": "float32",
              "layers": [{"class_name": "os.system", "config": {"command": f"touch {MARKER}"}}]}
    metadata = {"format": "mlplab", "format_version": "1.0", "kind": "model", "architecture": json.dumps(config),
                "input_shape": "null", "rng_state": "null", "payload": raw.decode("latin-1")}
    io.write_file(tmp_path / "evil2.safetensors", {"payload": np.frombuffer(raw.ljust(-(-len(raw) // 8) * 8, b"\0"),
                                                                           np.int64)}, metadata)
    with pytest.raises(ValueError, match="evil2.safetensors.*does not know"):
        ml.load_model(tmp_path / "evil2.safetensors")
    assert not MARKER.exists()


def test_unknown_names_and_major_versions_are_refused(saved, tmp_path):
    tensors, metadata = io.read_file(saved)
    tensors = {k: np.array(v) for k, v in tensors.items()}
    del metadata["checksum"]
    bumped = tmp_path / "v2.safetensors"
    io.write_file(bumped, tensors, {**metadata, "format_version": "2.0"})
    with pytest.raises(ValueError, match="v2.safetensors.*version '2.0'"):
        ml.load_model(bumped)
    io.write_file(tmp_path / "v1_9.safetensors", tensors, {**metadata, "format_version": "1.9"})
    ml.load_model(tmp_path / "v1_9.safetensors")  # a newer minor version only adds optional keys
    config = json.loads(metadata["architecture"])
    config["layers"][0]["config"]["activation"] = "__import__('os').system"
    io.write_file(tmp_path / "act.safetensors", tensors, {**metadata, "architecture": json.dumps(config)})
    with pytest.raises(ValueError, match="act.safetensors.*Unknown activation"):
        ml.load_model(tmp_path / "act.safetensors")
    compile_config = json.loads(metadata["compile"])
    compile_config["optimizer"]["class_name"] = "subprocess.Popen"
    io.write_file(tmp_path / "opt.safetensors", tensors, {**metadata, "compile": json.dumps(compile_config)})
    with pytest.raises(ValueError, match="opt.safetensors.*compile settings"):
        ml.load_model(tmp_path / "opt.safetensors")


def test_shape_dtype_and_tensor_mismatches_are_refused(saved, tmp_path):
    tensors, metadata = io.read_file(saved)
    tensors = {k: np.array(v) for k, v in tensors.items()}
    del metadata["checksum"]
    cases = {
        "shape": {**tensors, "weights/dense/weight": np.zeros((5, 8), np.float32)},
        "dtype": {**tensors, "weights/dense/weight": tensors["weights/dense/weight"].astype(np.float64)},
        "missing": {k: v for k, v in tensors.items() if k != "weights/dense/bias"},
        "extra": {**tensors, "weights/ghost/weight": np.zeros(2, np.float32)},
        "nan": {**tensors, "weights/dense/bias": np.full(8, np.nan, np.float32)},
    }
    for case, case_tensors in cases.items():
        path = tmp_path / f"{case}.safetensors"
        io.write_file(path, case_tensors, metadata)
        with pytest.raises(ValueError, match=f"{case}.safetensors"):
            ml.load_model(path)


def _raw_file(path, header: dict, buffer: bytes):
    data = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(data)) + data + buffer)


@pytest.mark.parametrize("problem, entries, buffer, message", [
    ("overlap", {"a": [0, 8], "b": [4, 12]}, 12, "overlaps"),
    ("gap", {"a": [0, 8], "b": [12, 20]}, 20, "gap"),
    ("out_of_range", {"a": [0, 8], "b": [8, 16]}, 12, "truncated"),
    ("left_over", {"a": [0, 8]}, 16, "padded"),
    ("mismatch", {"a": [0, 4]}, 4, "do not match its shape"),
])
def test_offsets_must_tile_the_buffer(tmp_path, problem, entries, buffer, message):
    header = {name: {"dtype": "F32", "shape": [2], "data_offsets": offsets} for name, offsets in entries.items()}
    header["__metadata__"] = {"format": "mlplab", "format_version": "1.0", "checksum": "sha256:" + "0" * 64}
    _raw_file(tmp_path / "raw.safetensors", header, b"\0" * buffer)
    with pytest.raises(ValueError, match=message):
        io.read_file(tmp_path / "raw.safetensors")


def test_header_size_cap_and_dtypes(tmp_path):
    path = tmp_path / "huge.safetensors"
    path.write_bytes(struct.pack("<Q", 2 ** 40) + b"{}")
    with pytest.raises(ValueError, match="cap"):
        io.read_file(path)
    header = {"a": {"dtype": "O", "shape": [1], "data_offsets": [0, 8]},
              "__metadata__": {"format": "mlplab", "format_version": "1.0"}}
    _raw_file(tmp_path / "obj.safetensors", header, b"\0" * 8)
    with pytest.raises(ValueError, match="dtype 'O'"):
        io.read_file(tmp_path / "obj.safetensors")


def test_save_is_atomic_a_failed_write_keeps_the_old_file(saved, monkeypatch):
    before = saved.read_bytes()

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        make_model(seed=5).save(saved)
    assert saved.read_bytes() == before
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]  # no temporary file left behind


def test_checkpoint_and_csv_logger(tmp_path):
    x, y = data()
    model = make_model()
    best = ml.ModelCheckpoint(tmp_path / "best.safetensors", monitor="val_loss", save_best_only=True)
    every = ml.ModelCheckpoint(str(tmp_path / "e{epoch:02d}.safetensors"))
    history = model.fit(x, y, epochs=4, validation_split=0.25, verbose=0,
                        callbacks=[best, every, ml.CSVLogger(tmp_path / "log.csv")])
    losses = history.history["val_loss"]
    assert len(every.saved) == 4 and (tmp_path / "e04.safetensors").exists()
    improvements = sum(value < min(losses[:i], default=np.inf) for i, value in enumerate(losses))
    assert len(best.saved) == improvements
    assert ml.load_model(tmp_path / "best.safetensors").evaluate(x, y) is not None
    rows = (tmp_path / "log.csv").read_text().splitlines()
    assert rows[0].split(",") == ["epoch"] + list(history.history) and len(rows) == 5
    assert float(rows[-1].split(",")[1]) == history.history["loss"][-1]
    with pytest.raises(ValueError, match="monitor"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[ml.ModelCheckpoint(tmp_path / "b", "val_acc", True)])
