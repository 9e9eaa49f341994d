"""The playground's server: settings validation, data, the WebSocket stream, sessions and exports.

Runs without a browser (Starlette's TestClient); tests/test_playground_browser.py drives the page itself.
"""
import re
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import mlplab as ml
from mlplab.playground import data as playground_data
from mlplab.playground.session import Session, validate

pytest.importorskip("starlette")
pytest.importorskip("httpx")
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")  # Starlette 1.x prefers httpx2
from starlette.testclient import TestClient  # noqa: E402

from mlplab.playground.server import STATIC, create_app  # noqa: E402

SMALL = {"n_samples": 60, "layers": [{"units": 3, "activation": "tanh"}]}


# -- settings and data ------------------------------------------------------------------------------
@pytest.mark.parametrize("settings, message", [
    ({"dataset": "mnist"}, "dataset: expected one of circle"),
    ({"layers": [{"units": 33, "activation": "relu"}]}, "units: expected an integer from 1 to 32"),
    ({"layers": [{"units": 2, "activation": "relu"}] * 9}, "at most 8 hidden layers"),
    ({"layers": [{"units": 2, "activation": "__import__('os')"}]}, "activation: expected one of relu"),
    ({"learning_rate": "0.1"}, "learning_rate: expected a number"),
    ({"learning_rate": 100}, "learning_rate: expected a number from"),
    ({"n_samples": 10**6}, "n_samples: expected an integer from 20 to 2000"),
    ({"features": []}, "features: expected a non-empty list"),
    ({"features": ["x1", "x3"]}, "features: expected a non-empty list"),
    ({"batch_norm": "yes"}, "batch_norm: expected true or false"),
    ({"loss": "sparse_categorical_crossentropy"}, "loss: for a binary task"),
    ({"dataset": "custom", "points": [[0, 0, 1]]}, "add at least 4 points"),
    ({"dataset": "custom", "points": [[0, 0, 1]] * 5}, "every point has the same label"),
    ({"dataset": "custom", "points": [[0, "x", 1]] * 5}, "points: expected rows of 3 finite numbers (x1, x2, label)"),
    ({"eval": "1"}, "unknown names ['eval']"),
])
def test_bad_settings_get_a_message_naming_the_setting(settings, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        validate(settings)


def test_batch_norm_refuses_a_batch_of_one_up_front():
    with pytest.raises(ValueError, match="batch normalization needs at least 2 points in every batch"):
        Session({"dataset": "xor", "batch_norm": True, "batch_size": 1, **SMALL})
    Session({"dataset": "xor", "batch_norm": True, "batch_size": 4, **SMALL}).train_epochs(1)  # 30 = 7·4 + 2


def test_a_refused_setting_leaves_the_session_as_it_was():
    session = Session({"dataset": "xor", **SMALL})
    session.train_epochs(2)
    weights = session.model.get_weights()
    with pytest.raises(ValueError):
        session.configure({"dataset": "xor", "layers": [{"units": 99, "activation": "relu"}]})
    assert session.epoch == 2 and session.config["dataset"] == "xor"
    for before, after in zip(weights, session.model.get_weights()):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("name", [name for name in playground_data.DATASETS if name != "custom"])
def test_every_dataset_lies_on_the_square_and_trains(name):
    x, y = playground_data.make_dataset(name, 200, noise=0.1, seed=3)
    again_x, again_y = playground_data.make_dataset(name, 200, noise=0.1, seed=3)
    np.testing.assert_array_equal(x, again_x)  # the seed regenerates the same points (the exported script relies on it)
    np.testing.assert_array_equal(y, again_y)
    assert x.shape == (200, 2) and np.abs(x).max() < 2 * playground_data.EXTENT
    task = playground_data.DATASETS[name][1]
    if task == "regression":
        np.testing.assert_allclose(x[:, 1], 0)
    else:
        assert len(np.unique(y)) == (2 if task == "binary" else len(np.unique(y))) >= 2
    session = Session({"dataset": name, **SMALL})
    session.train_epochs(1)
    snapshot = session.snapshot()
    assert snapshot["epoch"] == 1 and np.isfinite(snapshot["train_loss"])


def test_xor_labels_are_the_sign_of_x1_x2():
    x, y = playground_data.make_dataset("xor", 300, noise=0.0, seed=0)
    np.testing.assert_array_equal(y, (x[:, 0] * x[:, 1] > 0).astype(int))


def test_csv_upload_is_parsed_checked_and_capped():
    x, y = playground_data.parse_csv("x1,x2,label\n1,2,0\n3,4,1\n-1,0.5,1\n2,2,0\n")
    np.testing.assert_array_equal(x, [[1, 2], [3, 4], [-1, 0.5], [2, 2]])
    np.testing.assert_array_equal(y, [0, 1, 1, 0])
    with pytest.raises(ValueError, match="line 3: expected 3 numbers"):
        playground_data.parse_csv("1,2,0\n3,4,1\nos.system('x'),1,1\n")
    with pytest.raises(ValueError, match="expected 3 columns"):
        playground_data.parse_csv("1,2\n")
    with pytest.raises(ValueError, match="too large"):
        playground_data.parse_csv("1,2,0\n" * 50_000)
    with pytest.raises(ValueError, match="finite"):
        playground_data.parse_csv("1,2,0\n1,nan,1\n")


def test_the_model_takes_the_raw_point_and_computes_the_features_itself():
    session = Session({"dataset": "circle", "features": ["x1^2", "x2^2"], **SMALL})
    first = session.model.layers[0]
    assert isinstance(first, ml.Features) and first.features == ["x1^2", "x2^2"]
    assert session.model.input_shape == (2,)


# -- the stream -------------------------------------------------------------------------------------
@pytest.fixture()
def client():
    with TestClient(create_app()) as test_client:
        yield test_client


def receive_until(ws, kind, limit=50):
    for _ in range(limit):
        message = ws.receive_json()
        if message["type"] == kind:
            return message
        assert message["type"] != "error", message["message"]
    raise AssertionError(f"no {kind!r} message")


def open_session(ws, config):
    hello = ws.receive_json()
    assert hello["type"] == "hello" and hello["limits"]["max_units"] == 32
    ws.send_json({"type": "config", "config": config})
    data = receive_until(ws, "data")
    update = receive_until(ws, "update")
    assert receive_until(ws, "status")["playing"] is False
    return hello["session"], data, update


def test_page_and_assets_are_served_from_the_package_without_any_cdn(client):
    page = client.get("/")
    assert page.status_code == 200
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text):
        assert client.get(asset).status_code == 200
    for path in STATIC.iterdir():
        assert not re.search(r"(?:src|href)=\"https?://|url\(https?://|import .* from ['\"]https?://", path.read_text())


