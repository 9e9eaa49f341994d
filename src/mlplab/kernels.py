"""Optional compiled kernels (Numba) for the hottest element-wise loop: the Adam update.

The NumPy code in `optimizers.py` is the reference and runs whenever Numba is missing, disabled
(`MLPLAB_NUMBA=0` or `set_enabled(False)`) or the arrays are too small to matter. A kernel does the
same IEEE operations in the same order, one pass instead of twelve, so the weights come out the same
(the tests compare both paths). Numba is imported on the first large update, never by `import mlplab`.
"""
from __future__ import annotations

import os

import numpy as np

MIN_SIZE = 4096  # below this, NumPy's call overhead is smaller than the kernel's: keep NumPy
_enabled = os.environ.get("MLPLAB_NUMBA", "1") != "0"
_adam = None  # the compiled kernel once loaded; False when Numba is not available


def set_enabled(enabled: bool) -> None:
    """Turn the compiled kernels on or off for this process (they are on when Numba is installed)."""
    global _enabled
    if not isinstance(enabled, bool):
        raise TypeError(f"Invalid type for argument `enabled`: expected True or False. Received: {enabled!r}.")
    _enabled = enabled


def available() -> bool:
    """True when the kernels are enabled and Numba can be imported."""
    return _enabled and _load() is not False


def adam(param, grad, m, v, beta_1, beta_2, epsilon, step_size) -> bool:
    """m ← β1·m + (1 − β1)·g; v ← β2·v + (1 − β2)·g²; w ← w − step_size · m / (√v + epsilon), in one
    pass. Returns False, having changed nothing, when the NumPy path should run instead."""
    if not _enabled or param.size < MIN_SIZE or not _same_layout(param, grad, m, v):
        return False
    kernel = _load()
    if kernel is False:
        return False
    scalar = param.dtype.type  # float32 scalars for float32 arrays, as NumPy's own arithmetic uses
    kernel(param.reshape(-1), grad.reshape(-1), m.reshape(-1), v.reshape(-1), scalar(beta_1), scalar(1 - beta_1),
           scalar(beta_2), scalar(1 - beta_2), scalar(epsilon), scalar(step_size))
    return True


def _same_layout(*arrays) -> bool:
    first = arrays[0]
    return all(a.flags.c_contiguous and a.dtype == first.dtype and a.shape == first.shape for a in arrays)


def _load():
    global _adam
    if _adam is None:
        try:
            import numba
        except ImportError:
            _adam = False
        else:
            _adam = numba.njit(cache=True, nogil=True, error_model="numpy")(_adam_loop)
    return _adam


def _adam_loop(p, g, m, v, b1, c1, b2, c2, eps, step):
    # Same operations, same order as Adam.update's NumPy path: (m·β1) + (g·(1 − β1)), and so on.
    for i in range(p.size):
        gi = g[i]
        mi = m[i] * b1 + gi * c1
        vi = v[i] * b2 + gi * gi * c2
        m[i] = mi
        v[i] = vi
        p[i] -= step * (mi / (np.sqrt(vi) + eps))
