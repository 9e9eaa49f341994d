"""Tests for the fixed and synthetic data sets of mlplab.datasets."""
import sys

import numpy as np
import pytest

from mlplab import datasets as ds

# name -> (generator, keyword arguments, n_samples, n_features, n_classes)
CLASSIFIERS = {
    "linear_boundary": (ds.linear_boundary, {}, 500, 2, 2),
    "quadratic_boundary": (ds.quadratic_boundary, {}, 500, 2, 2),
    "classification": (ds.classification, {"n_features": 5, "n_informative": 3, "n_redundant": 1,
                                           "n_classes": 3}, 300, 5, 3),
    "blobs": (ds.blobs, {"centers": 4}, 200, 2, 4),
    "moons": (ds.moons, {}, 201, 2, 2),
    "circles": (ds.circles, {}, 201, 2, 2),
    "spirals": (ds.spirals, {"n_classes": 4}, 301, 2, 4),
}


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_classification_sets_shapes_dtypes_and_labels(name):
    make, kwargs, n, n_features, n_classes = CLASSIFIERS[name]
    x, y = make(n_samples=n, seed=0, **kwargs)
    assert x.shape == (n, n_features) and x.dtype == np.float64
    assert y.shape == (n,) and y.dtype == np.int64
    assert np.isfinite(x).all()
    assert set(np.unique(y)) == set(range(n_classes))


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_same_seed_same_bits_other_seed_other_data(name):
    make, kwargs, n, _, _ = CLASSIFIERS[name]
    x1, y1 = make(n_samples=n, seed=7, **kwargs)
    x2, y2 = make(n_samples=n, seed=7, **kwargs)
    x3, _ = make(n_samples=n, seed=8, **kwargs)
    assert x1.tobytes() == x2.tobytes() and y1.tobytes() == y2.tobytes()
    assert not np.array_equal(x1, x3)
    # A Generator is used as given: the same stream gives the same data.
    x4, _ = make(n_samples=n, seed=np.random.default_rng(7), **kwargs)
    assert np.array_equal(x1, x4)


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_global_numpy_random_state_is_untouched(name):
    make, kwargs, n, _, _ = CLASSIFIERS[name]
    np.random.seed(123)
    expected = np.random.random(3)
    np.random.seed(123)
    make(n_samples=n, seed=None, **kwargs)
    assert np.array_equal(np.random.random(3), expected)


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_bad_n_samples_and_seed_name_the_argument(name):
    make, kwargs, _, _, _ = CLASSIFIERS[name]
    with pytest.raises(ValueError, match=r"`n_samples`.*n_samples=-3"):
        make(n_samples=-3, **kwargs)
    with pytest.raises(TypeError, match="`n_samples`"):
        make(n_samples=2.5, **kwargs)
    with pytest.raises(TypeError, match="`seed`.*'abc'"):
        make(n_samples=10, seed="abc", **kwargs)
    with pytest.raises(ValueError, match=r"`seed`.*seed=-1"):
        make(n_samples=10, seed=-1, **kwargs)


def test_linear_boundary_matches_its_defining_function():
    x, y = ds.linear_boundary(2000, seed=1)
    assert (x[:, 0] >= 0).all() and (x[:, 0] < 8).all()
    assert (x[:, 1] >= -4).all() and (x[:, 1] < 3).all()
    g = 0.8 * x[:, 0] + x[:, 1] - 3
    np.testing.assert_array_equal(y, (g >= 0).astype(int))
    assert 0.2 < y.mean() < 0.8  # both classes well represented


def test_quadratic_boundary_matches_its_defining_function():
    x, y = ds.quadratic_boundary(2000, seed=1)
    assert (x[:, 0] >= -5).all() and (x[:, 0] < 5).all()
    assert (x[:, 1] >= -4).all() and (x[:, 1] < 4).all()
    g = -0.5 * (x[:, 0] - 1) ** 2 + 2 * x[:, 1] + 5
    np.testing.assert_array_equal(y, (g >= 0).astype(int))
    assert 0.2 < y.mean() < 0.8


def test_cubic_regression_set():
    x, y = ds.cubic(500, seed=2)
    assert x.shape == y.shape == (500, 1) and x.dtype == y.dtype == np.float64
    assert x.min() >= -1.5 and x.max() <= 1.5
    np.testing.assert_allclose(y, x**3 + 0.1 * x**2 - x + 0.1, rtol=0, atol=1e-15)
    # Worked out by hand: f(0) = 0.1, f(1) = 1 + 0.1 - 1 + 0.1, f(-1) = -1 + 0.1 + 1 + 0.1, f(2) = 8 + 0.4 - 2 + 0.1
    np.testing.assert_allclose(ds.cubic_function([0.0, 1.0, -1.0, 2.0]), [0.1, 0.2, 0.2, 6.5])