def test_stream_play_pause_step_reset(client):
    with client.websocket_connect("/ws") as ws:
        _, data, update = open_session(ws, {"dataset": "xor", **SMALL})
        assert data["task"] == "binary" and len(data["train"]) + len(data["test"]) == 60
        assert update["epoch"] == 0 and len(update["output"]) == data["grid"] ** 2
        assert [len(column) for column in update["neurons"]] == [2, 3]  # features, hidden layer
        assert [np.shape(w) for w in update["weights"]] == [(2, 3), (3, 1)]
        ws.send_json({"type": "play"})
        epochs = [receive_until(ws, "update")["epoch"] for _ in range(3)]
        assert epochs == sorted(epochs) and epochs[0] >= 1
        ws.send_json({"type": "pause"})
        while (message := ws.receive_json())["type"] != "status":  # updates until the pause lands, then status
            paused = message["epoch"]
        assert message["playing"] is False
        ws.send_json({"type": "step"})
        assert receive_until(ws, "update")["epoch"] == paused + 1
        ws.send_json({"type": "reset"})
        assert receive_until(ws, "update")["epoch"] == 0
        ws.send_json({"type": "explain"})
        text = receive_until(ws, "explain")["text"]
        assert "dense" in text and len(text) > 200
        ws.send_json({"type": "config", "config": {"layers": [{"units": 40, "activation": "relu"}]}})
        assert "units" in receive_until(ws, "error")["message"]
        ws.send_text("not json")
        assert "JSON" in receive_until(ws, "error")["message"]


def test_csv_upload_over_the_socket_makes_custom_points(client):
    with client.websocket_connect("/ws") as ws:
        open_session(ws, {"dataset": "xor", **SMALL})
        rows = "\n".join(f"{a},{b},{int(a * b > 0)}" for a, b in np.random.default_rng(0).uniform(-5, 5, (40, 2)))
        ws.send_json({"type": "upload", "csv": "x1,x2,label\n" + rows})
        data = receive_until(ws, "data")
        assert data["config"]["dataset"] == "custom" and len(data["train"]) + len(data["test"]) == 40


def test_two_tabs_are_independent_sessions(client):
    with client.websocket_connect("/ws") as first, client.websocket_connect("/ws") as second:
        id_1, data_1, _ = open_session(first, {"dataset": "xor", **SMALL})
        id_2, data_2, _ = open_session(second, {"dataset": "blobs", **SMALL})
        assert id_1 != id_2 and data_1["task"] == "binary" and data_2["task"] == "multiclass"
        first.send_json({"type": "play"})
        for _ in range(3):
            receive_until(first, "update")
        second.send_json({"type": "step"})
        assert receive_until(second, "update")["epoch"] == 1  # the other tab's training did not touch it
        first.send_json({"type": "pause"})
        receive_until(first, "status")
        assert client.get(f"/api/session/{id_2}/data").text.count("\n") == 61


