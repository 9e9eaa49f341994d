"""Getting arrays ready for training: scaling, shuffling, splitting, one-hot labels and mini-batches.

NumPy only. Randomness comes from a `seed` argument (None, an int >= 0 or a numpy.random.Generator)
passed to `np.random.default_rng`, never from NumPy's global state.

>>> import numpy as np
>>> x, y = np.arange(20.0).reshape(10, 2), np.arange(10) % 2
>>> x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, seed=0, stratify=y)
>>> x_train, x_test = standardize(x_train, x_test)  # test scaled with the training statistics
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from mlplab.core.checks import as_array, check_bool, check_number, invalid, make_rng

__all__ = ["Standardizer", "standardize", "shuffle", "train_test_split", "one_hot", "batches"]


def _float_array(name: str, x) -> np.ndarray:
    """A finite, non-empty numeric array; integers become float64, float32 stays float32."""
    x = as_array(name, x)
    return x if x.dtype.kind == "f" else x.astype(np.float64)


class Standardizer:
    """z = (x - mean_) / scale_, with mean_ and scale_ learned by `fit` on the training data only.

    per_feature=True: mean_ and scale_ are each feature's mean and standard deviation (over axis 0).
    per_feature=False: mean_ is still per feature, but scale_ is one number, x.std() over all
    entries, exactly as the lecture does (`mu, sigma = X_train.mean(axis=0), X_train.std()`).
    A feature whose values are all equal gets scale 1 (so it maps to 0 instead of 0 / 0).

    >>> scaler = Standardizer().fit([[1.0, 5.0], [3.0, 5.0]])
    >>> scaler.mean_.tolist(), scaler.scale_.tolist()
    ([2.0, 5.0], [1.0, 1.0])
    """

    def __init__(self, per_feature: bool = True):
        self.per_feature = check_bool("per_feature", per_feature)
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def fit(self, x) -> "Standardizer":
        """Learn mean_ and scale_ from x of shape (n_samples, ...); returns self."""
        x = _float_array("x", x)
        self.mean_ = x.mean(axis=0, dtype=np.float64)
        if self.per_feature:
            constant = np.ptp(x, axis=0) == 0  # exact test: a float std of equal values can be 1e-17
            self.scale_ = np.where(constant, 1.0, x.std(axis=0, dtype=np.float64))
        else:
            self.scale_ = np.asarray(1.0 if np.ptp(x) == 0 else x.std(dtype=np.float64))
        return self

    def _check_fitted(self, name: str, x) -> np.ndarray:
        if self.mean_ is None:
            raise RuntimeError("This Standardizer is not fitted yet: call fit(x_train) before transforming.")
        x = _float_array(name, x)
        if x.shape[1:] != self.mean_.shape:
            raise invalid(name, f"rows of shape {self.mean_.shape}, like the data given to fit", x)
        return x

    def transform(self, x) -> np.ndarray:
        """(x - mean_) / scale_, in x's float dtype (float32 stays float32)."""
        return self._scale("x", x)

    def _scale(self, name: str, x) -> np.ndarray:
        x = self._check_fitted(name, x)
        return ((x - self.mean_) / self.scale_).astype(x.dtype, copy=False)

    def fit_transform(self, x) -> np.ndarray:
        """fit(x), then transform(x)."""
        return self.fit(x).transform(x)

    def inverse_transform(self, z) -> np.ndarray:
        """z * scale_ + mean_: back to the original units."""
        z = self._check_fitted("z", z)
        return (z * self.scale_ + self.mean_).astype(z.dtype, copy=False)

    def __repr__(self) -> str:
        return f"Standardizer(per_feature={self.per_feature})"


def standardize(x_train, *others, per_feature: bool = True) -> tuple:
    """Scale x_train and every other array with x_train's mean and standard deviation.

    The test set must not leak into the statistics, so only x_train is used to fit. Returns a tuple
    (x_train_scaled, *others_scaled), even for one array.
    """
    scaler = Standardizer(per_feature=per_feature).fit(x_train)
    scaled = [scaler._scale("x_train", x_train)]
    scaled += [scaler._scale(f"others[{i}]", x) for i, x in enumerate(others)]
    return tuple(scaled)


