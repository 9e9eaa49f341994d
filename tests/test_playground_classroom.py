"""The playground for a classroom, without a browser: tables of any width, the lessons, the training doctor,
explain with the page's own optimizer, model import and ONNX export, and hostile or diverging input."""
import base64
import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import mlplab as ml
from mlplab.playground import data as playground_data
from mlplab.playground import lessons
from mlplab.playground.imports import load_bytes
from mlplab.playground import session as session_module
from mlplab.playground.session import PlaygroundError, Session

pytest.importorskip("starlette")
pytest.importorskip("httpx")
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
from starlette.testclient import TestClient  # noqa: E402

from mlplab.playground.server import create_app  # noqa: E402

SMALL = {"n_samples": 60, "layers": [{"units": 3, "activation": "tanh"}]}


def table_csv(n_rows=80, n_features=5, task="binary", seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (n_rows, n_features)) * np.arange(1, n_features + 1) * 10 + 50  # columns of other scales
    z = (x - 50) / (np.arange(1, n_features + 1) * 10)
    if task == "binary":
        y = (z[:, 0] + z[:, 1] > 0).astype(int)
    elif task == "multiclass":
        y = np.digitize(z[:, 0], [-0.5, 0.5])
    else:
        y = np.sin(z[:, 0]) + 0.5 * z[:, 0]
    header = ",".join([f"f{i}" for i in range(n_features)] + ["target"])
    return header + "\n" + "\n".join(",".join(map(repr, [*row, label])) for row, label in zip(x.tolist(), y.tolist()))


def table_config(text, **extra):
    columns, x, y = playground_data.parse_table(text)
    points = [[*row, label] for row, label in zip(x.tolist(), y.tolist())]
    return {"dataset": "custom", "columns": columns, "points": points, **extra}


# -- tables ------------------------------------------------------------------------------------------
def test_a_five_feature_table_trains_and_its_slice_holds_the_other_columns():
    session = Session(table_config(table_csv(), layers=[{"units": 8, "activation": "relu"}], learning_rate=0.03))
    assert session.model.input_shape == (5,) and not isinstance(session.model.layers[0], ml.Features)
    np.testing.assert_allclose(session.x_train.mean(axis=0), 0, atol=1e-9)  # standardized by the training split
    session.train_epochs(30)
    assert session.metrics()["train_accuracy"] > 0.9
    session.set_view({"x": 1, "y": 0, "held": 1.5})
    grid = session.grid_inputs(4)
    np.testing.assert_allclose(grid[:, [2, 3, 4]], 1.5)  # the columns not shown are held at the chosen value
    assert grid[:, 1].min() == -3 and grid[:, 0].max() == 3
    output = np.array(session.predict_grid())
    np.testing.assert_allclose(output, session.model.predict(session.grid_inputs(50))[:, 0], atol=1e-4)
    # the export writes the table back in its own units, and the model file carries the standardization
    csv_lines = session.data_csv().splitlines()
    assert csv_lines[0] == "f0,f1,f2,f3,f4,label,split"
    raw = np.array([[float(v) for v in line.split(",")[:5]] for line in csv_lines[1:]])
    assert abs(raw.mean() - 50) < 10
    assert session.model.preprocessing["feature_names"] == ["f0", "f1", "f2", "f3", "f4"]
    with pytest.raises(ValueError, match="two different columns"):
        session.set_view({"x": 2, "y": 2})


@pytest.mark.parametrize("task, loss", [("multiclass", "sparse_categorical_crossentropy"),
                                        ("regression", "mean_squared_error")])
def test_uploading_a_table_resets_the_loss_to_its_task(task, loss):
    with TestClient(create_app()).websocket_connect("/ws") as ws:
        ws.receive_json()
        ws.send_json({"type": "config", "config": {"dataset": "xor", "loss": "binary_crossentropy", **SMALL}})
        receive_until(ws, "update")
        ws.send_json({"type": "upload", "csv": table_csv(n_features=1 if task == "regression" else 3, task=task)})
        data = receive_until(ws, "data")
        assert data["task"] == task and data["config"]["loss"] == loss
        update = receive_until(ws, "update")
        if task == "regression":  # one feature: the fitted curve along it
            assert len(update["output"]) == 120 and all(v is not None for v in update["output"])