def test_closing_the_tab_stops_its_training(client):
    app = client.app
    with client.websocket_connect("/ws") as ws:
        open_session(ws, {"dataset": "xor", **SMALL})
        connection = next(iter(app.state.sessions.values()))
        ws.send_json({"type": "play"})
        receive_until(ws, "update")
    deadline = time.time() + 10
    while app.state.sessions and time.time() < deadline:
        time.sleep(0.05)
    assert not app.state.sessions and not connection.playing
    epoch = -1
    while epoch != connection.session.epoch and time.time() < deadline:  # an epoch already under way may finish
        epoch = connection.session.epoch
        time.sleep(0.3)
    time.sleep(0.5)
    assert connection.session.epoch == epoch  # and then nothing trains any more


def test_another_site_cannot_open_a_session(client):
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect):
        with client.websocket_connect("/ws", headers={"origin": "http://evil.example"}) as ws:
            ws.receive_json()


def test_exports_are_downloads_and_reproduce_the_page(client, tmp_path):
    config = {"dataset": "moons", "features": ["x1", "x2", "sin(x1)"], "optimizer": "momentum",
              "learning_rate": 0.01, "schedule": "cosine", "regularization": "l2", "regularization_rate": 0.001,
              **SMALL}
    with client.websocket_connect("/ws") as ws:
        session_id, data, _ = open_session(ws, config)
        for _ in range(3):
            ws.send_json({"type": "step"})
            update = receive_until(ws, "update")
        assert update["epoch"] == 3
        connection = client.app.state.sessions[session_id]
        model = connection.session.model

        response = client.get(f"/api/session/{session_id}/model")
        assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
        path = tmp_path / re.search(r'filename="([^"]+)"', response.headers["content-disposition"]).group(1)
        path.write_bytes(response.content)
        points = np.random.default_rng(0).uniform(-6, 6, (50, 2))
        np.testing.assert_allclose(ml.load_model(path).predict(points), model.predict(points), rtol=1e-6)

        script = client.get(f"/api/session/{session_id}/code")
        assert script.headers["content-disposition"] == 'attachment; filename="playground_model.py"'
        (tmp_path / "playground_model.py").write_text(script.text)
        run = subprocess.run([sys.executable, "playground_model.py"], cwd=tmp_path, capture_output=True, text=True,
                             timeout=120, env=_env())
        test_loss = connection.session.metrics()["test_loss"]
        assert run.returncode == 0, run.stderr
        assert f"test loss {test_loss:.4f}" in run.stdout, run.stdout  # the same data and network, retrained
        retrained = ml.load_model(tmp_path / "playground_model.safetensors")
        np.testing.assert_allclose(retrained.predict(points), model.predict(points), rtol=1e-6)

        csv = client.get(f"/api/session/{session_id}/data").text.splitlines()
        assert csv[0] == "x1,x2,label,split" and len(csv) == 61
        assert sum(line.endswith(",test") for line in csv) == len(data["test"])
    assert client.get(f"/api/session/{session_id}/model").status_code == 404  # the tab closed: the session is gone


def _env():
    import os
    src = str(Path(ml.__file__).resolve().parents[1])
    return dict(os.environ, PYTHONPATH=src + os.pathsep + os.environ.get("PYTHONPATH", ""))


def test_cli_serves_on_a_free_loopback_port_and_prints_the_url():
    import httpx

    process = subprocess.Popen([sys.executable, "-m", "mlplab", "playground", "--no-browser"], env=_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", line).group(0)
        page = None
        for _ in range(100):
            try:
                page = httpx.get(url, timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert page is not None and 'aria-label="Output heatmap"' in page.text
        # a site re-pointed at 127.0.0.1 (DNS rebinding) sends its own Host name: refused
        assert httpx.get(url, headers={"host": "evil.example"}, timeout=5).status_code == 400
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_cli_rejects_a_bad_port():
    from mlplab.cli.main import main

    with pytest.raises(SystemExit) as exit_info:
        main(["playground", "--port", "70000"])
    assert exit_info.value.code == 2


def test_sessions_share_nothing():
    first, second = Session({"dataset": "xor", **SMALL}), Session({"dataset": "xor", **SMALL})
    first.train_epochs(2)
    fresh = Session({"dataset": "xor", **SMALL})
    assert second.epoch == 0
    for untouched, new in zip(second.model.get_weights(), fresh.model.get_weights()):
        np.testing.assert_array_equal(untouched, new)
