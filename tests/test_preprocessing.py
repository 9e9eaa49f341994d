"""Tests for mlplab.preprocessing: scaling, shuffling, splitting, one-hot labels and batches."""
import numpy as np
import pytest

from mlplab.preprocessing import Standardizer, batches, one_hot, shuffle, standardize, train_test_split


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    x = rng.normal([5.0, -3.0, 100.0], [2.0, 0.5, 30.0], size=(200, 3))
    return x


# -- Standardizer ----------------------------------------------------------------------------------
def test_standardizer_per_feature(data):
    scaler = Standardizer().fit(data)
    np.testing.assert_allclose(scaler.mean_, data.mean(axis=0))
    np.testing.assert_allclose(scaler.scale_, data.std(axis=0))
    z = scaler.transform(data)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=0), 1)
    np.testing.assert_allclose(scaler.inverse_transform(z), data)
    np.testing.assert_array_equal(Standardizer().fit_transform(data), z)


def test_standardizer_global_scale_is_the_lectures(data):
    # Seed 002: mu, sigma = X_train.mean(axis=0), X_train.std(); X = (X - mu) / sigma
    scaler = Standardizer(per_feature=False).fit(data)
    assert np.ndim(scaler.scale_) == 0 and scaler.scale_ == pytest.approx(data.std())
    np.testing.assert_allclose(scaler.transform(data), (data - data.mean(axis=0)) / data.std())


def test_standardizer_constant_feature_gets_scale_one():
    x = np.column_stack([np.full(10, 0.1), np.arange(10.0)])  # 0.1 is not exact in binary
    scaler = Standardizer().fit(x)
    assert scaler.scale_[0] == 1.0
    z = scaler.transform(x)
    np.testing.assert_allclose(z[:, 0], 0, atol=1e-15)
    assert np.isfinite(z).all()
    assert Standardizer(per_feature=False).fit(np.full((3, 2), 4.0)).scale_ == 1.0


def test_standardizer_keeps_float32_and_checks_inputs(data):
    scaler = Standardizer().fit(data.astype(np.float32))
    assert scaler.transform(data.astype(np.float32)).dtype == np.float32
    with pytest.raises(ValueError, match="`x`.*shape"):
        scaler.transform(data[:, :2])
    with pytest.raises(RuntimeError, match="fit"):
        Standardizer().transform(data)
    with pytest.raises(ValueError, match="`x`.*finite"):
        Standardizer().fit(np.array([[1.0], [np.nan]]))
    with pytest.raises(TypeError, match="`per_feature`"):
        Standardizer(per_feature="yes")


def test_standardize_uses_training_statistics_only(data):
    x_train, x_test = data[:150], data[150:] * 10 + 50  # a very different test distribution
    train_scaled, test_scaled = standardize(x_train, x_test)
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    np.testing.assert_allclose(train_scaled, (x_train - mean) / std)
    np.testing.assert_allclose(test_scaled, (x_test - mean) / std)
    assert np.abs(test_scaled.mean(axis=0)).min() > 1  # would be ~0 if the test set leaked into the fit
    # The train output does not depend on the other arrays at all.
    np.testing.assert_array_equal(standardize(x_train, x_test * 3)[0], train_scaled)
    assert isinstance(standardize(x_train), tuple) and len(standardize(x_train)) == 1
    with pytest.raises(ValueError, match=r"`others\[0\]`"):
        standardize(x_train, x_test[:, :1])


# -- shuffle -------------------------------------------------------------------------------------------
def test_shuffle_applies_one_permutation_to_all_arrays():
    x = np.arange(50).reshape(25, 2)
    y = np.arange(25) * 10
    xs, ys = shuffle(x, y, seed=3)
    assert not np.array_equal(xs, x)
    np.testing.assert_array_equal(np.sort(ys), y)  # a permutation of the rows
    np.testing.assert_array_equal(xs[:, 0] * 5, ys)  # rows still aligned
    xs2, ys2 = shuffle(x, y, seed=3)
    assert np.array_equal(xs, xs2) and np.array_equal(ys, ys2)
    assert not np.array_equal(shuffle(x, seed=4), xs)
    assert isinstance(shuffle(x, seed=3), np.ndarray)


def test_shuffle_checks_lengths_and_seed():
    with pytest.raises(ValueError, match=r"`arrays\[1\]`.*3 rows.*Received: 2 rows"):
        shuffle(np.zeros(3), np.zeros(2))
    with pytest.raises(TypeError, match="`seed`"):
        shuffle(np.zeros(3), seed=1.5)
    with pytest.raises(TypeError, match="at least one array"):
        shuffle()


# -- train_test_split ---------------------------------------------------------------------------------
def test_split_sizes_order_and_alignment():
    x = np.arange(40).reshape(20, 2)
    y = np.arange(20)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.33, seed=0)
    assert len(x_test) == len(y_test) == 7 and len(x_train) == 13  # ceil(0.33 * 20) = 7
    np.testing.assert_array_equal(x_train[:, 0], y_train * 2)
    np.testing.assert_array_equal(x_test[:, 0], y_test * 2)
    assert sorted(np.concatenate([y_train, y_test]).tolist()) == list(range(20))  # disjoint and complete
    assert len(train_test_split(x, test_size=5, seed=0)[1]) == 5
    again = train_test_split(x, y, test_size=0.33, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(again, (x_train, x_test, y_train, y_test), strict=True))


