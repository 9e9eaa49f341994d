"""ONNX export: every layer and activation, checked by onnx.checker and compared with onnxruntime."""
import os

os.environ["ORT_DISABLE_TELEMETRY"] = "1"  # before onnxruntime is imported anywhere

import numpy as np
import pytest

import mlplab as ml

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")
from mlplab.files.onnx import IR_VERSION, OPSET, onnx_session  # noqa: E402

ACTIVATIONS = ["linear", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "softmax", "step",
               {"class_name": "LeakyReLU", "config": {"alpha": 0.2}}, {"class_name": "ELU", "config": {"alpha": 0.5}}]


def run(path, x):
    session = onnx_session(path)
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(None, {"input": x.astype(np.float32)})))


def trained_bn(model, x):
    """Give BatchNormalization non-trivial moving statistics and γ, β."""
    for layer in model.layers:
        if isinstance(layer, ml.BatchNormalization):
            rng = np.random.default_rng(4)
            size = layer.params["gamma"].shape
            layer.params["gamma"][...] = rng.uniform(0.5, 2, size)
            layer.params["beta"][...] = rng.normal(size=size)
            layer.state["moving_mean"][...] = rng.normal(size=size)
            layer.state["moving_variance"][...] = rng.uniform(0.1, 3, size)


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=str)
def test_every_activation_matches_onnxruntime(tmp_path, activation):
    model = ml.Sequential([ml.Dense(16, activation, input_dim=5), ml.BatchNormalization(epsilon=0.01),
                           ml.Dropout(0.3), ml.Dense(4), ml.Activation(activation)], seed=1)
    x = np.random.default_rng(0).normal(size=(33, 5)).astype(np.float32)
    trained_bn(model, x)
    model.export_onnx(tmp_path / "m.onnx")
    proto = onnx.load(tmp_path / "m.onnx")
    onnx.checker.check_model(proto, full_check=True)
    assert proto.ir_version == IR_VERSION and proto.opset_import[0].version == OPSET
    assert [d.dim_param for d in proto.graph.input[0].type.tensor_type.shape.dim][0] == "batch"
    ops = {node.op_type for node in proto.graph.node}
    assert "Dropout" not in ops and "Gemm" in ops and "BatchNormalization" in ops
    outputs = run(tmp_path / "m.onnx", x)
    expected = model.predict(x)
    key = "probabilities" if "probabilities" in outputs else "output"
    np.testing.assert_allclose(outputs[key], expected, rtol=1e-5, atol=1e-5)
    assert len(run(tmp_path / "m.onnx", x[:1])[key]) == 1  # the batch dimension is symbolic


def test_classifier_outputs_probabilities_and_int64_labels(tmp_path):
    x = np.random.default_rng(2).normal(size=(50, 3))
    softmax = ml.Sequential([ml.Dense(8, "relu", input_dim=3), ml.Dense(3, "softmax")], seed=0)
    softmax.export_onnx(tmp_path / "softmax.onnx")
    outputs = run(tmp_path / "softmax.onnx", x)
    assert outputs["label"].dtype == np.int64 and outputs["label"].shape == (50,)
    np.testing.assert_array_equal(outputs["label"], softmax.predict(x).argmax(axis=1))
    sigmoid = ml.Sequential([ml.Dense(8, "tanh", input_dim=3), ml.Dense(1, "sigmoid")], seed=0)
    sigmoid.export_onnx(tmp_path / "sigmoid.onnx")
    outputs = run(tmp_path / "sigmoid.onnx", x)
    np.testing.assert_allclose(outputs["probabilities"], sigmoid.predict(x), atol=1e-6)
    np.testing.assert_array_equal(outputs["label"], (sigmoid.predict(x)[:, 0] > 0.5).astype(np.int64))


def test_flatten_float64_and_preprocessing(tmp_path):
    model = ml.Sequential([ml.Flatten(input_shape=(4, 3)), ml.Dense(5, "elu"), ml.Dense(2)], seed=0, dtype="float64")
    x = np.random.default_rng(3).normal(size=(7, 4, 3))
    model.export_onnx(tmp_path / "flat.onnx")
    np.testing.assert_allclose(run(tmp_path / "flat.onnx", x)["output"], model.predict(x), rtol=1e-5, atol=1e-5)
    dense = ml.Sequential([ml.Dense(3, "relu", input_dim=2), ml.Dense(2, "softmax")], seed=0)
    dense.preprocessing = {"feature_names": ["a", "b"], "mean": [10.0, -2.0], "scale": [2.0, 0.5],
                           "class_labels": ["no", "yes"]}
    dense.export_onnx(tmp_path / "prep.onnx")
    raw = np.array([[10.0, -2.0], [12.0, -1.0], [4.0, 0.0]])
    standardized = (raw - [10.0, -2.0]) / [2.0, 0.5]
    np.testing.assert_allclose(run(tmp_path / "prep.onnx", raw)["probabilities"], dense.predict(standardized),
                               atol=1e-6)
    props = {p.key: p.value for p in onnx.load(tmp_path / "prep.onnx").metadata_props}
    assert props["class_labels"] == '["no", "yes"]'


def test_unbuilt_model_is_refused(tmp_path):
    with pytest.raises(ValueError, match="not built"):
        ml.Sequential([ml.Dense(2)]).export_onnx(tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()
