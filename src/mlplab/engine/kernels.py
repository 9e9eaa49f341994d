"""Optional compiled kernels for the hottest element-wise loop: the Adam update in its folded form.

`mlplab.engine._kernels` is a small C extension built at install time when a C compiler is present.
`Adam.update` (mlplab.core.optimizers, the textbook rule) is the reference and runs whenever the
extension is missing, disabled (`MLPLAB_KERNELS=0` or `set_enabled(False)`) or the arrays are too small
to matter. The C loop computes the same rule with the bias corrections folded into two scalars, in one
pass instead of a dozen; the tests check it against the textbook rule (equal up to rounding).
"""
from __future__ import annotations

import os

from mlplab.core.checks import check_bool

MIN_SIZE = 4096  # below this NumPy's per-call overhead is no larger than the kernel's: keep NumPy
_enabled = os.environ.get("MLPLAB_KERNELS", "1") != "0"
_module = None  # the extension once imported; False when it is not built


def set_enabled(enabled: bool) -> None:
    """Turn the compiled kernels on or off for this process (on by default when built)."""
    global _enabled
    _enabled = check_bool("enabled", enabled)


def available() -> bool:
    """True when the kernels are enabled and the extension was built."""
    return _enabled and _load() is not False


def adam(param, grad, m, v, beta_1, beta_2, epsilon, step_size) -> bool:
    """m ← β1·m + (1 − β1)·g; v ← β2·v + (1 − β2)·g²; w ← w − step_size · m / (√v + epsilon), in one
    pass. Returns False, having changed nothing, when the NumPy path should run instead."""
    if not usable(param, grad, m, v):
        return False
    _load().adam(param, grad, m, v, beta_1, 1 - beta_1, beta_2, 1 - beta_2, epsilon, step_size)
    return True


def usable(*arrays) -> bool:
    """True when the kernel is built, enabled, and worth calling for these arrays (same layout, large)."""
    return _enabled and arrays[0].size >= MIN_SIZE and _same_layout(*arrays) and _load() is not False


def _same_layout(*arrays) -> bool:
    first = arrays[0]
    return first.dtype.char in "fd" and all(
        a.flags.c_contiguous and a.dtype == first.dtype and a.shape == first.shape for a in arrays)


def _load():
    global _module
    if _module is None:
        try:
            from mlplab.engine import _kernels
        except ImportError:
            _module = False
        else:
            _module = _kernels
    return _module