def test_stratified_split_keeps_class_proportions():
    y = np.repeat([0, 1, 2], [60, 30, 10])
    x = np.arange(100)
    for seed in range(5):
        x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, seed=seed, stratify=y)
        assert np.bincount(y_test).tolist() == [12, 6, 2]
        assert np.bincount(y_train).tolist() == [48, 24, 8]
        np.testing.assert_array_equal(y[x_test], y_test)
    # Uneven quotas: each class within one sample of its exact share, total exact.
    y = np.repeat([0, 1, 2, 3], [37, 23, 29, 11])
    _, y_test = train_test_split(y, test_size=0.3, seed=1, stratify=y)
    assert len(y_test) == 30
    assert np.all(np.abs(np.bincount(y_test) - np.array([37, 23, 29, 11]) * 0.3) < 1)


def test_stratified_split_is_not_just_the_first_rows():
    y = np.repeat([0, 1], 50)
    _, test_a = train_test_split(np.arange(100), test_size=0.2, seed=0, stratify=y)
    _, test_b = train_test_split(np.arange(100), test_size=0.2, seed=1, stratify=y)
    assert set(test_a.tolist()) != set(test_b.tolist())


def test_split_argument_errors():
    x = np.arange(10)
    for bad in (0.0, 1.0, 0, 10, -1):
        with pytest.raises(ValueError, match="`test_size`"):
            train_test_split(x, test_size=bad)
    with pytest.raises(TypeError, match="`test_size`"):
        train_test_split(x, test_size="half")
    with pytest.raises(ValueError, match="`stratify`"):
        train_test_split(x, stratify=np.arange(9))
    with pytest.raises(ValueError, match="`stratify`.*at least 2"):
        train_test_split(x, stratify=np.array([0] * 9 + [1]))


# -- one_hot -------------------------------------------------------------------------------------------
def test_one_hot_values_shapes_and_dtype():
    encoded = one_hot([2, 0, 1, 2])
    assert encoded.dtype == np.float32 and encoded.shape == (4, 3)
    np.testing.assert_array_equal(encoded, np.eye(3)[[2, 0, 1, 2]])
    assert one_hot(np.array([[1], [0]]), num_classes=4, dtype=np.int64).tolist() == [[0, 1, 0, 0], [1, 0, 0, 0]]
    assert one_hot(np.array([1.0, 0.0])).tolist() == [[0, 1], [1, 0]]  # integral floats are fine
    assert one_hot([], num_classes=3).shape == (0, 3)


def test_one_hot_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"`y`.*0\.\.2.*num_classes=3.*label 3"):
        one_hot([0, 3], num_classes=3)
    with pytest.raises(ValueError, match="`y`.*>= 0.*-1"):
        one_hot([0, -1])
    with pytest.raises(ValueError, match="`y`.*whole numbers"):
        one_hot([0.5, 1.0])
    with pytest.raises(TypeError, match="`y`"):
        one_hot(["cat", "dog"])
    with pytest.raises(ValueError, match="`y`.*shape"):
        one_hot(np.zeros((3, 2), dtype=int))
    with pytest.raises(ValueError, match="`num_classes`"):
        one_hot([0, 1], num_classes=0)
    with pytest.raises(ValueError, match="`num_classes`"):
        one_hot([])


# -- batches -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shuffled", [False, True])
def test_batches_cover_every_row_exactly_once(shuffled):
    x = np.arange(23 * 2).reshape(23, 2)
    y = np.arange(23)
    seen, sizes = [], []
    for xb, yb in batches(x, y, batch_size=5, shuffle=shuffled, seed=0):
        np.testing.assert_array_equal(xb[:, 0], yb * 2)  # x and y stay aligned
        seen += yb.tolist()
        sizes.append(len(xb))
    assert sizes == [5, 5, 5, 5, 3]
    assert sorted(seen) == list(range(23))
    assert (seen != list(range(23))) == shuffled


def test_batches_full_batch_without_y_and_determinism():
    x = np.arange(7.0)
    (only,) = list(batches(x, batch_size=None))
    assert only[1] is None and np.array_equal(only[0], x)
    first = [xb.tolist() for xb, _ in batches(x, batch_size=3, shuffle=True, seed=5)]
    second = [xb.tolist() for xb, _ in batches(x, batch_size=3, shuffle=True, seed=5)]
    assert first == second


def test_batches_checks_arguments_before_iterating():
    with pytest.raises(ValueError, match="`batch_size`"):
        batches(np.zeros(4), batch_size=0)  # raised by the call itself, not by next()
    with pytest.raises(ValueError, match="`y`.*4 rows"):
        batches(np.zeros(4), np.zeros(3))
    with pytest.raises(TypeError, match="`shuffle`"):
        batches(np.zeros(4), shuffle=1)
