"""ONNX export: a Sequential in inference mode as an ONNX graph (float32, opset 15) for onnxruntime & co.

Dense -> Gemm (+ its activation), BatchNormalization -> BatchNormalization with mlplab's epsilon and
moving statistics, Dropout -> nothing (the identity at inference), Flatten -> Flatten. The batch
dimension is symbolic ("batch"). A classifier (softmax or sigmoid output) has two outputs,
`probabilities` and an int64 `label`; any other model has one, `output`. When the model carries
standardization statistics (`model.preprocessing`, as `mlplab train` saves), the graph starts with
(x - mean) / scale, so it takes the raw feature columns. Needs `pip install mlplab[onnx]`.
"""
from __future__ import annotations

import json
import os

import numpy as np

from mlplab.core.checks import as_float32

OPSET = 15
IR_VERSION = 8  # the IR that goes with opset 15: make_model would stamp the newest, which older runtimes refuse


def export_onnx(model, path, *, include_preprocessing: bool = True) -> None:
    """Write `model` as an ONNX file at `path` (atomically); checked with onnx.checker before writing."""
    onnx = _import_onnx()
    from onnx import TensorProto, helper, numpy_helper

    if not model.built:
        raise ValueError("The model is not built yet: fit it or call model.build(input_shape) before export_onnx.")
    graph = _GraphBuilder(helper, numpy_helper)
    x = "input"
    current = x
    preprocessing = getattr(model, "preprocessing", None) or {}
    inputs = [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["batch", *model.input_shape])]
    per_column = include_preprocessing and takes_columns(preprocessing)
    if include_preprocessing and _encodes(preprocessing):  # fills, indicators, categories
        from mlplab.files.preprocessing import check_spec

        preprocessing = check_spec(preprocessing, model)
        current, inputs = _column_inputs(graph, preprocessing, TensorProto, per_column)
    if include_preprocessing and preprocessing.get("mean") is not None:
        mean = graph.constant("preprocessing_mean", preprocessing["mean"])
        scale = graph.constant("preprocessing_scale", preprocessing["scale"])
        current = graph.node("Div", [graph.node("Sub", [current, mean]), scale])
    shape = model.input_shape
    for layer in model.layers:
        current = _export_layer(graph, layer, current, shape)
        shape = layer.compute_output_shape(shape)
    if include_preprocessing and preprocessing.get("target_mean") is not None:
        scaled = graph.node("Mul", [current, graph.constant("target_scale", preprocessing["target_scale"])])
        current = graph.node("Add", [scaled, graph.constant("target_mean", preprocessing["target_mean"])])
    outputs = _outputs(graph, model, current, TensorProto)
    onnx_graph = helper.make_graph(graph.nodes, model.name, inputs, outputs, initializer=graph.initializers)
    opsets = [helper.make_opsetid("", OPSET)] + ([helper.make_opsetid("ai.onnx.ml", 2)] if per_column else [])
    onnx_model = helper.make_model(onnx_graph, opset_imports=opsets,
                                   producer_name="mlplab", producer_version=_version())
    onnx_model.ir_version = IR_VERSION
    properties = {k: json.dumps(preprocessing[k]) for k in ("feature_names", "class_labels", "target")
                  if preprocessing.get(k) is not None}
    helper.set_model_props(onnx_model, properties)
    onnx.checker.check_model(onnx_model, full_check=True)
    from mlplab.files.atomic import atomic_write

    atomic_write(path, [onnx_model.SerializeToString()])


def takes_columns(spec: dict) -> bool:
    """Whether the graph takes one (batch, 1) input per column (the model one-hot encodes a column);
    otherwise one float32 'input' (batch, n_columns), NaN for a missing cell."""
    return any(b["kind"] == "onehot" for b in spec.get("columns") or [])


def _encodes(spec: dict) -> bool:
    blocks = spec.get("columns")
    return blocks is not None and (any(b["kind"] != "numeric" or b.get("fill") is not None for b in blocks)
                                   or [b["name"] for b in blocks] != spec.get("feature_names"))


