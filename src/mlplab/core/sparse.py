"""Sparse input rows: a scipy.sparse matrix or array (CSR/CSC) seen as the rows of a sample matrix.

The core stays NumPy-only: a sparse input is recognised by duck typing (it has `tocsr` and `nnz`) and kept
as CSR inside `SparseRows`, which has what the training loop asks of x (len, shape, dtype, row slices and
row gathers) and is never densified whole. Only a first Dense layer takes it, as the sparse product
z = x W; its weight gradient xᵀ·dz is a sparse product too.
"""
from __future__ import annotations

import numpy as np


def is_sparse(value) -> bool:
    """True for scipy.sparse matrices and arrays (duck typed, so the core needs no scipy)."""
    return hasattr(value, "tocsr") and hasattr(value, "nnz") and not isinstance(value, np.ndarray)


class SparseRows:
    """A CSR matrix as n rows of samples: x[i:j] and x[rows] give SparseRows, x @ W a dense array."""

    ndim = 2

    def __init__(self, matrix):
        self.matrix = matrix.tocsr()

    @property
    def shape(self) -> tuple:
        return tuple(self.matrix.shape)

    @property
    def dtype(self) -> np.dtype:
        return self.matrix.dtype

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]

    @property
    def nonzeros(self) -> np.ndarray:
        """The stored values (where NaN or inf would be)."""
        return self.matrix.data

    @property
    def T(self):
        """xᵀ as a scipy sparse matrix: xᵀ @ dz is a dense array."""
        return self.matrix.T

    @property
    def nnz(self) -> int:
        return self.matrix.nnz

    def tocsr(self):
        return self.matrix

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows) -> "SparseRows":
        return SparseRows(self.matrix[rows])

    def __matmul__(self, other) -> np.ndarray:
        return np.asarray(self.matrix @ other)

    def astype(self, dtype, copy=True) -> "SparseRows":
        return self if self.dtype == dtype and not copy else SparseRows(self.matrix.astype(dtype))

    def __array__(self, *args, **kwargs):
        raise TypeError("Invalid type for argument `x`: a sparse matrix goes only into a first ml.Dense layer, "
                        "never densified whole; call x.toarray() yourself if you want a dense array.")

    def __repr__(self):
        return f"SparseRows(shape={self.shape}, nnz={self.matrix.nnz}, dtype={self.dtype})"


def sparse_rows(name: str, value, dtype=None) -> SparseRows:
    """`value` (a 2-D scipy.sparse matrix or array, or SparseRows) as SparseRows of `dtype`."""
    rows = SparseRows(value)
    if len(rows.shape) != 2 or rows.shape[0] == 0 or rows.shape[1] == 0:
        raise ValueError(f"Invalid value for argument `{name}`: expected a non-empty 2-D sparse matrix "
                         f"(n_samples, n_features). Received: {name}={rows!r}.")
    if rows.dtype.kind not in "biuf":
        raise TypeError(f"Invalid type for argument `{name}`: expected a numeric sparse matrix. "
                        f"Received: dtype {rows.dtype}.")
    return rows if dtype is None else rows.astype(dtype, copy=False)
