"""`mlplab evaluate`, `predict`, `inspect` and `export`: what to do with a saved model file."""
from __future__ import annotations

import csv
import json
import sys

from mlplab.cli import stream


def add_evaluate_parser(sub) -> None:
    parser = sub.add_parser("evaluate", help="print a saved model's loss and metrics on a CSV/.npz file",
                            description="Evaluate MODEL on DATA: the loss and metrics it was compiled with. The "
                                        "feature columns are matched by name and standardized as in training.",
                            epilog="example:\n  mlplab evaluate iris.safetensors test.csv\n"
                                   "  mlplab evaluate houses.safetensors test.csv --target price --json")
    parser.add_argument("model", metavar="MODEL", help="a model file from `mlplab train` or model.save")
    parser.add_argument("data", metavar="DATA", help="CSV file with a header row, or .npz with x and y")
    parser.add_argument("--target", metavar="COLUMN", help="the target column (default: the one it was trained on)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of lines")
    parser.set_defaults(run=evaluate)


def add_predict_parser(sub) -> None:
    parser = sub.add_parser("predict", help="write a saved model's predictions for a CSV/.npz file",
                            description="Predict one row per row of DATA. Classifiers write the class label and "
                                        "one probability column per class; regressors the predicted value. "
                                        "Columns are matched by name (extra columns, such as the target, are "
                                        "ignored).",
                            epilog="example:\n  mlplab predict iris.safetensors new.csv --out predictions.csv\n"
                                   "  mlplab predict iris.safetensors new.csv | head")
    parser.add_argument("model", metavar="MODEL", help="a model file from `mlplab train` or model.save")
    parser.add_argument("data", metavar="DATA", help="CSV file with a header row, or .npz with x")
    parser.add_argument("--out", metavar="FILE.csv", help="where to write the predictions (default: standard output)")
    stream.add_arguments(parser)  # Parquet and Dask: streamed in chunks (cli/stream.py)
    parser.set_defaults(run=predict)


def add_inspect_parser(sub) -> None:
    parser = sub.add_parser("inspect", help="print a model file's summary and metadata",
                            description="Print the layers, shapes and parameter counts of MODEL, then its "
                                        "metadata: format, training settings, features, classes, seed.",
                            epilog="examples:\n  mlplab inspect iris.safetensors\n"
                                   "  mlplab inspect iris.safetensors --json")
    parser.add_argument("model", metavar="MODEL", help="a model or weights file")
    parser.add_argument("--json", action="store_true", help="print the metadata as one JSON object")
    parser.set_defaults(run=inspect)


def add_export_parser(sub) -> None:
    parser = sub.add_parser("export", help="convert a model file to ONNX",
                            description="Write MODEL as an ONNX graph (opset 15, float32, symbolic batch size). "
                                        "Classifiers output `probabilities` and an int64 `label`; the graph "
                                        "includes the standardization, so it takes the raw feature columns. "
                                        "Needs: pip install 'mlplab[onnx]'.",
                            epilog="example:\n  mlplab export iris.safetensors --onnx iris.onnx")
    parser.add_argument("model", metavar="MODEL", help="a model file")
    parser.add_argument("--onnx", metavar="OUT", required=True, help="the ONNX file to write")
    parser.set_defaults(run=export)


# -- shared: load a model and line a table up with it --------------------------------------------
def _load(path):
    from mlplab.files.model_files import load_model

    return load_model(path)


def _inputs(model, table):
    """The feature matrix the model takes, from the table's columns matched by name, standardized."""
    import numpy as np

    from mlplab.datasets import tables as tabular

    prep = model.preprocessing or {}
    names = prep.get("feature_names")
    if names is None:  # a model saved from Python without preprocessing: columns by position
        target = prep.get("target") or table.target_hint
        names = [n for n in table.names if n != target]
        expected = model.input_shape[0] if model.built and len(model.input_shape) == 1 else None
        if expected is not None and len(names) != expected:
            raise ValueError(f"{table.path}: the model takes {expected} numeric columns; found {len(names)} "
                             f"({', '.join(names)}).")
    x = tabular.features(table, names)
    if prep.get("mean") is not None:
        x = (x - np.asarray(prep["mean"])) / np.asarray(prep["scale"])
    return x


def _class_labels(model, n_outputs: int) -> list:
    labels = (model.preprocessing or {}).get("class_labels")
    if labels is None:
        labels = [0, 1] if n_outputs == 1 else list(range(n_outputs))
    return labels


def _is_classifier(model) -> bool:
    from mlplab.core.activations import Sigmoid, Softmax

    prep = model.preprocessing or {}
    if prep.get("task"):
        return prep["task"] == "classification"
    return isinstance(getattr(model.layers[-1], "activation", None), (Softmax, Sigmoid))


