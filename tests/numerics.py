"""An independent finite-difference oracle for the tests (deliberately not mlplab's own gradcheck)."""
import numpy as np


def numerical_gradient(f, array, eps=1e-6):
    """Centred differences of the scalar f() w.r.t. every element of `array` (changed in place, then restored)."""
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        original = array[index]
        array[index] = original + eps
        plus = f()
        array[index] = original - eps
        minus = f()
        array[index] = original
        grad[index] = (plus - minus) / (2 * eps)
    return grad
