"""mlplab's scikit-learn estimators: scikit-learn's own estimator checks, its tools, and the weights."""
import pickle

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from mlplab.estimators import MLPClassifier, MLPRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # short fits on purpose


# Small networks and few epochs keep the ~50 checks per estimator fast on 2 cores. No expected failures:
# the dtype follows the input (float64 stays float64), so even the sample-weight equivalence check passes.
@parametrize_with_checks([MLPClassifier(hidden_layer_sizes=(8,), max_iter=100, learning_rate_init=0.01),
                          MLPRegressor(hidden_layer_sizes=(8,), max_iter=100, learning_rate_init=0.01),
                          MLPClassifier(hidden_layer_sizes=(8,), max_iter=100, solver="lbfgs"),
                          MLPRegressor(hidden_layer_sizes=(8,), max_iter=100, solver="lbfgs")])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


# -- the same steps as scikit-learn's MLP -----------------------------------------------------------------
def same_start(ours, theirs, x, y):
    """Give scikit-learn's MLP our initial weights (its warm_start keeps the coefficients it finds) and
    reset both estimators' curves, so the next fit of each starts from the same point."""
    ours.fit(x, y)
    weights = ours.model_.get_weights()
    initial = [w.copy() for w in weights]
    theirs.fit(x, y)
    theirs.coefs_, theirs.intercepts_ = [w.copy() for w in initial[0::2]], [b.copy() for b in initial[1::2]]
    ours.model_.set_weights(initial)
    for est in (ours, theirs):
        est.loss_curve_, est.best_loss_, est._no_improvement_count = [], np.inf, 0


@pytest.mark.parametrize("ours, theirs", [(MLPClassifier, "MLPClassifier"), (MLPRegressor, "MLPRegressor")])
def test_every_scikit_learn_parameter_with_its_default(ours, theirs):
    import inspect

    import sklearn.neural_network

    expected = inspect.signature(getattr(sklearn.neural_network, theirs)).parameters
    ours_params = inspect.signature(ours).parameters
    assert [name for name in ours_params if name in expected] == list(expected)  # same names, same order
    assert all(ours_params[name].default == expected[name].default for name in expected)


@pytest.mark.parametrize("solver, schedule", [("sgd", "constant"), ("sgd", "invscaling"), ("sgd", "adaptive"),
                                              ("adam", "constant")])
def test_regressor_takes_scikit_learns_steps(solver, schedule):
    from sklearn.neural_network import MLPRegressor as SkRegressor

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4))
    y = x @ [1.0, -2.0, 0.5, 0.0] + 0.1 * rng.normal(size=60)
    settings = dict(hidden_layer_sizes=(5, 3), activation="tanh", solver=solver, alpha=1e-2, batch_size=60,
                    learning_rate=schedule, learning_rate_init=0.01, power_t=0.25, shuffle=False,
                    tol=1e-2 if schedule == "adaptive" else 1e-3, n_iter_no_change=3, warm_start=True, max_iter=1,
                    random_state=0)
    ours, theirs = MLPRegressor(**settings, dtype="float64"), SkRegressor(**settings)
    same_start(ours, theirs, x, y)
    for est in (ours, theirs):
        est.set_params(max_iter=300)
        est.fit(x, y)
    # Adam: mlplab adds ε to √v̂ (PyTorch's form), scikit-learn to √v, which differs by ~1e-6 here
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-6 if solver == "sgd" else 1e-4)
    assert ours.n_iter_ == theirs.n_iter_ < 300  # the same stopping rule ended both
    if schedule != "constant":  # the schedule changed the rate (the core's SGD rate is half: MSE has no ½)
        assert 2 * ours.model_.optimizer.learning_rate == pytest.approx(theirs._optimizer.learning_rate)
        assert theirs._optimizer.learning_rate < 0.01
    np.testing.assert_allclose(ours.predict(x), theirs.predict(x), rtol=1e-6 if solver == "sgd" else 1e-3, atol=1e-8)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_classifier_takes_scikit_learns_steps(n_classes):
    from sklearn.neural_network import MLPClassifier as SkClassifier

    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 3))
    y = np.array(["ant", "bee", "cat"])[(x[:, 0] > 0).astype(int) + (n_classes == 3) * (x[:, 1] > 0.5)]
    settings = dict(hidden_layer_sizes=(6,), activation="logistic", alpha=1e-3, batch_size=50,
                    learning_rate_init=0.05, shuffle=False, tol=1e-4, warm_start=True, max_iter=1, random_state=0)
    ours, theirs = MLPClassifier(**settings, dtype="float64"), SkClassifier(**settings)
    same_start(ours, theirs, x, y)
    for est in (ours, theirs):
        est.set_params(max_iter=40)
        est.fit(x, y)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-4)  # Adam's ε, as above
    np.testing.assert_allclose(ours.predict_proba(x), theirs.predict_proba(x), rtol=2e-3, atol=1e-9)
    assert list(ours.classes_) == list(theirs.classes_)