def _same_length(arrays, names=None) -> list[np.ndarray]:
    """Arrays with one row per sample and the same number of rows; `names` label them in errors."""
    if not arrays:
        raise TypeError("Expected at least one array as a positional argument. Received: none.")
    names = names or [f"arrays[{i}]" for i in range(len(arrays))]
    arrays = [np.asarray(a) for a in arrays]
    for name, a in zip(names, arrays, strict=True):
        if a.ndim == 0:
            raise invalid(name, "an array with at least one dimension (one row per sample)", a)
        if len(a) != len(arrays[0]):
            raise ValueError(f"Invalid value for argument `{name}`: expected {len(arrays[0])} rows like "
                             f"{names[0]}. Received: {len(a)} rows.")
    return arrays


def shuffle(*arrays, seed=None):
    """Reorder the rows of every array with one shared random permutation.

    Returns the shuffled array for one input, a tuple for several: `x, y = shuffle(x, y, seed=0)`.
    """
    arrays = _same_length(arrays)
    order = make_rng(seed).permutation(len(arrays[0]))
    shuffled = tuple(a[order] for a in arrays)
    return shuffled[0] if len(shuffled) == 1 else shuffled


def _test_count(test_size, n: int) -> int:
    if isinstance(test_size, numbers.Integral) and not isinstance(test_size, bool):
        n_test = int(test_size)
    else:
        check_number("test_size", test_size, low=0, high=1, low_open=True, high_open=True)
        n_test = math.ceil(test_size * n)
    if not 1 <= n_test <= n - 1:
        raise invalid("test_size", f"a fraction in (0, 1) or a count in [1, {n - 1}] that leaves both sets "
                      f"non-empty ({n} samples)", test_size)
    return n_test