def test_a_table_with_huge_values_is_refused_and_later_steps_still_work():
    with TestClient(create_app()).websocket_connect("/ws") as ws:
        ws.receive_json()
        ws.send_json({"type": "config", "config": {"dataset": "xor", **SMALL}})
        receive_until(ws, "update")
        rows = "\n".join(f"{a * 1e200!r},{b!r},{int(a > 0)}" for a, b in np.random.default_rng(0).normal(size=(20, 2)).tolist())
        ws.send_json({"type": "upload", "csv": "x1,x2,label\n" + rows})
        assert "within ±1e+06" in receive_until(ws, "error")["message"]
        config = {"dataset": "custom", "points": [[1e200, 0, 0], [1, 1, 1], [2, 2, 0], [3, 3, 1]]}
        ws.send_json({"type": "config", "config": config})
        assert "within ±1e+06" in receive_until(ws, "error")["message"]
        ws.send_json({"type": "step"})
        update = receive_until(ws, "update")
        assert update["epoch"] == 1 and update["train_loss"] is not None


def test_a_configuration_is_committed_only_after_its_trial_evaluation(monkeypatch):
    session = Session({"dataset": "xor", **SMALL})
    session.train_epochs(2)
    build = session_module.build_model

    def overflowing(*args):  # a network whose output overflows float32 on these data
        model = build(*args)
        model.set_weights([np.full_like(w, 1e30) for w in model.get_weights()])
        return model

    monkeypatch.setattr(session_module, "build_model", overflowing)
    with pytest.raises(PlaygroundError, match="cannot be used"):
        session.configure({"dataset": "circle", "layers": [{"units": 3, "activation": "relu"}] * 3})
    monkeypatch.undo()
    assert session.config["dataset"] == "xor" and session.epoch == 2
    session.train_epochs(1)
    assert np.isfinite(session.metrics()["train_loss"])


def receive_until(ws, kind, limit=60):
    for _ in range(limit):
        message = ws.receive_json()
        if message["type"] == kind:
            return message
    raise AssertionError(f"no {kind!r} message")


# -- hostile messages ----------------------------------------------------------------------------------
@pytest.mark.parametrize("text, message", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    (json.dumps({"type": "config", "config": {"layers": [[[[[[[[[[1]]]]]]]]]]}}), "nested too deeply"),
    (json.dumps({"type": "view", "view": {"x": 7}}), "x: expected an integer from 0 to 1"),
    (json.dumps({"type": "import", "model": "not base64!"}), "not valid base64"),
    (json.dumps({"type": "import", "model": base64.b64encode(b"\x00" * 64).decode()}), "not a model file"),
    (json.dumps({"type": "lesson", "name": "mnist-in-the-browser"}), "lesson: expected one of"),
])
def test_malformed_messages_get_a_user_error_never_an_internal_error(text, message):
    with TestClient(create_app()).websocket_connect("/ws") as ws:
        ws.receive_json()
        ws.send_json({"type": "config", "config": {"dataset": "xor", **SMALL}})
        receive_until(ws, "status")
        ws.send_text(text)
        error = receive_until(ws, "error")["message"]
        assert message in error and "Internal error" not in error


# -- the doctor and the divergence -------------------------------------------------------------------
def test_a_learning_rate_of_10_diverges_and_the_doctor_names_it():
    with TestClient(create_app()).websocket_connect("/ws") as ws:
        ws.receive_json()
        ws.send_json({"type": "config", "config": {"dataset": "cubic", "optimizer": "sgd", "learning_rate": 10,
                                                   "n_samples": 200}})
        before = receive_until(ws, "update")
        ws.send_json({"type": "step"})
        update = receive_until(ws, "update")
        error = receive_until(ws, "error")["message"]
        assert "diverged" in error and "Internal error" not in error
        assert update["epoch"] == 0 and update["output"] == before["output"]  # put back as it was
        problems = [finding["problem"] for finding in update["doctor"]]
        assert problems[0] == "Divergence" and "learning rate of 10" in update["doctor"][0]["why"]
        ws.send_json({"type": "play"})  # playing diverges the same way: paused, with a user error
        error = receive_until(ws, "error")["message"]
        assert "diverged" in error and "Internal error" not in error
        assert receive_until(ws, "status")["playing"] is False