# -- stopping, early stopping and the fitted attributes ------------------------------------------------------
def blobs(n=200, seed=0):
    from sklearn.datasets import make_blobs

    x, y = make_blobs(n_samples=n, centers=3, cluster_std=1.0, random_state=seed)
    return StandardScaler().fit_transform(x), np.array(["red", "green", "blue"])[y]


def test_training_stops_by_scikit_learns_rule():
    x, y = blobs()
    clf = MLPClassifier(hidden_layer_sizes=(8,), learning_rate_init=0.01, tol=1e-3, n_iter_no_change=4,
                        max_iter=500, random_state=0).fit(x, y)
    curve = clf.loss_curve_
    assert len(curve) == clf.n_iter_ < 500
    count, best = 0, np.inf
    for epoch, loss in enumerate(curve, start=1):  # scikit-learn's rule, replayed on the curve
        count = count + 1 if loss > best - 1e-3 else 0
        best = min(best, loss)
        if count > 4:
            break
    assert epoch == clf.n_iter_ and clf.best_loss_ == min(curve)
    assert clf.validation_scores_ is None and clf.validation_loss_curve_ == []


@pytest.mark.parametrize("monitor", ["val_score", "val_loss"])
def test_early_stopping_restores_the_best_epoch(monitor):
    x, y = blobs(300)
    settings = dict(hidden_layer_sizes=(16,), learning_rate_init=0.05, early_stopping=True, n_iter_no_change=5,
                    monitor=monitor, max_iter=300, random_state=3)
    clf = MLPClassifier(**settings).fit(x, y)
    assert len(clf.validation_scores_) == len(clf.validation_loss_curve_) == clf.n_iter_ < 300
    values = clf.validation_scores_ if monitor == "val_score" else [-v for v in clf.validation_loss_curve_]
    best_epoch = int(np.argmax(values)) + 1
    assert clf.best_validation_score_ == clf.validation_scores_[best_epoch - 1]
    assert clf.best_validation_loss_ == clf.validation_loss_curve_[best_epoch - 1]
    # training is deterministic for a given random_state, so a fit that ends at the best epoch has its weights
    short = MLPClassifier(**{**settings, "max_iter": best_epoch}).fit(x, y)
    for ours, expected in zip(clf.coefs_ + clf.intercepts_, short.coefs_ + short.intercepts_):
        np.testing.assert_array_equal(ours, expected)


def test_fitted_attributes_and_string_labels():
    x, y = blobs()
    clf = MLPClassifier(hidden_layer_sizes=(7, 5), learning_rate_init=0.01, max_iter=30, random_state=0)
    clf.fit(x, y)
    assert list(clf.classes_) == ["blue", "green", "red"] and clf.n_features_in_ == 2
    assert [c.shape for c in clf.coefs_] == [(2, 7), (7, 5), (5, 3)]
    assert [b.shape for b in clf.intercepts_] == [(7,), (5,), (3,)]
    proba = clf.predict_proba(x)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_array_equal(clf.predict(x), clf.classes_[proba.argmax(axis=1)])
    np.testing.assert_allclose(clf.predict_log_proba(x), np.log(proba))
    assert clf.score(x, y) > 0.6 and len(clf.loss_curve_) == clf.n_iter_ == 30
    assert clf.model_.count_params() == sum(c.size for c in clf.coefs_) + sum(b.size for b in clf.intercepts_)


def test_architecture_options_build_the_network():
    import mlplab as ml

    x, y = blobs()
    clf = MLPClassifier(hidden_layer_sizes=(6, 4), activation=["tanh", "logistic"], dropout=[0.2, 0.0],
                        batch_normalization=True, solver="rmsprop", max_iter=5, random_state=0)
    clf.fit(x, y)
    kinds = [type(layer).__name__ for layer in clf.model_.layers]
    assert kinds == ["Dense", "BatchNormalization", "Activation", "Dropout", "Dense", "BatchNormalization",
                     "Activation", "Dense"]
    assert [type(clf.model_.layers[i].activation) for i in (2, 6)] == [ml.Tanh, ml.Sigmoid]
    assert isinstance(clf.model_.optimizer, ml.RMSprop)
    regressor = MLPRegressor(hidden_layer_sizes=3, loss="absolute_error", solver=ml.SGD(0.01), max_iter=3)
    regressor.fit(x, np.c_[x[:, 0], x[:, 1]])  # two outputs
    assert regressor.predict(x).shape == (len(x), 2)
    assert isinstance(regressor.model_.loss, ml.MeanAbsoluteError)


