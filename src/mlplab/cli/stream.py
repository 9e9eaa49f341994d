"""`mlplab predict` on a table larger than memory: a Parquet file read and scored chunk by chunk, on this
machine or on Dask (`--dask local|tcp://HOST:PORT`), the output written as it goes and renamed into place
at the end (atomic). Peak memory is about one chunk of the input, its outputs and the model.

`chunk_inputs` is the one place a chunk becomes the model's input: the saved preprocessing replayed as
`mlplab predict` does for a whole CSV (`mlplab.files.preprocessing.prepare_inputs`: columns by name,
categories encoded, missing cells filled, standardized); `chunk_outputs` the one place outputs become the
written columns (a regression target in its own units).
"""
from __future__ import annotations

import os
import sys

from mlplab.cli.common import class_labels, is_classifier

CHUNK_BYTES = 16 * 2**20  # input bytes (as float64) per chunk by default: the rows scale with the columns
PARQUET = (".parquet", ".pq")


def add_arguments(parser) -> None:
    """The streaming options of `mlplab predict`."""
    parser.add_argument("--dask", metavar="local|tcp://HOST:PORT", help="score the partitions on Dask: a "
                        "LocalCluster on this machine, or a running scheduler (needs pip install 'mlplab[dask]')")
    parser.add_argument("--chunk-rows", type=int, metavar="N", help="rows per chunk when streaming a Parquet "
                        "file (default: 16 MB of input, e.g. 52,428 rows of 40 columns)")


def handles(args) -> bool:
    """True when `mlplab predict` should stream: a Parquet input, or --dask."""
    return bool(getattr(args, "dask", None)) or str(args.data).lower().endswith(PARQUET)


def predict(args) -> int:
    from mlplab.files.model_files import load_model

    if args.chunk_rows is not None and args.chunk_rows < 1:
        raise ValueError(f"Invalid value for --chunk-rows: expected a positive number of rows. Received: "
                         f"{args.chunk_rows}.")
    if not os.path.exists(args.data):
        raise ValueError(f"No data file {args.data!r}: expected a Parquet file (.parquet).")
    model = load_model(args.model)
    frames = _dask_frames(model, args) if args.dask else _local_frames(model, args)
    rows = _write(frames, args.out)
    if args.out:
        print(f"Wrote {rows} predictions to {args.out}", file=sys.stderr)
    return 0


# -- one chunk ----------------------------------------------------------------------------------------
def feature_names(model, columns) -> list[str]:
    """The input columns the model takes, by name (or every column but the target, in order)."""
    prep = model.preprocessing or {}
    names = prep.get("feature_names")
    if names is None:
        target = prep.get("target")
        names = [name for name in columns if name != target]
        expected = model.input_shape[0] if model.built and len(model.input_shape) == 1 else None
        if expected is not None and len(names) != expected:
            raise ValueError(f"the model takes {expected} numeric columns; found {len(names)} ({', '.join(names)}).")
    missing = [name for name in names if name not in columns]
    if missing:
        raise ValueError(f"no column {missing[0]!r}; the model needs the columns {', '.join(names)}. "
                         f"Found: {', '.join(map(str, columns))}.")
    return list(names)


def chunk_inputs(model, chunk, names):
    """The model's input for one chunk (a pyarrow RecordBatch or a pandas DataFrame): the saved
    preprocessing replayed on its named columns, in the model's dtype, rows contiguous. A plain numeric
    model (feature names, mean/scale only) takes the fast column path; a row that cannot be scored (a
    missing cell under the drop rule, an unknown category under "error") is an error naming its row."""
    import numpy as np

    prep = model.preprocessing or {}
    arrow = hasattr(chunk, "schema")
    cells = {name: chunk.column(name).to_numpy(zero_copy_only=False) if arrow else chunk[name].to_numpy()
             for name in names}
    if prep.get("columns") is None and all(column.dtype.kind in "biuf" for column in cells.values()):
        columns = np.empty((len(names), len(chunk)), np.float64)  # one contiguous row per feature
        for j, name in enumerate(names):
            columns[j] = cells[name]
        mean, scale = prep.get("mean"), prep.get("scale")
        if mean is not None:
            columns -= np.asarray(mean, np.float64)[:, None]
            columns /= np.asarray(scale, np.float64)[:, None]
        return columns.T.astype(model.dtype, order="C")
    from mlplab.files.preprocessing import prepare_inputs

    x, errors = prepare_inputs(model, {name: column.tolist() if column.dtype.kind == "O" else column
                                       for name, column in cells.items()})
    if errors:
        row, why = next(iter(sorted(errors.items())))
        raise ValueError(f"{len(errors)} row(s) of the chunk cannot be scored; the first, row {row} of the chunk: "
                         f"{why}. Fill or drop them, or predict the file as CSV with --on-error skip.")
    return np.ascontiguousarray(x, dtype=model.dtype)