def _column_inputs(graph, spec, tensor_proto, per_column):
    """The encoded inputs: from one (batch, 1) input per column (float32, NaN = missing, or string for
    text categories) when `per_column`, else from the columns of one float32 'input'."""
    from mlplab.files.preprocessing import MISSING, category_key

    helper, inputs, parts, seen, source = graph.helper, [], [], {}, {}
    names = spec["feature_names"]
    if not per_column:
        inputs.append(helper.make_tensor_value_info("input", tensor_proto.FLOAT, ["batch", len(names)]))
    for position, name in enumerate(names):
        blocks = [b for b in spec["columns"] if b["name"] == name]
        text = any(b["kind"] == "onehot" and not all(isinstance(c, (int, float)) for c in b["categories"])
                   for b in blocks)
        seen[name] = text
        if per_column:
            kind = tensor_proto.STRING if text else tensor_proto.FLOAT
            inputs.append(helper.make_tensor_value_info(name, kind, ["batch", 1]))
            source[name] = name
        else:
            index = graph.constant(f"input_column{position}", [position], np.int64)
            source[name] = graph.node("Gather", ["input", index], axis=1)
    for index, block in enumerate(spec["columns"]):
        name, where = source[block["name"]], f"column{index}"
        seen[name] = seen[block["name"]]
        if block["kind"] == "indicator":
            missing = (graph.node("IsNaN", [name]) if not seen[name] else
                       _text_missing(graph, name, where, MISSING))
            parts.append(graph.node("Cast", [missing], to=tensor_proto.FLOAT))
        elif block["kind"] == "numeric":
            value = name
            if block.get("fill") is not None:
                value = graph.node("Where", [graph.node("IsNaN", [name]),
                                             graph.constant(f"{where}/fill", [block["fill"]]), name])
            parts.append(value)
        elif not seen[name]:  # numeric categories: compare values
            value = name
            if block.get("fill") is not None:
                value = graph.node("Where", [graph.node("IsNaN", [name]),
                                             graph.constant(f"{where}/fill", [float(block["fill"])]), name])
            hits = graph.node("Equal", [value, graph.constant(f"{where}/categories", block["categories"])])
            parts.append(graph.node("Cast", [hits], to=tensor_proto.FLOAT))
        else:  # text categories: a LabelEncoder to the category's index, then compare indices
            keys = [category_key(c) for c in block["categories"]]
            values = list(range(len(keys)))
            if block.get("fill") is not None:
                fill = keys.index(category_key(block["fill"]))
                spellings = sorted(MISSING | {m.upper() for m in MISSING} | {m.capitalize() for m in MISSING})
                for spelling in spellings:
                    if spelling not in keys:
                        keys.append(spelling)
                        values.append(fill)
            index_tensor = graph.node("LabelEncoder", [name], domain="ai.onnx.ml", keys_strings=keys,
                                      values_int64s=values, default_int64=-1)
            hits = graph.node("Equal", [index_tensor, graph.constant(f"{where}/indices",
                                                                      list(range(len(block["categories"]))),
                                                                      np.int64)])
            parts.append(graph.node("Cast", [hits], to=tensor_proto.FLOAT))
    return graph.node("Concat", parts, axis=1), inputs


def _text_missing(graph, name, where, spellings):
    keys = sorted(spellings | {m.upper() for m in spellings} | {m.capitalize() for m in spellings})
    code = graph.node("LabelEncoder", [name], domain="ai.onnx.ml", keys_strings=keys,
                      values_int64s=[1] * len(keys), default_int64=0)
    return graph.node("Equal", [code, graph.constant(f"{where}/one", [1], np.int64)])


def _import_onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("ONNX export needs the onnx package: pip install 'mlplab[onnx]'.") from None
    return onnx


def _version() -> str:
    from mlplab.version import __version__

    return __version__


class _GraphBuilder:
    """Collects nodes and initializers, naming each intermediate tensor uniquely."""

    def __init__(self, helper, numpy_helper):
        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes, self.initializers, self.count = [], [], 0

    def constant(self, name, value, dtype=np.float32):
        value = as_float32(name, value, "ONNX graphs hold float32 weights: rescale the model") if dtype == np.float32 else value
        self.initializers.append(self.numpy_helper.from_array(np.ascontiguousarray(value, dtype=dtype), name))
        return name

    def node(self, op, inputs, output=None, **attributes):
        self.count += 1
        output = output or f"{op.lower()}_{self.count}"
        self.nodes.append(self.helper.make_node(op, inputs, [output], name=f"{op}_{self.count}", **attributes))
        return output


def _export_layer(graph, layer, current, shape):
    from mlplab.core.layers import Activation, BatchNormalization, Dense, Dropout, Flatten

    from mlplab.core.features import Features

    kind = type(layer)
    if kind is Features:
        return _export_features(graph, layer, current)
    if kind is Dense:
        inputs = [current, graph.constant(f"{layer.name}/weight", layer.params["weight"])]
        if layer.use_bias:
            inputs.append(graph.constant(f"{layer.name}/bias", layer.params["bias"]))
        return _export_activation(graph, layer.activation, graph.node("Gemm", inputs), layer.name)
    if kind is Activation:
        return _export_activation(graph, layer.activation, current, layer.name)
    if kind is Dropout:
        return current  # inverted dropout is the identity at inference
    if kind is Flatten:
        return graph.node("Flatten", [current], axis=1)
    if kind is BatchNormalization:
        names = [graph.constant(f"{layer.name}/{key}", array) for key, array in
                 (("gamma", layer.params["gamma"]), ("beta", layer.params["beta"]),
                  ("moving_mean", layer.state["moving_mean"]), ("moving_variance", layer.state["moving_variance"]))]
        if len(shape) == 1:  # ONNX normalizes axis 1, mlplab the last axis: the same for (n_samples, features)
            return graph.node("BatchNormalization", [current, *names], epsilon=layer.epsilon)
        # Deeper inputs: the same inference form as y = x·a + b, folded in float64, on the last axis.
        a = layer.params["gamma"] / np.sqrt(layer.state["moving_variance"].astype(np.float64) + layer.epsilon)
        b = layer.params["beta"] - layer.state["moving_mean"] * a
        scaled = graph.node("Mul", [current, graph.constant(f"{layer.name}/folded_scale", a)])
        return graph.node("Add", [scaled, graph.constant(f"{layer.name}/folded_shift", b)])
    raise ValueError(f"Cannot export layer {layer.name!r} of type {kind.__name__} to ONNX: supported layers are "
                     "Features, Dense, Activation, Dropout, BatchNormalization and Flatten.")


