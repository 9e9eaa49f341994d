"""`mlplab evaluate`, `predict`, `inspect` and `export`: what to do with a saved model file."""
from __future__ import annotations

import csv
import json
import sys

from mlplab.cli import stream
from mlplab.cli.common import class_labels, is_classifier


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
    _add_row_arguments(parser)
    parser.set_defaults(run=evaluate)


def add_predict_parser(sub) -> None:
    parser = sub.add_parser("predict", help="write a saved model's predictions for a CSV/.npz file",
                            description="Predict one row per row of DATA. Classifiers write the class label and "
                                        "one probability column per class; regressors the predicted value in the "
                                        "target's units. Columns are matched by name (extra columns, such as the "
                                        "target, are ignored; a missing one is named) and the saved "
                                        "preprocessing (categories, fills, standardization) is replayed.",
                            epilog="example:\n  mlplab predict iris.safetensors new.csv --out predictions.csv\n"
                                   "  mlplab predict iris.safetensors new.csv | head")
    parser.add_argument("model", metavar="MODEL", help="a model file from `mlplab train` or model.save")
    parser.add_argument("data", metavar="DATA", help="CSV file with a header row, or .npz with x")
    parser.add_argument("--out", metavar="FILE.csv", help="where to write the predictions (default: standard output)")
    _add_row_arguments(parser)
    stream.add_arguments(parser)  # Parquet and Dask: streamed in chunks (cli/stream.py)
    parser.set_defaults(run=predict)


def _add_row_arguments(parser) -> None:
    parser.add_argument("--on-error", choices=["fail", "skip"], default="fail",
                        help="rows that cannot be scored (a missing cell without a fill rule, text in a numeric "
                             "column, an unknown category under --unknown error): fail names their lines and "
                             "writes nothing; skip leaves them out (predict then adds a line column)")
    parser.add_argument("--index-col", default=None, metavar="COLUMN", help="a row-index column to leave out")


def add_inspect_data_parser(sub) -> None:
    from mlplab.cli.common import add_table_arguments

    parser = sub.add_parser("inspect-data", help="print how `mlplab train` reads a table's columns",
                            description="Print each column's inferred type (numeric, categorical, target), its "
                                        "missing cells and distinct values, as `mlplab train` would read them.",
                            epilog="example:\n  mlplab inspect-data penguins.csv --target species")
    parser.add_argument("data", metavar="DATA", help="a CSV/TSV, Parquet, Feather or .npz file")
    parser.add_argument("--target", metavar="COLUMN", help="the column train would predict")
    add_table_arguments(parser)
    parser.set_defaults(run=inspect_data)


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
                                        "includes the saved preprocessing (one-hot encoding, fills, "
                                        "standardization, target scaling), so it takes the raw columns. "
                                        "Needs: pip install 'mlplab[onnx]'.",
                            epilog="example:\n  mlplab export iris.safetensors --onnx iris.onnx")
    parser.add_argument("model", metavar="MODEL", help="a model file")
    parser.add_argument("--onnx", metavar="OUT", required=True, help="the ONNX file to write")
    parser.set_defaults(run=export)


# -- shared: load a model and line a table up with it --------------------------------------------
def _load(path):
    from mlplab.files.model_files import load_model

    return load_model(path)


def _read(args):
    from mlplab.datasets import tables as tabular

    return tabular.read_table(args.data, index_col=getattr(args, "index_col", None))