@pytest.mark.parametrize("params, argument", [
    ({"hidden_layer_sizes": (4, 0)}, "hidden_layer_sizes"), ({"activation": ["relu"] * 3}, "activation"),
    ({"activation": "swish"}, "activation"), ({"solver": "newton"}, "solver"), ({"batch_size": 0}, "batch_size"),
    ({"dropout": 1.0}, "dropout"), ({"monitor": "accuracy"}, "monitor"), ({"alpha": -1}, "alpha"),
])
def test_bad_parameters_are_named_at_fit(params, argument):
    x, y = blobs(30)
    clf = MLPClassifier(**params)  # __init__ only stores
    with pytest.raises(ValueError, match=argument):
        clf.fit(x, y)
    assert not hasattr(clf, "model_")


def test_partial_fit_learns_in_batches_and_needs_the_classes():
    x, y = blobs(300)
    clf = MLPClassifier(hidden_layer_sizes=(8,), learning_rate_init=0.01, random_state=0)
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(x[:10], y[:10])
    for epoch in range(30):
        for start in range(0, 300, 100):
            clf.partial_fit(x[start:start + 100], y[start:start + 100], classes=np.unique(y))
    assert len(clf.loss_curve_) == 90 and clf.n_iter_ == 1
    assert clf.score(x, y) > 0.8
    with pytest.raises(ValueError, match="not in `self.classes_`"):
        clf.partial_fit(x[:3], ["red", "green", "purple"])
    with pytest.raises(ValueError, match="early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(x, y, classes=np.unique(y))


def test_warm_start_continues_from_the_weights():
    x, y = blobs()
    clf = MLPClassifier(hidden_layer_sizes=(8,), warm_start=True, max_iter=5, random_state=0)
    clf.fit(x, y)
    first = clf.coefs_[0].copy()
    clf.fit(x, y)
    assert len(clf.loss_curve_) == 10 and not np.array_equal(first, clf.coefs_[0])
    with pytest.raises(ValueError, match="same classes"):
        clf.fit(x[y != "red"], y[y != "red"])


# -- scikit-learn's tools ------------------------------------------------------------------------------------
def test_pipeline_grid_search_and_cross_val_score():
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=300, learning_rate_init=0.01, random_state=0))
    scores = cross_val_score(pipe, x, labels, cv=3)
    assert scores.mean() > 0.85
    search = GridSearchCV(pipe, {"mlpclassifier__hidden_layer_sizes": [(2,), (16,)]}, cv=3).fit(x, labels)
    results = search.cv_results_
    best = int(np.argmax(results["mean_test_score"]))
    assert search.best_params_ == results["params"][best] and search.best_score_ > 0.85
    assert set(search.predict(x)) <= set(labels)
    assert clone(pipe).get_params()["mlpclassifier__max_iter"] == 300


def test_fitted_estimators_pickle_with_joblib(tmp_path):
    import joblib

    x, y = blobs()
    clf = MLPClassifier(hidden_layer_sizes=(8,), batch_normalization=True, max_iter=20, random_state=0)
    clf.fit(x, y)
    joblib.dump(clf, tmp_path / "clf.joblib")
    loaded = joblib.load(tmp_path / "clf.joblib")
    np.testing.assert_array_equal(loaded.predict_proba(x), clf.predict_proba(x))
    loaded.partial_fit(x, y)  # and it trains on
    assert pickle.loads(pickle.dumps(loaded)).n_iter_ == 1