def chunk_outputs(model, outputs) -> dict:
    """The written columns {name: array} for one chunk's outputs, as `mlplab predict` writes them: a
    classifier's label and one probability per class, or a regressor's value(s)."""
    import numpy as np

    prep = model.preprocessing or {}
    target = prep.get("target") or "prediction"
    outputs = outputs.reshape(len(outputs), -1)
    if is_classifier(model):
        labels = class_labels(model, outputs.shape[1])
        if outputs.shape[1] == 1:
            outputs = np.hstack([1 - outputs, outputs])
        columns = {target: np.asarray(labels)[outputs.argmax(axis=1)]}
        columns.update({f"probability_{label}": outputs[:, i] for i, label in enumerate(labels)})
        return columns
    from mlplab.files.preprocessing import untransform_target

    outputs = untransform_target(prep, outputs.astype(np.float64))  # in the target's own units
    names = [target] if outputs.shape[1] == 1 else [f"{target}_{i}" for i in range(outputs.shape[1])]
    return {name: outputs[:, i] for i, name in enumerate(names)}


def score(frame, model, names):
    """One chunk in, its output columns out (what each Dask partition runs)."""
    return chunk_outputs(model, model.predict(chunk_inputs(model, frame, names)))


# -- sources ------------------------------------------------------------------------------------------
def _local_frames(model, args):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError("Reading Parquet needs pyarrow: pip install 'mlplab[parquet]'.") from None

    file = pq.ParquetFile(args.data, pre_buffer=False)  # pre-buffering would read whole row groups ahead
    names = feature_names(model, file.schema_arrow.names)
    batches = file.iter_batches(batch_size=chunk_rows(args, len(names)), columns=names, use_threads=False)
    for batch in _read_ahead(batches):
        yield score(batch, model, names)


def _read_ahead(batches):
    """The next chunk is read and decoded in a thread (Arrow releases the GIL) while this one is scored:
    two chunks in memory at most."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="mlplab-read") as reader:
        pending = reader.submit(next, batches, None)
        while (batch := pending.result()) is not None:
            pending = reader.submit(next, batches, None)
            yield batch


def chunk_rows(args, n_columns: int) -> int:
    """--chunk-rows, or as many rows as make CHUNK_BYTES of float64 input (at least 1,024)."""
    return args.chunk_rows or max(1024, CHUNK_BYTES // (8 * max(1, n_columns)))


def _dask_frames(model, args):
    """The partitions scored on Dask, gathered in order with a bounded number in flight."""
    try:
        import dask
        import dask.dataframe as dd
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ImportError("--dask needs dask.distributed: pip install 'mlplab[dask]'.") from None
    import pyarrow.parquet as pq

    names = feature_names(model, pq.ParquetFile(args.data).schema_arrow.names)
    if args.dask == "local":
        cluster = LocalCluster(threads_per_worker=1, processes=False, dashboard_address=None)
    elif args.dask.startswith("tcp://"):
        cluster = None
    else:
        raise ValueError(f"Invalid value for --dask: expected 'local' or a scheduler address such as "
                         f"'tcp://127.0.0.1:8786'. Received: {args.dask!r}.")
    try:
        with Client(cluster if cluster is not None else args.dask) as client:
            frame = dd.read_parquet(args.data, columns=names, split_row_groups=True)
            if args.chunk_rows:
                frame = frame.repartition(partition_size=f"{8 * len(names) * args.chunk_rows}B")
            shipped = client.scatter(model, broadcast=True)  # the model goes to every worker once
            parts = frame.to_delayed()
            window = 2 * max(1, len(client.scheduler_info().get("workers", {})))
            futures = [client.compute(dask.delayed(score)(part, shipped, names)) for part in parts[:window]]
            for i in range(len(parts)):
                if i + window < len(parts):
                    futures.append(client.compute(dask.delayed(score)(parts[i + window], shipped, names)))
                yield futures[i].result()
                futures[i] = None
    finally:
        if cluster is not None:
            cluster.close()


# -- the output ---------------------------------------------------------------------------------------
def _write(frames, out) -> int:
    """Write the chunks as they come: Parquet for an --out ending in .parquet, else CSV (standard output
    when no --out). A file is written to a temporary name and renamed at the end (atomic)."""
    from mlplab.files import atomic_write

    counter = [0]
    if out and out.lower().endswith(PARQUET):
        atomic_write(out, _parquet_bytes(frames, counter))
    elif out:
        atomic_write(out, _csv_text(frames, counter))
    else:
        for text in _csv_text(frames, counter):
            sys.stdout.write(text)
    return counter[0]


def _parquet_bytes(frames, counter):
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink, writer = _Sink(), None
    for columns in frames:
        table = pa.table(columns)
        if writer is None:
            writer = pq.ParquetWriter(pa.PythonFile(sink, mode="w"), table.schema)
        writer.write_table(table)
        counter[0] += len(table)
        yield from sink.drain()
    if writer is None:
        raise ValueError("the input file has no rows to predict.")
    writer.close()
    yield from sink.drain()


def _csv_text(frames, counter):
    import numpy as np
    import pandas as pd

    header = True
    for columns in frames:
        # the digits of `mlplab predict` on a CSV: probabilities to 6 significant digits, values to 8
        frame = pd.DataFrame({name: np.char.mod("%.6g", values) if name.startswith("probability_") else values
                              for name, values in columns.items()})
        yield frame.to_csv(index=False, header=header, float_format="%.8g", lineterminator="\n")
        header = False
        counter[0] += len(frame)


class _Sink:
    """A write-only file that hands what was written to atomic_write, chunk by chunk."""

    def __init__(self):
        self.parts, self.position, self.closed = [], 0, False

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def writable(self) -> bool:
        return True

    def drain(self):
        parts, self.parts = self.parts, []
        return parts