# -- commands -------------------------------------------------------------------------------------
def evaluate(args) -> int:
    import numpy as np

    from mlplab.datasets import tables as tabular

    model = _load(args.model)
    if not model.compiled:
        raise ValueError(f"{args.model} was saved without compile settings, so it has no loss or metrics to "
                         f"evaluate; compile it in Python and save it again.")
    table = tabular.read_table(args.data)
    prep = model.preprocessing or {}
    target = args.target or prep.get("target") or table.target_hint
    if target is None:
        raise ValueError(f"Missing argument --target: which column of {args.data} holds the true values.")
    values = tabular.target_values(table, target)
    x = _inputs(model, table)
    if _is_classifier(model):
        y = tabular.class_indices(table, target, values, _class_labels(model, model.output_shape[-1]))
        loss = type(model.loss).__name__
        if loss == "CategoricalCrossentropy":
            y = np.eye(model.output_shape[-1])[y]
        elif loss == "BinaryCrossentropy":
            y = y.astype(np.float64)
    else:
        if any(isinstance(v, str) for v in values):
            raise ValueError(f"{args.data}: target column {target!r} must be numeric for this regression model.")
        y = np.asarray(values, dtype=np.float64)
    results = model.evaluate(x, y)
    results = {k: float(v) for k, v in results.items()}
    if args.json:
        print(json.dumps({"rows": len(x), **results}))
    else:
        print(f"{args.data}: {len(x)} rows")
        for key, value in results.items():
            print(f"{key}: {value:.6g}")
    return 0


def predict(args) -> int:
    from mlplab.datasets import tables as tabular

    if stream.handles(args):  # a Parquet file or --dask: chunk by chunk, bounded memory
        return stream.predict(args)
    model = _load(args.model)
    table = tabular.read_table(args.data)
    x = _inputs(model, table)
    output = model.predict(x)
    prep = model.preprocessing or {}
    target = prep.get("target") or "prediction"
    if _is_classifier(model):
        labels = _class_labels(model, output.shape[-1])
        if output.shape[-1] == 1:  # one sigmoid unit: P(class 1)
            probabilities = [[1 - p[0], p[0]] for p in output.tolist()]
        else:
            probabilities = output.tolist()
        header = [target] + [f"probability_{label}" for label in labels]
        rows = ([labels[max(range(len(p)), key=p.__getitem__)]] + [f"{v:.6g}" for v in p] for p in probabilities)
    else:
        header = [target] if output.shape[-1] == 1 else [f"{target}_{i}" for i in range(output.shape[-1])]
        rows = ([f"{v:.8g}" for v in row] for row in output.reshape(len(output), -1).tolist())
    if args.out:
        from io import StringIO

        from mlplab.files import atomic_write

        buffer = StringIO()
        _write_csv(buffer, header, rows)
        atomic_write(args.out, [buffer.getvalue()])
        print(f"Wrote {len(x)} predictions to {args.out}", file=sys.stderr)
    else:
        _write_csv(sys.stdout, header, rows)
    return 0


def _write_csv(stream, header, rows) -> None:
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)


def inspect(args) -> int:
    from mlplab.files.container import read_file

    tensors, metadata = read_file(args.model)
    decoded = {}
    for key, value in metadata.items():
        try:
            decoded[key] = json.loads(value) if key in ("architecture", "compile", "preprocessing", "seed",
                                                        "input_shape", "rng_state") else value
        except ValueError:
            decoded[key] = value
    n_bytes = sum(t.nbytes for t in tensors.values())
    optimizer = {k: v for k, v in tensors.items() if k.startswith("optimizer/")}
    if args.json:
        decoded.pop("rng_state", None)
        print(json.dumps({**decoded, "tensors": {k: [str(v.dtype), list(v.shape)] for k, v in tensors.items()}},
                         indent=2))
        return 0
    if metadata.get("kind") == "model":
        _load(args.model).summary()
    print(f"\nFile: {args.model} ({metadata.get('kind')}, format {metadata.get('format')} "
          f"{metadata.get('format_version')}, written by mlplab {metadata.get('mlplab_version')})")
    print(f"Tensors: {len(tensors)} ({n_bytes} bytes), optimizer state: "
          + (f"yes, {int(optimizer['optimizer/iterations'])} steps" if "optimizer/iterations" in optimizer
             else "yes" if optimizer else "no"))
    compile_config = decoded.get("compile")
    if compile_config:
        print(f"Compiled with: {json.dumps(compile_config)}")
    print(f"Seed: {decoded.get('seed')}")
    prep = decoded.get("preprocessing") or {}
    if prep:
        print(f"Task: {prep.get('task', '?')}, target: {prep.get('target', '?')}")
        if prep.get("feature_names"):
            print(f"Features ({len(prep['feature_names'])}): {', '.join(prep['feature_names'])}")
        print(f"Standardized: {'yes' if prep.get('mean') is not None else 'no'}")
        if prep.get("class_labels") is not None:
            print(f"Classes ({len(prep['class_labels'])}): {', '.join(map(str, prep['class_labels']))}")
    return 0


def export(args) -> int:
    model = _load(args.model)
    from mlplab.files.onnx import export_onnx

    export_onnx(model, args.onnx)
    print(f"Wrote {args.onnx} (ONNX opset 15). Inputs: 'input' (batch, {', '.join(map(str, model.input_shape))}).")
    return 0