def test_the_doctor_names_the_vanishing_gradient_of_8_sigmoid_layers_not_of_relu():
    sigmoid = Session(lessons.PAGES["vanishing-gradient"]["steps"][0]["config"])
    sigmoid.train_epochs(1)
    metrics = sigmoid.metrics()
    assert metrics["gradient_ratio"] < 0.01
    finding = [f for f in sigmoid.doctor() if f["problem"] == "Vanishing gradient"]
    assert finding and "ReLU" in finding[0]["fix"]
    relu = Session(lessons.PAGES["vanishing-gradient"]["steps"][1]["config"])
    relu.train_epochs(1)
    assert "Vanishing gradient" not in [f["problem"] for f in relu.doctor()]


def test_the_doctor_names_dead_relu_units():
    session = Session({"dataset": "xor", **SMALL, "layers": [{"units": 4, "activation": "relu"}]})
    session.train_epochs(1)
    dense = session.model.layers[1]
    weight, bias = dense.get_weights()
    dense.set_weights([weight, np.full_like(bias, -100.0)])  # every unit off for every point
    assert [f for f in session.doctor() if f["problem"] == "Dead units"]


# -- explain with the page's optimizer -----------------------------------------------------------------
def test_explain_shows_adams_moments_and_matches_the_step_adam_takes():
    session = Session({"dataset": "xor", **SMALL, "optimizer": "adam", "learning_rate": 0.05})
    session.train_epochs(2)
    weights = session.model.get_weights()
    text = session.explain()
    assert text.startswith("Optimizer on this page: Adam (learning rate 0.05")
    assert "m̂ = [" in text and "v̂ = [" in text and "step size lr/(√v̂ + ε)" in text
    difference = float(re.search(r"differ by at most (\d\.\de[+-]\d+)", text).group(1))
    assert difference < 1e-6  # the formula with m̂, v̂ is the step Adam really took
    for before, after in zip(weights, session.model.get_weights()):
        np.testing.assert_array_equal(before, after)  # the page's network is not touched
    sgd = Session({"dataset": "xor", **SMALL, "optimizer": "sgd"}).explain()
    assert sgd.startswith("Optimizer on this page: SGD") and "m̂" not in sgd


# -- round trip: model file back into the page, ONNX out ------------------------------------------------
@pytest.mark.parametrize("settings", [
    {"dataset": "spirals", "features": ["x1", "x2", "sin(x1)"], "batch_norm": True, "batch_size": 8, "dropout": 0.1,
     "layers": [{"units": 5, "activation": "relu"}, {"units": 4, "activation": "tanh"}]},
    {"dataset": "xor", "optimizer": "momentum", **SMALL},
])
def test_an_exported_model_file_comes_back_with_the_same_predictions(settings):
    page = Session({**settings, "n_samples": 80})
    page.train_epochs(3)
    content, _ = page.model_file()
    other = Session({**settings, "n_samples": 80, "layers": [{"units": 1, "activation": "linear"}], "seed": 5})
    other.adopt(load_bytes(base64.b64encode(content).decode()))
    assert other.config["layers"] == page.config["layers"] and other.config["batch_norm"] == page.config["batch_norm"]
    assert other.config["optimizer"] == page.config["optimizer"]
    np.testing.assert_allclose(other.predict_grid(), page.predict_grid(), atol=1e-6)
    other.train_epochs(1)  # and it keeps training on the page


def test_a_model_for_other_data_is_refused_on_import():
    content, _ = Session({"dataset": "blobs", **SMALL}).model_file()
    session = Session({"dataset": "xor", **SMALL})
    with pytest.raises(ValueError, match="multiclass task; the page's data are binary"):
        session.adopt(load_bytes(base64.b64encode(content).decode()))
    assert session.config["dataset"] == "xor"


def test_onnx_export_computes_the_features_as_graph_ops_like_mlplab():
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    session = Session({"dataset": "spiral", "features": list(ml.FEATURES), "n_samples": 80,
                       "layers": [{"units": 6, "activation": "tanh"}]})
    session.train_epochs(3)
    content, name = session.onnx_file()
    assert name == "playground.onnx"
    runtime = ort.InferenceSession(content)
    x = np.random.default_rng(1).uniform(-6, 6, (64, 2)).astype(np.float32)
    probabilities = runtime.run(None, {"input": x})[0]
    np.testing.assert_allclose(probabilities, session.model.predict(x), atol=1e-5)
    import onnx

    ops = {node.op_type for node in onnx.load_from_string(content).graph.node}
    assert {"Gather", "Mul", "Sin", "Concat"} <= ops