def _stratified_test_rows(labels: np.ndarray, n_test: int, rng: np.random.Generator) -> np.ndarray:
    """Pick n_test rows so that each class keeps (within one sample) its share of the data."""
    _, inverse, counts = np.unique(labels, axis=0 if labels.ndim > 1 else None,
                                   return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    if counts.min() < 2:
        raise invalid("stratify", "at least 2 samples of every class (one for each set)",
                      f"a class with {counts.min()} sample")
    quotas = counts * n_test / len(labels)
    per_class = np.floor(quotas).astype(int)
    # Largest remainders get the leftover rows; the random tie-break keeps equal classes fair.
    order = rng.permutation(len(counts))
    order = order[np.argsort(-(quotas - per_class)[order], kind="stable")]
    per_class[order[: n_test - per_class.sum()]] += 1
    chosen = [rng.permutation(np.flatnonzero(inverse == c))[:k] for c, k in enumerate(per_class)]
    return np.concatenate(chosen)


def train_test_split(*arrays, test_size=0.25, seed=None, stratify=None) -> list:
    """Split arrays into random train and test rows: returns [a_train, a_test, b_train, b_test, ...].

    test_size: a fraction in (0, 1) (rounded up, as scikit-learn does) or a number of rows.
    stratify: class labels (usually y); each class then keeps its proportion in both sets.

    >>> x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, seed=0)  # doctest: +SKIP
    """
    arrays = _same_length(arrays)
    n = len(arrays[0])
    n_test = _test_count(test_size, n)
    rng = make_rng(seed)
    if stratify is None:
        permutation = rng.permutation(n)
        test_rows, train_rows = permutation[:n_test], permutation[n_test:]
    else:
        labels = np.asarray(stratify)
        if labels.ndim == 0 or len(labels) != n:
            raise invalid("stratify", f"one label per row ({n} labels)", labels)
        test_rows = rng.permutation(_stratified_test_rows(labels, n_test, rng))
        is_test = np.zeros(n, dtype=bool)
        is_test[test_rows] = True
        train_rows = rng.permutation(np.flatnonzero(~is_test))
    return [part for a in arrays for part in (a[train_rows], a[test_rows])]


ONE_HOT_MAX_BYTES = 4 * 2**30  # one_hot refuses a larger result before allocating it
ONE_HOT_MAX_LABEL = 2**53  # float labels beyond are not exact (and beyond int64 not labels at all)


def one_hot(y, num_classes: int | None = None, dtype=np.float32) -> np.ndarray:
    """Class labels (n_samples,) -> indicator rows (n_samples, num_classes) with a 1 at each label.

    num_classes defaults to max(y) + 1. Labels may be ints or integral floats, shape (n,) or (n, 1).

    >>> one_hot([0, 2, 1]).tolist()
    [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
    """
    try:
        labels = np.asarray(y)
    except (ValueError, TypeError) as err:  # ragged nested lists
        raise TypeError(f"Invalid type for argument `y`: expected class labels. Received: {err}") from None
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise invalid("y", "class labels of shape (n_samples,) or (n_samples, 1)", labels)
    if labels.dtype.kind == "f":
        if not (np.isfinite(labels).all() and (labels == np.round(labels)).all()):
            raise invalid("y", "integer class labels (whole numbers)", labels)
    elif labels.dtype.kind not in "biu":
        raise TypeError(f"Invalid type for argument `y`: expected integer class labels. "
                        f"Received: an array of dtype {labels.dtype}.")
    if labels.size and labels.dtype.kind in "fu" and labels.max() > ONE_HOT_MAX_LABEL:  # beyond int64, or inexact
        raise invalid("y", f"class labels up to {ONE_HOT_MAX_LABEL} (encode other labels to 0..k-1 first, "
                           f"e.g. with np.unique(y, return_inverse=True)); "
                           "the largest label found", labels.max().item())
    labels = labels.astype(np.int64)
    if labels.size and labels.min() < 0:
        raise ValueError(f"Invalid value for argument `y`: expected labels >= 0. Received: a label {labels.min()}.")
    if num_classes is None:
        if labels.size == 0:
            raise invalid("num_classes", "an integer when y is empty (it cannot be inferred)", num_classes)
        num_classes = int(labels.max()) + 1
    else:
        num_classes = int(check_number("num_classes", num_classes, low=1, integer=True))
        if labels.size and labels.max() >= num_classes:
            raise ValueError(f"Invalid value for argument `y`: expected labels in 0..{num_classes - 1} "
                             f"(num_classes={num_classes}). Received: a label {labels.max()}.")
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise invalid("dtype", "a NumPy dtype such as np.float32", dtype) from None
    size = len(labels) * num_classes * dtype.itemsize
    if size > ONE_HOT_MAX_BYTES:  # refused before allocating: a stray large label would ask for TiB
        raise ValueError(f"one_hot: {len(labels)} rows x {num_classes} classes of {dtype} would take "
                         f"{size / 2**30:.4g} GiB (more than {ONE_HOT_MAX_BYTES / 2**30:.4g} GiB); the largest label "
                         f"is {int(labels.max()) if labels.size else None}. Encode the labels to 0..k-1 first "
                         f"(np.unique(y, return_inverse=True)) or pass a smaller num_classes.")
    encoded = np.zeros((len(labels), num_classes), dtype=dtype)
    encoded[np.arange(len(labels)), labels] = 1
    return encoded


def batches(x, y=None, batch_size: int | None = 32, shuffle: bool = False, seed=None):
    """Iterate over mini-batches: yields (x_batch, y_batch), y_batch None when y is None.

    Every row appears in exactly one batch; the last batch holds the remainder. batch_size=None
    gives one batch with all rows. shuffle=True visits rows in a random order drawn from `seed`.
    Arguments are checked now, not at the first next().

    >>> [len(xb) for xb, _ in batches(np.zeros((10, 2)), batch_size=4)]
    [4, 4, 2]
    """
    if y is None:
        (x,) = _same_length([x], ["x"])
    else:
        x, y = _same_length([x, y], ["x", "y"])
    if batch_size is None:
        batch_size = max(len(x), 1)
    batch_size = int(check_number("batch_size", batch_size, low=1, integer=True))
    check_bool("shuffle", shuffle)
    order = make_rng(seed).permutation(len(x)) if shuffle else None
    return _iterate_batches(x, y, batch_size, order)


def _iterate_batches(x, y, batch_size, order):
    for start in range(0, len(x), batch_size):
        rows = slice(start, start + batch_size) if order is None else order[start:start + batch_size]
        yield x[rows], (None if y is None else y[rows])