def test_overfitting_points_are_the_lectures():
    x, y = ds.overfitting_points()
    assert x.shape == y.shape == (10, 1)
    np.testing.assert_allclose(x[:, 0], [-4.5, -3.5, -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, 4.5])
    assert y[:, 0].tolist() == [0.9819, 0.7973, 1.9737, 0.1838, 1.3180, -0.8361, -0.6591, -2.4701, -2.8122, -6.2512]


def test_classification_structure():
    x, y = ds.classification(400, n_features=6, n_informative=3, n_redundant=2, n_classes=4,
                             n_clusters_per_class=1, class_sep=1.0, flip_y=0.0, seed=3)
    # Redundant columns are linear combinations of the informative ones: rank stays 3.
    assert np.linalg.matrix_rank(x[:, :5]) == 3
    assert np.linalg.matrix_rank(x) == 4  # plus one independent noise column
    assert np.bincount(y).tolist() == [100, 100, 100, 100]  # flip_y=0: balanced, no label noise


def test_classification_clusters_sit_on_hypercube_vertices():
    # Far-apart clusters: each class's mean is near a distinct vertex (+-class_sep in each coordinate).
    x, y = ds.classification(2000, n_features=2, n_informative=2, n_classes=4, n_clusters_per_class=1,
                             class_sep=20.0, flip_y=0.0, seed=4)
    means = np.array([x[y == c].mean(axis=0) for c in range(4)])
    vertices = np.sign(means) * 20.0
    assert np.abs(means - vertices).max() < 1.0
    assert len({tuple(v) for v in vertices}) == 4


def test_classification_flip_y_relabels_a_fraction():
    # Two far-apart clusters, one per class: a label disagrees with its cluster only if flipped.
    # flip_y=0.5 redraws half the labels at random, so about a quarter end up wrong.
    for flip_y, low, high in ((0.0, 0.0, 0.0), (0.5, 0.2, 0.3)):
        x, y = ds.classification(4000, n_classes=2, n_clusters_per_class=1, class_sep=20.0,
                                 flip_y=flip_y, seed=5)
        vertex = [tuple(v) for v in np.sign(x).astype(int)]
        cluster_label = {v: np.bincount(y[[u == v for u in vertex]]).argmax() for v in set(vertex)}
        wrong = np.mean([label != cluster_label[v] for label, v in zip(y, vertex, strict=True)])
        assert low <= wrong <= high


def test_classification_rejects_impossible_settings():
    with pytest.raises(ValueError, match="`n_features`"):
        ds.classification(n_features=2, n_informative=2, n_redundant=1)
    with pytest.raises(ValueError, match="`n_informative`"):
        ds.classification(n_informative=2, n_classes=3, n_clusters_per_class=2)
    with pytest.raises(ValueError, match="`flip_y`"):
        ds.classification(flip_y=1.5)
    with pytest.raises(ValueError, match="`n_classes`"):
        ds.classification(n_classes=1)


def test_blobs_points_belong_to_their_centre():
    centers = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    x, y = ds.blobs(600, centers=centers, cluster_std=[0.5, 1.0, 2.0], seed=6)
    assert np.bincount(y).tolist() == [200, 200, 200]
    for c, std in enumerate([0.5, 1.0, 2.0]):
        offsets = x[y == c] - centers[c]
        np.testing.assert_allclose(offsets.mean(axis=0), 0, atol=0.4)
        np.testing.assert_allclose(offsets.std(axis=0), std, rtol=0.2)
    with pytest.raises(ValueError, match="`cluster_std`"):
        ds.blobs(10, centers=centers, cluster_std=[1.0, 2.0])
    with pytest.raises(ValueError, match="`centers`"):
        ds.blobs(10, centers=[1.0, 2.0])


def test_moons_without_noise_lie_on_their_half_circles():
    x, y = ds.moons(101, noise=0.0, seed=0)
    upper, lower = x[y == 0], x[y == 1]
    assert len(upper) == 50 and len(lower) == 51
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0)
    assert (upper[:, 1] >= -1e-12).all()
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0)
    assert (lower[:, 1] <= 0.5 + 1e-12).all()


def test_circles_without_noise_have_radius_1_and_factor():
    x, y = ds.circles(100, noise=0.0, factor=0.3, seed=0)
    radius = np.hypot(x[:, 0], x[:, 1])
    np.testing.assert_allclose(radius[y == 0], 1.0)
    np.testing.assert_allclose(radius[y == 1], 0.3)
    with pytest.raises(ValueError, match="`factor`"):
        ds.circles(factor=1.0)
    with pytest.raises(ValueError, match="`noise`"):
        ds.circles(noise=-0.1)


def test_spirals_without_noise_follow_angle_4j_plus_4r():
    x, y = ds.spirals(300, n_classes=3, noise=0.0, seed=0)
    assert np.bincount(y).tolist() == [100, 100, 100]
    radius = np.hypot(x[:, 0], x[:, 1])
    assert radius.min() == 0 and np.isclose(radius.max(), 1.0)
    angle = np.arctan2(x[:, 0], x[:, 1])  # points are (r sin t, r cos t)
    expected = 4.0 * y + 4.0 * radius
    wrapped = np.angle(np.exp(1j * (angle - expected)))
    assert np.abs(wrapped[radius > 1e-9]).max() < 1e-9
    with pytest.raises(ValueError, match="`n_samples`"):
        ds.spirals(2, n_classes=3)