# -- lessons -------------------------------------------------------------------------------------------
def test_every_lesson_page_names_its_lecture_and_its_settings_are_valid():
    for name in lessons.lesson_names():
        page = lessons.lesson_page(name)
        assert page["lecture"] and page["steps"]
        for index, step in enumerate(page["steps"]):
            Session({**step["config"], "lesson": name, "lesson_step": index})
    xor = lessons.lesson_page("logic-gates-xor")
    assert xor["printed"][1][1] == [0.001413, 0.9953, 0.993166, 0.0079]  # the lecture's own numbers


@pytest.mark.slow
@pytest.mark.parametrize("name", lessons.lesson_names())
def test_each_lesson_reaches_its_outcome(name):
    page = lessons.PAGES[name]
    for index, step in enumerate(page["steps"]):
        session = Session({**step["config"], "lesson": name, "lesson_step": index})
        for _ in range(60):
            session.train_epochs(5)
            if session.snapshot()["lesson"]["reached"]:
                break
        assert session.snapshot()["lesson"]["reached"], (name, index, session.metrics())


def test_the_doctor_names_saturated_units_only_while_the_network_still_errs():
    session = Session({"dataset": "circle", **SMALL, "layers": [{"units": 4, "activation": "sigmoid"}]})
    session.train_epochs(1)
    dense = session.model.layers[1]
    weight, bias = dense.get_weights()
    dense.set_weights([weight, np.full_like(bias, 50.0)])  # every unit pinned at 1
    metrics = session.metrics()
    assert [f for f in session.doctor(metrics) if f["problem"] == "Saturated units"]
    assert not [f for f in session.doctor({**metrics, "train_accuracy": 1.0}) if f["problem"] == "Saturated units"]


def test_the_exported_scripts_settings_come_back_into_the_page():
    settings = {"dataset": "moons", "n_samples": 80, "noise": 10, "seed": 3, "optimizer": "momentum",
                "learning_rate": 0.1, "features": ["x1", "x2", "x1*x2"], "dropout": 0.1,
                "layers": [{"units": 5, "activation": "elu"}, {"units": 3, "activation": "sigmoid"}]}
    script = Session(settings).script()
    with TestClient(create_app()).websocket_connect("/ws") as ws:
        ws.receive_json()
        ws.send_json({"type": "config", "config": {"dataset": "xor", **SMALL}})
        receive_until(ws, "update")
        ws.send_json({"type": "import_script", "text": script})
        config = receive_until(ws, "data")["config"]
        assert {key: config[key] for key in settings} == settings
        ws.send_json({"type": "import_script", "text": "import os\nos.system('echo no')\n"})
        assert "no readable settings line" in receive_until(ws, "error")["message"]


def test_the_exported_script_of_a_table_retrains_the_same_network(tmp_path):
    session = Session(table_config(table_csv(n_rows=40, n_features=3), layers=[{"units": 4, "activation": "relu"}]))
    session.train_epochs(4)
    (tmp_path / "playground_model.py").write_text(session.script())
    run = subprocess.run([sys.executable, "playground_model.py"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120, env={**os.environ, "PYTHONPATH": str(Path(ml.__file__).parents[1])})
    assert run.returncode == 0, run.stderr
    assert f"test loss {session.metrics()['test_loss']:.4f}" in run.stdout, run.stdout
    model = ml.load_model(tmp_path / "playground_model.safetensors")
    assert model.preprocessing["feature_names"] == ["f0", "f1", "f2"]


def test_the_cli_opens_a_lesson_page_and_refuses_an_unknown_lesson():
    env = {**os.environ, "PYTHONPATH": str(Path(ml.__file__).parents[1])}
    process = subprocess.Popen([sys.executable, "-m", "mlplab", "playground", "--no-browser", "--lesson",
                                "vanishing-gradient"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
    finally:
        process.terminate()
        process.wait(timeout=10)
    fragment = re.search(r"http://127\.0\.0\.1:\d+/#(\S+)", line).group(1)
    from urllib.parse import unquote

    assert json.loads(unquote(fragment)) == {"lesson": "vanishing-gradient"}
    refused = subprocess.run([sys.executable, "-m", "mlplab", "playground", "--lesson", "mnist"], env=env,
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "expected one of logic-gates-xor" in refused.stderr