def _inputs(model, table, target=None, on_error="fail"):
    """(inputs, rows kept): the model's inputs for the table's rows, its saved preprocessing replayed.
    Rows that cannot be scored are reported by line; on_error='skip' leaves them out, 'fail' stops."""
    import numpy as np

    from mlplab.files.preprocessing import prepare_inputs

    spec = model.preprocessing or {}
    if target is not None and spec.get("feature_names") is None:
        model = _Shim(model, {**spec, "target": target})
    try:
        x, errors = prepare_inputs(model, table)
    except ValueError as err:
        from mlplab.datasets.tables import suggest

        text = str(err)
        missing = text.split("'")[1] if text.startswith("no column '") else None
        hint = suggest(missing, table.names) if missing else ""
        raise ValueError(f"{table.path}: {text}.{hint} Found: {', '.join(table.names)}.") from None
    rows = np.arange(len(x))
    if errors:
        listed = "; ".join(f"{_where(table, r)}: {errors[r]}" for r in sorted(errors)[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        if on_error == "fail":
            raise ValueError(f"{table.path}: {len(errors)} row(s) cannot be scored: {listed}{more}. Pass "
                             f"--on-error skip to score the others.")
        print(f"mlplab: skipped {len(errors)} row(s) of {table.path}: {listed}{more}", file=sys.stderr)
        rows = np.setdiff1d(rows, np.fromiter(errors, dtype=np.int64))
    _warn_far(table, spec, x[rows])
    return x[rows], rows


class _Shim:
    """The model seen with another preprocessing (evaluate --target on a model that names no columns)."""

    def __init__(self, model, preprocessing):
        self.model, self.preprocessing = model, preprocessing
        self.built, self.input_shape = model.built, model.input_shape


def _where(table, row) -> str:
    return f"line {table.line(row)}" if table.lines is not None else f"row {row + 1}"


def _warn_far(table, spec, x) -> None:
    """Warn when standardized numeric inputs sit far from the training data (a unit or column mix-up)."""
    import numpy as np

    from mlplab.files.preprocessing import input_names

    if spec.get("mean") is None or not len(x):
        return
    far = np.abs(x.mean(axis=0)) > 4
    if far.any():
        names = [n for n, f in zip(input_names(spec), far) if f]
        print(f"mlplab: warning: in {table.path}, {', '.join(names[:5])} average more than 4 training standard "
              f"deviations from the training mean; check the units and the column order.", file=sys.stderr)


# -- commands -------------------------------------------------------------------------------------
def evaluate(args) -> int:
    import numpy as np

    from mlplab.cli.common import regression_scores
    from mlplab.datasets import tables as tabular
    from mlplab.files.preprocessing import untransform_target

    model = _load(args.model)
    table = _read(args)
    prep = model.preprocessing or {}
    target = tabular.check_target(table, args.target or prep.get("target") or table.target_hint)
    x, rows = _inputs(model, table, target=target, on_error=args.on_error)
    table = table.select(rows)
    values = tabular.target_values(table, target)
    if is_classifier(model):
        if not model.compiled:
            raise ValueError(f"{args.model} was saved without compile settings, so it has no loss or metrics to "
                             f"evaluate; compile it in Python and save it again.")
        y = tabular.class_indices(table, target, values, class_labels(model, model.output_shape[-1]))
        loss = type(model.loss).__name__
        if loss == "CategoricalCrossentropy":
            y = np.eye(model.output_shape[-1])[y]
        elif loss == "BinaryCrossentropy":
            y = y.astype(np.float64)[:, None]
        results = {k: float(v) for k, v in model.evaluate(x, y).items()}
    else:
        if any(isinstance(v, str) for v in values):
            raise ValueError(f"{args.data}: target column {target!r} must be numeric for this regression model.")
        y = np.asarray(values, dtype=np.float64)
        outputs = untransform_target(prep, model.predict(x).astype(np.float64))
        if outputs.shape[-1] != 1:
            raise ValueError(f"{args.model} predicts {outputs.shape[-1]} values per row; evaluate takes one target.")
        results = regression_scores(y, outputs[:, 0])  # in the target's own units
    if args.json:
        print(json.dumps({"rows": x.shape[0], **results}))
    else:
        print(f"{args.data}: {x.shape[0]} rows")
        for key, value in results.items():
            print(f"{key}: {value:.6g}")
    return 0


def predict(args) -> int:
    from mlplab.files.preprocessing import untransform_target

    if stream.handles(args):  # a Parquet file or --dask: chunk by chunk, bounded memory
        return stream.predict(args)
    model = _load(args.model)
    table = _read(args)
    x, rows = _inputs(model, table, on_error=args.on_error)
    output = model.predict(x)
    prep = model.preprocessing or {}
    target = prep.get("target") or "prediction"
    if is_classifier(model):
        labels = class_labels(model, output.shape[-1])
        if output.shape[-1] == 1:  # one sigmoid unit: P(class 1)
            probabilities = [[1 - p[0], p[0]] for p in output.tolist()]
        else:
            probabilities = output.tolist()
        header = [target] + [f"probability_{label}" for label in labels]
        rows_out = ([labels[max(range(len(p)), key=p.__getitem__)]] + [f"{v:.6g}" for v in p] for p in probabilities)
    else:
        output = untransform_target(prep, output.astype("float64"))
        header = [target] if output.shape[-1] == 1 else [f"{target}_{i}" for i in range(output.shape[-1])]
        rows_out = ([f"{v:.8g}" for v in row] for row in output.reshape(len(output), -1).tolist())
    if args.on_error == "skip" and len(rows) < len(table):
        lines = [table.line(int(r)) if table.lines is not None else int(r) + 1 for r in rows]
        header = ["line" if table.lines is not None else "row"] + header
        rows_out = ([line] + row for line, row in zip(lines, rows_out))
    if args.out:
        from io import StringIO

        from mlplab.files import atomic_write

        buffer = StringIO()
        _write_csv(buffer, header, rows_out)
        atomic_write(args.out, [buffer.getvalue()])
        print(f"Wrote {x.shape[0]} predictions to {args.out}", file=sys.stderr)
    else:
        _write_csv(sys.stdout, header, rows_out)
    return 0


def _write_csv(stream, header, rows) -> None:
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)


def inspect_data(args) -> int:
    """`mlplab inspect-data FILE`: how train would read each column."""
    from mlplab.datasets import tables as tabular

    table = tabular.read_table(args.data, index_col=args.index_col, drop=args.drop)
    target = tabular.check_target(table, args.target) if args.target else None
    types = tabular.infer_types(table, target, categorical=args.categorical)
    for line in tabular.describe(table, target, types):
        print(line)
    return 0


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
        if prep.get("columns"):
            from mlplab.files.preprocessing import width

            encoded = [f"{b['name']} one-hot ({len(b['categories'])}{', unknown: ' + b.get('unknown', 'ignore')})"
                       for b in prep["columns"] if b["kind"] == "onehot"]
            filled = [b["name"] for b in prep["columns"] if b.get("fill") is not None]
            print(f"Inputs after encoding: {width(prep)}" + (f"; {', '.join(encoded)}" if encoded else ""))
            print(f"Missing cells filled in: {', '.join(filled) if filled else 'none (such rows are not scored)'}")
        if prep.get("target_mean") is not None:
            print(f"Target standardized in training: mean {prep['target_mean']:.6g}, scale {prep['target_scale']:.6g} "
                  f"(predictions are in the target's units)")
        if prep.get("class_labels") is not None:
            print(f"Classes ({len(prep['class_labels'])}): {', '.join(map(str, prep['class_labels']))}")
    return 0


def export(args) -> int:
    model = _load(args.model)
    from mlplab.files.onnx import export_onnx, takes_columns

    export_onnx(model, args.onnx)
    spec = model.preprocessing or {}
    if takes_columns(spec):
        inputs = f"one (batch, 1) tensor per column: {', '.join(spec['feature_names'])} (float32, NaN = missing; " \
                 f"string for text columns)"
    else:
        inputs = f"'input' (batch, {', '.join(map(str, model.input_shape))})"
    print(f"Wrote {args.onnx} (ONNX opset 15). Inputs: {inputs}.")
    return 0
