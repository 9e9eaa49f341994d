"""Tables larger than memory: Dask collections in predict (lazy, block by block) and fit over chunks.

Dask is duck-typed (`__dask_graph__`) and imported only when one is given, so `import mlplab` needs
NumPy alone. predict ships the model to the workers once (one `dask.delayed` key every block depends
on) and returns a lazy Dask array, or a Dask DataFrame for a Dask DataFrame. fit on chunks holds one
chunk at a time: peak memory is about one chunk (x and y) plus the model, whatever the table's size.
"""
from __future__ import annotations

import collections.abc

import numpy as np

from mlplab.core.checks import invalid


def is_dask(value) -> bool:
    """True for a Dask collection (array, DataFrame, Series, bag): it has a task graph."""
    return hasattr(value, "__dask_graph__") and callable(getattr(value, "__dask_graph__"))


def is_chunked(x) -> bool:
    """True when fit's x is a set of chunks rather than one array: a Dask array, a list/tuple of (x, y)
    pairs, or an iterator/generator of them."""
    if is_dask(x):
        return True
    if isinstance(x, (list, tuple)):
        return bool(x) and all(isinstance(c, tuple) and len(c) == 2 and hasattr(c[0], "shape") for c in x)
    return isinstance(x, collections.abc.Iterator)


# -- predict ----------------------------------------------------------------------------------------
def predict_dask(model, x, batch_size=None):
    """model.predict on each block of a Dask array or each partition of a Dask DataFrame, lazily."""
    import dask

    if not model.built:
        raise invalid("x", "a built model for a Dask collection (build it, or predict one in-memory batch "
                           "first: a lazy table has no shape to build from)", x)
    shipped = dask.delayed(model, traverse=False)
    width = int(np.prod(model.output_shape))
    if hasattr(x, "map_partitions"):  # Dask DataFrame
        import pandas as pd

        columns = [f"output_{i}" for i in range(width)]
        meta = pd.DataFrame({c: np.array([], model.dtype) for c in columns})
        return x.map_partitions(_predict_frame, shipped, batch_size, meta=meta)
    if not hasattr(x, "map_blocks") or x.ndim < 2:
        raise invalid("x", "a 2-D Dask array or a Dask DataFrame", x)
    if tuple(x.shape[1:]) != tuple(model.input_shape):
        raise invalid("x", f"a Dask array of shape (n_samples, {', '.join(map(str, model.input_shape))}) as "
                           f"the model was built for", x)
    x = x.rechunk({axis: -1 for axis in range(1, x.ndim)})
    return x.map_blocks(_predict_block, shipped, batch_size, dtype=model.dtype,
                        chunks=(x.chunks[0], (width,)), drop_axis=list(range(2, x.ndim)) or None,
                        meta=np.empty((0, width), model.dtype))


def _predict_block(block, model, batch_size):
    if len(block) == 0:  # an empty partition
        return np.empty((0, int(np.prod(model.output_shape))), model.dtype)
    return model.predict(block, batch_size=batch_size).reshape(len(block), -1)


def _predict_frame(frame, model, batch_size):
    import pandas as pd

    outputs = _predict_block(frame.to_numpy(dtype=model.dtype), model, batch_size)
    return pd.DataFrame(outputs, index=frame.index, columns=[f"output_{i}" for i in range(outputs.shape[1])])


# -- fit ---------------------------------------------------------------------------------------------
def chunk_source(x, y):
    """(number of chunks or None, a function i -> (x_i, y_i) or None, a one-pass iterator or None)."""
    if is_dask(x):
        if y is None or not is_dask(y):
            raise invalid("y", "a Dask array of targets beside a Dask array x", y)
        if len(x.chunks[0]) and y.shape[0] != x.shape[0]:
            raise invalid("y", f"{x.shape[0]} rows, as many as x", y)
        x = x.rechunk({axis: -1 for axis in range(1, x.ndim)})
        y = y.rechunk({0: x.chunks[0], **{axis: -1 for axis in range(1, y.ndim)}})
        return len(x.chunks[0]), lambda i: _compute(x.blocks[i], y.blocks[i]), None
    if y is not None:
        raise invalid("y", "None when x holds (x, y) chunks", y)
    if isinstance(x, (list, tuple)):
        return len(x), x.__getitem__, None
    return None, None, x


def _compute(xb, yb):
    import dask

    return dask.compute(xb, yb, scheduler="sync")


def fit_chunks(model, x, y, *, epochs, batch_size, shuffle, verbose, validation_data, nan_guard, **refused):
    """Train on chunks: each epoch visits every chunk once (in a seeded order when shuffle), and each chunk
    is trained as model.fit(chunk, epochs=1, shuffle=shuffle) would, so the rows are shuffled within the
    chunk. Returns a History with one entry per epoch (the loss and metrics averaged over the rows)."""
    from mlplab.core.callbacks import History

    for name, value in refused.items():
        if value not in (None, 0.0, False):
            raise invalid(name, f"no {name} with chunked x (out-of-core fit takes x, y, epochs, batch_size, "
                                f"shuffle, verbose and validation_data)", value)
    count, get, once = chunk_source(x, y)
    if once is not None and epochs != 1:
        raise invalid("epochs", "1 for a one-pass iterator of chunks (pass a list of (x, y) chunks or a Dask "
                                "array to train several epochs)", epochs)
    if count == 0:
        raise invalid("x", "at least one chunk", x)
    history = History()
    for epoch in range(epochs):
        if once is not None:
            chunks = once
        else:
            order = model.rng.permutation(count) if shuffle else range(count)
            chunks = (get(int(i)) for i in order)
        totals, rows = collections.Counter(), 0
        for xc, yc in chunks:
            logs = model.fit(xc, yc, epochs=1, batch_size=batch_size, shuffle=shuffle, verbose=0,
                             nan_guard=nan_guard).history
            n = len(xc)
            rows += n
            for key, values in logs.items():
                totals[key] += values[-1] * n
        logs = {key: value / rows for key, value in totals.items()}
        if validation_data is not None:
            logs.update({f"val_{k}": v for k, v in model.evaluate(*validation_data).items()})
        history.on_epoch_end(epoch, logs)
        if verbose:
            print(f"Epoch {epoch + 1}/{epochs} - " + " - ".join(f"{k}: {v:.4g}" for k, v in logs.items()))
    return history

