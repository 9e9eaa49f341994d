"""Metrics against scikit-learn: accuracy (binary / categorical / sparse chosen from shapes), mse, mae, r2,
including r2 streamed over several batches."""
import numpy as np
import pytest

import mlplab as ml


@pytest.fixture
def sklearn_metrics():
    from sklearn import metrics  # a dev dependency: imported here so that mlplab itself never needs it
    return metrics


def test_binary_accuracy_thresholds_a_single_output_column(rng, sklearn_metrics):
    y = rng.integers(0, 2, 50)
    p = rng.uniform(size=(50, 1))
    expected = sklearn_metrics.accuracy_score(y, (p[:, 0] > 0.5).astype(int))
    assert ml.accuracy(y, p) == pytest.approx(expected)
    assert ml.accuracy(y.reshape(-1, 1).astype(float), p) == pytest.approx(expected)
    assert ml.accuracy(y, p[:, 0]) == pytest.approx(expected)  # a flat prediction vector is one column too
    # another threshold, e.g. 0 for logits
    z = rng.normal(size=(50, 1))
    assert ml.accuracy(y, z, threshold=0.0) == pytest.approx(sklearn_metrics.accuracy_score(y, z[:, 0] > 0))


def test_categorical_accuracy_compares_argmaxes_of_one_hot_targets(rng, sklearn_metrics):
    labels = rng.integers(0, 4, 60)
    p = rng.dirichlet(np.ones(4), size=60)
    expected = sklearn_metrics.accuracy_score(labels, p.argmax(axis=1))
    assert ml.accuracy(np.eye(4)[labels], p) == pytest.approx(expected)


def test_sparse_accuracy_compares_integer_labels_with_the_argmax(rng, sklearn_metrics):
    labels = rng.integers(0, 4, 60)
    p = rng.dirichlet(np.ones(4), size=60)
    expected = sklearn_metrics.accuracy_score(labels, p.argmax(axis=1))
    assert 0 < expected < 1
    assert ml.accuracy(labels, p) == pytest.approx(expected)
    assert ml.accuracy(labels.reshape(-1, 1), p) == pytest.approx(expected)


@pytest.mark.parametrize("shape", [(40,), (40, 1), (40, 3)])
def test_mse_and_mae_match_scikit_learn(shape, rng, sklearn_metrics):
    y, p = rng.normal(size=shape), rng.normal(size=shape)
    assert ml.METRICS.create("mse")(y, p) == pytest.approx(sklearn_metrics.mean_squared_error(y, p), rel=1e-12)
    assert ml.METRICS.create("mae")(y, p) == pytest.approx(sklearn_metrics.mean_absolute_error(y, p), rel=1e-12)


@pytest.mark.parametrize("shape", [(40,), (40, 1), (40, 3)])
def test_r2_matches_scikit_learn(shape, rng, sklearn_metrics):
    y = rng.normal(loc=5.0, size=shape)
    p = y + 0.5 * rng.normal(size=shape)
    assert ml.r2_score(y, p) == pytest.approx(sklearn_metrics.r2_score(y, p), rel=1e-10)
    bad = rng.normal(size=shape)  # worse than predicting the mean: negative R²
    assert ml.r2_score(y, bad) == pytest.approx(sklearn_metrics.r2_score(y, bad), rel=1e-10)
    assert ml.r2_score(y, bad) < 0


def test_r2_accumulated_over_batches_equals_one_shot_r2(rng, sklearn_metrics):
    y = rng.normal(loc=100.0, scale=2.0, size=(103, 2))
    p = y + rng.normal(size=(103, 2))
    metric = ml.R2Score()
    for start in range(0, 103, 10):  # uneven last batch
        metric.update(y[start:start + 10], p[start:start + 10])
    one_shot = ml.r2_score(y, p)
    assert metric.result() == pytest.approx(one_shot, rel=1e-9)
    assert one_shot == pytest.approx(sklearn_metrics.r2_score(y, p), rel=1e-9)
    metric.reset()
    assert np.isnan(metric.result())


def test_r2_of_a_constant_target_follows_scikit_learn(sklearn_metrics):
    y = np.full(5, 3.0)
    assert ml.r2_score(y, y) == sklearn_metrics.r2_score(y, y) == 1.0
    assert ml.r2_score(y, y + 1) == sklearn_metrics.r2_score(y, y + 1) == 0.0


def test_streamed_accuracy_equals_one_shot_accuracy(rng):
    labels = rng.integers(0, 3, 55)
    p = rng.dirichlet(np.ones(3), size=55)
    metric = ml.Accuracy()
    for start in range(0, 55, 8):
        metric.update(labels[start:start + 8], p[start:start + 8])
    assert metric.result() == pytest.approx(ml.accuracy(labels, p))


def test_model_metrics_match_scikit_learn_on_its_predictions(sklearn_metrics):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + 0.3 * rng.normal(size=80)
    model = ml.Sequential([ml.Dense(8, "tanh", input_dim=3), ml.Dense(1)], seed=0, dtype="float64")
    model.compile(ml.Adam(0.05), "mse", metrics=["mse", "mae", "r2"])
    history = model.fit(x, y, epochs=5, batch_size=16, verbose=0)
    assert {"mse", "mae", "r2"} <= set(history.history)
    result = model.evaluate(x, y, batch_size=16)  # streamed over batches
    p = model.predict(x)[:, 0]
    assert result["mse"] == pytest.approx(sklearn_metrics.mean_squared_error(y, p), rel=1e-10)
    assert result["loss"] == pytest.approx(result["mse"], rel=1e-10)
    assert result["mae"] == pytest.approx(sklearn_metrics.mean_absolute_error(y, p), rel=1e-10)
    assert result["r2"] == pytest.approx(sklearn_metrics.r2_score(y, p), rel=1e-10)


def test_accuracy_of_a_from_logits_model_thresholds_logits_at_zero(sklearn_metrics):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 2))
    y = (x[:, 0] + 0.5 * rng.normal(size=60) > 0).astype(float)
    model = ml.Sequential([ml.Dense(1, input_dim=2)], seed=0)  # linear output: logits
    model.compile(ml.SGD(0.5), ml.BinaryCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(x, y, epochs=3, verbose=0)
    logits = model.predict(x)[:, 0]
    assert (logits < 0).any() and (logits > 0).any()
    expected = sklearn_metrics.accuracy_score(y, (logits > 0).astype(float))
    assert model.evaluate(x, y)["accuracy"] == pytest.approx(expected)


def test_unknown_metric_lists_the_valid_names():
    with pytest.raises(ValueError, match="accuracy.*mae|mae.*accuracy") as info:
        ml.Sequential([ml.Dense(1, input_dim=1)]).compile("sgd", "mse", metrics=["f1"])
    assert "`metrics`" in str(info.value) and "'f1'" in str(info.value)
