"""Random toy data sets, generated with NumPy only.

Every generator takes `seed` (None, a non-negative int or a `numpy.random.Generator`) and draws
from `np.random.default_rng(seed)`, never from NumPy's global state: the same seed gives
bit-identical arrays. Classification sets return `x` as float64 `(n_samples, n_features)` and
`y` as int64 `(n_samples,)`; regression sets return float64 `x` and `y` of shape `(n_samples, 1)`.
"""
from __future__ import annotations

import numbers

import numpy as np

from mlplab.core.checks import check_number, invalid, make_rng

__all__ = [
    "linear_boundary", "quadratic_boundary", "cubic", "cubic_function", "classification",
    "blobs", "moons", "circles", "spirals",
]


def _count(name: str, value, low: int = 1) -> int:
    return int(check_number(name, value, low=low, integer=True))


def _split_evenly(n_samples: int, n_groups: int) -> np.ndarray:
    """Group sizes that add up to n_samples; the first `n_samples % n_groups` groups get one more."""
    sizes = np.full(n_groups, n_samples // n_groups)
    sizes[: n_samples % n_groups] += 1
    return sizes


# -- the lecture's boundary problems (seed 003) ---------------------------------------------------
def linear_boundary(n_samples: int = 1000, seed=None):
    """Points labelled by the side of a line: y = [0.8*x1 + x2 - 3 >= 0].

    x1 ~ U[0, 8), x2 ~ U[-4, 3), as in the lecture (`x1 = 8*rand`, `x2 = 7*rand - 4`). Unlike the
    lecture, rows stay in sampling order instead of being sorted class 1 first.

    Returns x (n_samples, 2) float64 and y (n_samples,) int64.

    >>> x, y = linear_boundary(5, seed=0)
    >>> x.shape, y.dtype
    ((5, 2), dtype('int64'))
    """
    n_samples = _count("n_samples", n_samples)
    rng = make_rng(seed)
    x1 = rng.uniform(0.0, 8.0, n_samples)
    x2 = rng.uniform(-4.0, 3.0, n_samples)
    g = 0.8 * x1 + x2 - 3
    return np.column_stack([x1, x2]), (g >= 0).astype(np.int64)


def quadratic_boundary(n_samples: int = 1000, seed=None):
    """Points labelled by the side of a parabola: y = [-0.5*(x1 - 1)**2 + 2*x2 + 5 >= 0].

    x1 ~ U[-5, 5), x2 ~ U[-4, 4), as in the lecture. One neuron cannot separate the classes; two
    sigmoid hidden units can. Returns x (n_samples, 2) float64 and y (n_samples,) int64.
    """
    n_samples = _count("n_samples", n_samples)
    rng = make_rng(seed)
    x1 = rng.uniform(-5.0, 5.0, n_samples)
    x2 = rng.uniform(-4.0, 4.0, n_samples)
    g = -0.5 * (x1 - 1) ** 2 + 2 * x2 + 5
    return np.column_stack([x1, x2]), (g >= 0).astype(np.int64)


def cubic_function(x):
    """f(x) = x**3 + 0.1*x**2 - x + 0.1, the curve the lecture fits with ReLU units."""
    x = np.asarray(x, dtype=np.float64)
    return x**3 + 0.1 * x**2 - x + 0.1


def cubic(n_samples: int = 1000, seed=None):
    """A noise-free regression set: x ~ U[-1.5, 1.5), y = cubic_function(x), both (n_samples, 1) float64."""
    n_samples = _count("n_samples", n_samples)
    x = make_rng(seed).uniform(-1.5, 1.5, (n_samples, 1))
    return x, cubic_function(x)


# -- general-purpose generators -------------------------------------------------------------------
def _hypercube_vertices(n_vertices: int, n_dims: int, rng: np.random.Generator) -> np.ndarray:
    """`n_vertices` distinct random vertices of {0, 1}**n_dims, as rows of 0/1 floats."""
    # Draw distinct integers for the first (at most 30) coordinates: their bits make the rows distinct.
    head = min(n_dims, 30)
    codes = rng.choice(2**head, size=n_vertices, replace=False)
    bits = (codes[:, None] >> np.arange(head)) & 1
    tail = rng.integers(0, 2, size=(n_vertices, n_dims - head))
    return np.hstack([bits, tail]).astype(np.float64)


def classification(n_samples: int = 100, n_features: int = 2, n_informative: int = 2,
                   n_redundant: int = 0, n_classes: int = 2, n_clusters_per_class: int = 2,
                   class_sep: float = 1.0, flip_y: float = 0.01, seed=None):
    """Gaussian clusters on hypercube vertices, in the spirit of scikit-learn's make_classification.

    Each class gets `n_clusters_per_class` clusters. A cluster is a standard normal cloud in the
    first `n_informative` features, sheared by a random matrix (so it has its own covariance) and
    centred on a distinct vertex of the hypercube with sides 2*class_sep. The next `n_redundant`
    features are random linear combinations of the informative ones; the rest are N(0, 1) noise.
    Finally a fraction `flip_y` of the labels is replaced by random classes, and rows are shuffled.
    Same recipe as scikit-learn, not the same numbers.

    Returns x (n_samples, n_features) float64 and y (n_samples,) int64 in 0..n_classes-1.
    """
    n_samples = _count("n_samples", n_samples)
    n_features = _count("n_features", n_features)
    n_informative = _count("n_informative", n_informative)
    n_redundant = _count("n_redundant", n_redundant, low=0)
    n_classes = _count("n_classes", n_classes, low=2)
    n_clusters_per_class = _count("n_clusters_per_class", n_clusters_per_class)
    check_number("class_sep", class_sep, low=0)
    check_number("flip_y", flip_y, low=0, high=1)
    if n_informative + n_redundant > n_features:
        raise invalid("n_features", f"at least n_informative + n_redundant = {n_informative + n_redundant}",
                      n_features)
    n_clusters = n_classes * n_clusters_per_class
    if n_clusters > 2**n_informative:
        raise invalid("n_informative", f"2**n_informative >= n_classes * n_clusters_per_class = {n_clusters} "
                      "(each cluster needs its own hypercube vertex)", n_informative)
    rng = make_rng(seed)
    centroids = (2 * _hypercube_vertices(n_clusters, n_informative, rng) - 1) * class_sep
    sizes = _split_evenly(n_samples, n_clusters)
    x = np.empty((n_samples, n_features))
    y = np.repeat(np.arange(n_clusters) % n_classes, sizes).astype(np.int64)
    start = 0
    for k, size in enumerate(sizes):
        shear = rng.uniform(-1.0, 1.0, (n_informative, n_informative))
        x[start:start + size, :n_informative] = rng.standard_normal((size, n_informative)) @ shear + centroids[k]
        start += size
    if n_redundant:
        mixing = rng.uniform(-1.0, 1.0, (n_informative, n_redundant))
        x[:, n_informative:n_informative + n_redundant] = x[:, :n_informative] @ mixing
    n_noise = n_features - n_informative - n_redundant
    x[:, n_features - n_noise:] = rng.standard_normal((n_samples, n_noise))
    flipped = rng.random(n_samples) < flip_y
    y[flipped] = rng.integers(0, n_classes, flipped.sum())
    order = rng.permutation(n_samples)
    return x[order], y[order]


def blobs(n_samples: int = 300, n_features: int = 2, centers=3, cluster_std=1.0, seed=None):
    """Isotropic Gaussian blobs: y[i] is the blob that x[i] was drawn around.

    `centers` is a count (centres drawn uniformly in [-10, 10)**n_features) or an array of
    shape (n_centers, n_features), in which case `n_features` is taken from it. `cluster_std` is
    one standard deviation or one per centre. Samples are split as evenly as possible, then shuffled.
    """
    n_samples = _count("n_samples", n_samples)
    rng = make_rng(seed)
    if isinstance(centers, numbers.Integral) and not isinstance(centers, bool):
        n_centers = _count("centers", centers)
        n_features = _count("n_features", n_features)
        centers = rng.uniform(-10.0, 10.0, (n_centers, n_features))
    else:
        try:
            centers = np.asarray(centers, dtype=np.float64)
        except (TypeError, ValueError):
            raise invalid("centers", "a positive integer or an array of shape (n_centers, n_features)",
                          centers) from None
        if centers.ndim != 2 or centers.shape[0] == 0 or not np.isfinite(centers).all():
            raise invalid("centers", "a positive integer or a finite array of shape (n_centers, n_features)",
                          centers)
        n_centers, n_features = centers.shape
    try:
        stds = np.asarray(cluster_std, dtype=np.float64)
    except (TypeError, ValueError):
        stds = None
    if stds is not None and stds.ndim == 0:
        stds = np.full(n_centers, float(stds))
    if stds is None or stds.shape != (n_centers,) or not (np.isfinite(stds).all() and (stds >= 0).all()):
        raise invalid("cluster_std", f"a non-negative number or {n_centers} of them (one per centre)", cluster_std)
    sizes = _split_evenly(n_samples, n_centers)
    y = np.repeat(np.arange(n_centers), sizes).astype(np.int64)
    x = centers[y] + rng.standard_normal((n_samples, n_features)) * stds[y, None]
    order = rng.permutation(n_samples)
    return x[order], y[order]


def moons(n_samples: int = 200, noise: float = 0.1, seed=None):
    """Two interleaving half circles plus N(0, noise**2) jitter.

    Class 0 lies on the upper unit half circle (cos t, sin t); class 1 on the lower one shifted
    to (1 - cos t, 0.5 - sin t), t in [0, pi]. Returns x (n_samples, 2) float64, y (n_samples,) int64.
    """
    n_samples = _count("n_samples", n_samples, low=2)
    check_number("noise", noise, low=0)
    rng = make_rng(seed)
    n_outer, n_inner = n_samples // 2, n_samples - n_samples // 2
    t_outer, t_inner = np.linspace(0, np.pi, n_outer), np.linspace(0, np.pi, n_inner)
    x = np.vstack([
        np.column_stack([np.cos(t_outer), np.sin(t_outer)]),
        np.column_stack([1 - np.cos(t_inner), 0.5 - np.sin(t_inner)]),
    ])
    y = np.repeat([0, 1], [n_outer, n_inner]).astype(np.int64)
    x += noise * rng.standard_normal(x.shape)
    order = rng.permutation(n_samples)
    return x[order], y[order]


def circles(n_samples: int = 200, noise: float = 0.05, factor: float = 0.5, seed=None):
    """A circle of radius `factor` (class 1) inside the unit circle (class 0), plus N(0, noise**2) jitter.

    Returns x (n_samples, 2) float64 and y (n_samples,) int64. No line separates the classes; the
    squared radius x1**2 + x2**2 does.
    """
    n_samples = _count("n_samples", n_samples, low=2)
    check_number("noise", noise, low=0)
    check_number("factor", factor, low=0, high=1, high_open=True)
    rng = make_rng(seed)
    n_outer, n_inner = n_samples // 2, n_samples - n_samples // 2
    t_outer = np.linspace(0, 2 * np.pi, n_outer, endpoint=False)
    t_inner = np.linspace(0, 2 * np.pi, n_inner, endpoint=False)
    x = np.vstack([
        np.column_stack([np.cos(t_outer), np.sin(t_outer)]),
        factor * np.column_stack([np.cos(t_inner), np.sin(t_inner)]),
    ])
    y = np.repeat([0, 1], [n_outer, n_inner]).astype(np.int64)
    x += noise * rng.standard_normal(x.shape)
    order = rng.permutation(n_samples)
    return x[order], y[order]


def spirals(n_samples: int = 300, n_classes: int = 3, noise: float = 0.2, seed=None):
    """Interleaved spiral arms, one per class (the CS231n toy problem).

    Arm j has radius r = linspace(0, 1) and angle t = linspace(4j, 4j + 4) + noise * N(0, 1);
    a point is (r sin t, r cos t). Samples are split as evenly as possible across arms, then
    shuffled. Returns x (n_samples, 2) float64 and y (n_samples,) int64 in 0..n_classes-1.
    """
    n_samples = _count("n_samples", n_samples)
    n_classes = _count("n_classes", n_classes)
    check_number("noise", noise, low=0)
    if n_samples < n_classes:
        raise invalid("n_samples", f"at least n_classes={n_classes} (one point per arm)", n_samples)
    rng = make_rng(seed)
    radius, angle = [], []
    for arm, size in enumerate(_split_evenly(n_samples, n_classes)):
        radius.append(np.linspace(0.0, 1.0, size))
        angle.append(np.linspace(4.0 * arm, 4.0 * (arm + 1), size) + noise * rng.standard_normal(size))
    radius, angle = np.concatenate(radius), np.concatenate(angle)
    x = np.column_stack([radius * np.sin(angle), radius * np.cos(angle)])
    y = np.repeat(np.arange(n_classes), _split_evenly(n_samples, n_classes)).astype(np.int64)
    order = rng.permutation(n_samples)
    return x[order], y[order]