# -- fixed sets -----------------------------------------------------------------------------------
@pytest.mark.parametrize("gate, rule", [
    ("and", lambda a, b: a & b), ("or", lambda a, b: a | b), ("nand", lambda a, b: 1 - (a & b)),
    ("nor", lambda a, b: 1 - (a | b)), ("xor", lambda a, b: a ^ b),
])
def test_logic_gate_truth_tables(gate, rule):
    for name in (gate, gate.upper()):
        x, y = ds.logic_gate(name)
        assert x.dtype == np.float64 and y.dtype == np.int64 and y.shape == (4,)
        assert x.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
        assert y.tolist() == [rule(int(a), int(b)) for a, b in x]
    assert gate in ds.LOGIC_GATES


def test_logic_gate_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="`name`") as info:
        ds.logic_gate("xnor")
    assert all(repr(gate) in str(info.value) for gate in ("and", "or", "nand", "nor", "xor"))
    assert "'xnor'" in str(info.value)
    with pytest.raises(TypeError, match="`name`"):
        ds.logic_gate(3)


def test_fixed_sets_return_fresh_arrays():
    x, y = ds.logic_gate("and")
    x[:] = 9
    y[:] = 9
    x2, y2 = ds.logic_gate("and")
    assert x2.max() == 1 and y2.tolist() == [0, 0, 0, 1]


def test_digit_bitmaps_are_the_lecture_lists():
    # Copied from seed 004, section 4.5.
    zero = [0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0]
    one = [0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0]
    two = [0, 1, 1, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 1, 1, 1]
    three = [1, 1, 1, 1, 0, 0, 0, 1, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1]
    predict = [0, 1, 1, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 1, 1, 1]
    x, y = ds.digit_bitmaps()
    assert x.shape == (4, 20) and x.dtype == np.float64
    assert x.tolist() == [zero, one, two, three]
    assert y.tolist() == [0, 1, 2, 3] and y.dtype == np.int64
    query = ds.digit_query_bitmap()
    assert query.shape == (20,) and query.dtype == np.float64 and query.tolist() == predict


def test_tiny_sets():
    x, y = ds.tiny_sets("4.2")
    assert x.tolist() == [[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]] and y.tolist() == [[0], [0], [1], [1]]
    x, y = ds.tiny_sets("4.4")
    assert x.tolist() == [[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]] and y.tolist() == [[0], [1], [1], [0]]
    x, y = ds.tiny_sets("4.4-listing")
    assert x.tolist() == [[1, 1, 1], [3, 3, 3], [2, 2, 2], [2, 2, 2]] and y.tolist() == [[1], [1], [0], [1]]
    assert x.dtype == y.dtype == np.float64 and y.shape == (4, 1)
    assert ds.TINY_SETS == ("4.2", "4.4", "4.4-listing")
    with pytest.raises(ValueError, match="'4.2', '4.4', '4.4-listing'"):
        ds.tiny_sets("4.3")


def test_tiny_set_4_4_reproduces_the_printed_output():
    # Listing 4.4's code run on tiny_sets("4.4") prints the lecture's errors at steps 0 and 10,000.
    x, y = ds.tiny_sets("4.4")
    rng = np.random.RandomState(1)  # the listing's np.random.seed(1), without touching global state
    syn0, syn1 = 2 * rng.random_sample((3, 4)) - 1, 2 * rng.random_sample((4, 1)) - 1
    errors = []
    for step in range(10001):
        l1 = 1 / (1 + np.exp(-(x @ syn0)))
        l2 = 1 / (1 + np.exp(-(l1 @ syn1)))
        if step % 10000 == 0:
            errors.append(np.mean(np.abs(y - l2)))
        l2_delta = (y - l2) * l2 * (1 - l2)
        l1_delta = l2_delta @ syn1.T * l1 * (1 - l1)
        syn1 += l1.T @ l2_delta
        syn0 += x.T @ l1_delta
    np.testing.assert_allclose(errors, [0.49641003190272537, 0.008584525653247153], rtol=1e-9)


def test_digits_from_scikit_learn():
    pytest.importorskip("sklearn", reason="scikit-learn (optional extra) is not installed")
    x, y = ds.digits()
    assert x.shape == (1797, 64) and x.dtype == np.float64
    assert y.shape == (1797,) and y.dtype == np.int64
    assert x.min() == 0 and x.max() == 16 and set(np.unique(y)) == set(range(10))


def test_digits_without_scikit_learn_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # makes `import sklearn...` fail
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r'pip install "mlplab\[sklearn\]"'):
        ds.digits()