def _export_features(graph, layer, current):
    """The playground's `Features` layer as graph ops: x1 and x2 gathered from the input, each feature built
    from them (Mul for squares and products, Sin for sines), concatenated in the layer's order."""
    columns = {}
    for index, name in enumerate(("x1", "x2")):
        where = graph.constant(f"{layer.name}/{name}_index", np.array([index]), dtype=np.int64)
        columns[name] = graph.node("Gather", [current, where], axis=1)
    ops = {"x1": lambda: columns["x1"], "x2": lambda: columns["x2"],
           "x1^2": lambda: graph.node("Mul", [columns["x1"], columns["x1"]]),
           "x2^2": lambda: graph.node("Mul", [columns["x2"], columns["x2"]]),
           "x1*x2": lambda: graph.node("Mul", [columns["x1"], columns["x2"]]),
           "sin(x1)": lambda: graph.node("Sin", [columns["x1"]]), "sin(x2)": lambda: graph.node("Sin", [columns["x2"]])}
    unknown = [name for name in layer.features if name not in ops]
    if unknown:
        raise ValueError(f"Cannot export feature {unknown[0]!r} of layer {layer.name!r} to ONNX.")
    parts = [ops[name]() for name in layer.features]
    return parts[0] if len(parts) == 1 else graph.node("Concat", parts, axis=1)


def _export_activation(graph, activation, current, where):
    from mlplab.core.activations import ELU, LeakyReLU, Linear, ReLU, Sigmoid, Softmax, Softplus, Step, Tanh

    kind = type(activation)
    simple = {Sigmoid: "Sigmoid", Tanh: "Tanh", ReLU: "Relu", Softplus: "Softplus"}
    if kind is Linear:
        return current
    if kind in simple:
        return graph.node(simple[kind], [current])
    if kind is LeakyReLU:
        return graph.node("LeakyRelu", [current], alpha=activation.alpha)
    if kind is ELU:
        return graph.node("Elu", [current], alpha=activation.alpha)
    if kind is Softmax:
        return graph.node("Softmax", [current], axis=-1)
    if kind is Step:  # 1 where z > 0 else 0, as a comparison
        zero = graph.constant(f"{where}/step_zero", 0.0)
        return graph.node("Cast", [graph.node("Greater", [current, zero])], to=1)  # 1 = FLOAT
    raise ValueError(f"Cannot export activation {kind.__name__} of layer {where!r} to ONNX.")


def _outputs(graph, model, current, tensor_proto):
    from mlplab.core.activations import Sigmoid, Softmax

    helper = graph.helper
    units = model.output_shape[-1]
    shape = ["batch", *model.output_shape]
    last = getattr(model.layers[-1], "activation", None)
    if not isinstance(last, (Softmax, Sigmoid)):
        graph.node("Identity", [current], "output")
        return [helper.make_tensor_value_info("output", tensor_proto.FLOAT, shape)]
    graph.node("Identity", [current], "probabilities")
    if isinstance(last, Softmax):
        graph.node("ArgMax", ["probabilities"], "label", axis=-1, keepdims=0)
        label_shape = ["batch", *model.output_shape[:-1]]
    else:
        threshold = graph.constant("threshold", 0.5)
        label = graph.node("Cast", [graph.node("Greater", ["probabilities", threshold])], to=tensor_proto.INT64)
        if units == 1:  # one sigmoid unit: one label per sample, like the softmax case
            graph.node("Squeeze", [label, graph.constant("squeeze_axes", [-1], np.int64)], "label")
            label_shape = ["batch", *model.output_shape[:-1]]
        else:  # independent sigmoid units: one 0/1 label per unit
            graph.node("Identity", [label], "label")
            label_shape = shape
    return [helper.make_tensor_value_info("probabilities", tensor_proto.FLOAT, shape),
            helper.make_tensor_value_info("label", tensor_proto.INT64, label_shape)]


def onnx_session(path):
    """An onnxruntime InferenceSession for `path` (telemetry off): what the tests and docs use."""
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"
    import onnxruntime

    return onnxruntime.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