# -- weights --------------------------------------------------------------------------------------------------
def test_integer_sample_weights_equal_repeated_rows():
    """Full batches and no shuffling: weight k is exactly k copies of the row (loss Σwᵢlᵢ/Σwᵢ and the L2
    term alpha/(2Σw) scale together, as in scikit-learn)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 3))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    weights = rng.integers(0, 4, size=30)
    settings = dict(hidden_layer_sizes=(5,), batch_size=500, shuffle=False, max_iter=50, alpha=1e-2,
                    learning_rate_init=0.01, random_state=0, dtype="float64")
    weighted = MLPClassifier(**settings).fit(x, y, sample_weight=weights)
    repeated = MLPClassifier(**settings).fit(np.repeat(x, weights, axis=0), np.repeat(y, weights))
    np.testing.assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=1e-6)
    np.testing.assert_allclose(weighted.predict_proba(x), repeated.predict_proba(x), rtol=1e-6, atol=1e-9)
    regressor = MLPRegressor(**settings).fit(x, x[:, 0], sample_weight=weights)
    regressor_repeated = MLPRegressor(**settings).fit(np.repeat(x, weights, axis=0), np.repeat(x[:, 0], weights))
    np.testing.assert_allclose(regressor.predict(x), regressor_repeated.predict(x), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("estimator", [MLPClassifier, MLPRegressor])
def test_sample_weight_equivalence_in_float64(estimator):
    from sklearn.utils.estimator_checks import check_sample_weight_equivalence_on_dense_data

    check_sample_weight_equivalence_on_dense_data(estimator.__name__, estimator(
        hidden_layer_sizes=(8,), max_iter=100, learning_rate_init=0.01, dtype="float64"))


def test_class_weight_multiplies_sample_weight():
    x, y = blobs(90)
    settings = dict(hidden_layer_sizes=(5,), max_iter=20, random_state=0)
    by_class = MLPClassifier(class_weight={"red": 3.0}, **settings).fit(x, y)
    by_sample = MLPClassifier(**settings).fit(x, y, sample_weight=np.where(y == "red", 3.0, 1.0))
    np.testing.assert_array_equal(by_class.predict_proba(x), by_sample.predict_proba(x))
    counts = {label: np.sum(y == label) for label in np.unique(y)}
    balanced = MLPClassifier(class_weight="balanced", **settings).fit(x, y)
    manual = MLPClassifier(**settings).fit(x, y, sample_weight=[len(y) / (3 * counts[v]) for v in y])
    np.testing.assert_allclose(balanced.predict_proba(x), manual.predict_proba(x), rtol=1e-6)
    with pytest.raises(ValueError, match="one class"):
        MLPClassifier().fit(x, y, sample_weight=(y == "red").astype(float))


def test_dataframe_columns_become_feature_names_in():
    pd = pytest.importorskip("pandas")
    x, y = blobs(60)
    frame = pd.DataFrame(x, columns=["width", "height"])
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(frame, y)
    assert list(clf.feature_names_in_) == ["width", "height"]
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(frame.rename(columns={"width": "depth"}))


def test_a_failed_fit_leaves_the_fitted_estimator_as_it_was():
    x, y = blobs(90)
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, warm_start=True, random_state=0).fit(x, y)
    before = (list(clf.classes_), [c.copy() for c in clf.coefs_], list(clf.loss_curve_))
    with pytest.raises(ValueError, match="one class"):
        clf.fit(x, y, sample_weight=(y == "red").astype(float))
    with pytest.raises(ValueError, match="balanced"):
        clf.set_params(class_weight="balanced").partial_fit(x, y)
    assert list(clf.classes_) == before[0] and clf.loss_curve_ == before[2]
    for now, then in zip(clf.coefs_, before[1]):
        np.testing.assert_array_equal(now, then)


def test_save_writes_an_mlplab_model_file_that_load_and_the_cli_read(tmp_path, capsys):
    import mlplab as ml

    x, y = blobs(120)
    clf = MLPClassifier(hidden_layer_sizes=(6, 5), max_iter=30, learning_rate_init=0.01, random_state=0).fit(x, y)
    path = tmp_path / "blobs.safetensors"
    clf.save(path)
    assert ml.load_model(path).preprocessing["class_labels"] == ["blue", "green", "red"]
    loaded = MLPClassifier.load(path)
    assert loaded.hidden_layer_sizes == (6, 5) and list(loaded.classes_) == ["blue", "green", "red"]
    np.testing.assert_array_equal(loaded.predict_proba(x), clf.predict_proba(x))
    assert loaded.score(x, y) == clf.score(x, y)
    loaded.partial_fit(x, y)  # the saved optimizer state continues
    assert loaded.model_.optimizer.iterations > clf.model_.optimizer.iterations

    data = tmp_path / "new.csv"
    data.write_text("x0,x1\n" + "\n".join(f"{a!r},{b!r}" for a, b in x[:5].tolist()) + "\n")
    assert ml.cli.main(["predict", str(path), str(data)]) == 0
    predicted = [line.split(",")[0] for line in capsys.readouterr().out.splitlines()[1:]]
    assert predicted == list(clf.predict(x[:5]))

    regressor = MLPRegressor(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(x, x[:, 0])
    regressor.save(tmp_path / "r.safetensors")
    np.testing.assert_array_equal(MLPRegressor.load(tmp_path / "r.safetensors").predict(x), regressor.predict(x))
    with pytest.raises(ValueError, match="regression model"):
        MLPClassifier.load(tmp_path / "r.safetensors")
