"""Issue 16: sparse input rows, ml.LBFGS, and the estimators' scikit-learn contract (dtype, lbfgs, coefs_,
multi-label files, errors). Oracles: the dense computation, scipy, scikit-learn's own MLP."""
import warnings

import numpy as np
import pytest

scipy_sparse = pytest.importorskip("scipy.sparse")
pytest.importorskip("sklearn")

import mlplab as ml  # noqa: E402
from mlplab.estimators import MLPClassifier, MLPRegressor  # noqa: E402

SPARSE_KINDS = ["csr_matrix", "csr_array", "csc_matrix", "csc_array"]


def sparse_data(seed=0, n=120, d=12):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * (rng.random((n, d)) < 0.25)
    y = (x[:, 0] - x[:, 1] + 0.5 * x[:, 2] > 0).astype(int)
    return x, y


def small_model(dtype="float64", first=None):
    layers = [first or ml.Dense(6, "tanh"), ml.Dense(1, "sigmoid")]
    return ml.Sequential(layers, seed=3, dtype=dtype)


# -- sparse rows in the core ------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", SPARSE_KINDS)
def test_sparse_fit_predict_evaluate_equal_the_dense_computation(kind):
    x, y = sparse_data()
    xs = getattr(scipy_sparse, kind)(x)
    runs = []
    for data in (x, xs):
        model = small_model()
        model.compile(ml.SGD(0.1, momentum=0.9), "binary_crossentropy", metrics=["accuracy"])
        history = model.fit(data, y, epochs=4, batch_size=16, shuffle=True, verbose=0, validation_split=0.2)
        runs.append((model.get_weights(), model.predict(data), model.evaluate(data, y), history.history))
    (w_dense, p_dense, e_dense, h_dense), (w_sparse, p_sparse, e_sparse, h_sparse) = runs
    for a, b in zip(w_dense, w_sparse):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(p_sparse, p_dense, rtol=1e-10, atol=1e-12)
    assert e_sparse == pytest.approx(e_dense, rel=1e-10)
    np.testing.assert_allclose(h_sparse["val_loss"], h_dense["val_loss"], rtol=1e-10)


def test_sparse_weight_gradient_is_x_transpose_dz():
    x, _ = sparse_data(1, n=20, d=7)
    dense, sparse = ml.Dense(5, "relu"), ml.Dense(5, "relu")
    for layer in (dense, sparse):
        layer.build((7,), np.random.default_rng(0), np.float64)
    grad = np.random.default_rng(2).normal(size=(20, 5))
    dense.forward(x, training=True)
    dense.backward(grad)
    rows = ml.checks.as_array("x", scipy_sparse.csr_matrix(x), np.float64)
    np.testing.assert_allclose(sparse.forward(rows, training=True), dense.forward(x))
    sparse.backward(grad)
    np.testing.assert_allclose(sparse.grads["weight"], dense.grads["weight"], rtol=1e-12)
    np.testing.assert_allclose(sparse.grads["bias"], dense.grads["bias"], rtol=1e-12)


def test_sparse_input_is_never_densified_and_is_checked():
    x, y = sparse_data()
    rows = ml.checks.as_array("x", scipy_sparse.csr_matrix(x), np.float32)
    with pytest.raises(TypeError, match="never densified"):
        np.asarray(rows)  # the whole training loop above ran without this
    bad = scipy_sparse.csr_matrix(x)
    bad.data[3] = np.nan
    model = small_model()
    model.compile("adam", "binary_crossentropy")
    with pytest.raises(ValueError, match="NaN/inf"):
        model.fit(bad, y, verbose=0)
    dropout_first = ml.Sequential([ml.Dropout(0.1), ml.Dense(1, "sigmoid")], seed=0)
    dropout_first.compile("adam", "binary_crossentropy")
    with pytest.raises(ValueError, match="first ml.Dense"):
        dropout_first.fit(scipy_sparse.csr_matrix(x), y, verbose=0)


# -- ml.LBFGS ------------------------------------------------------------------------------------------------
def regression_data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(80, 3))
    return x, np.sin(x[:, :1]) + 0.5 * x[:, 1:2] ** 2


def test_lbfgs_loss_and_gradient_match_finite_differences():
    from mlplab.engine.buffers import engine_for

    x, y = regression_data()
    model = ml.Sequential([ml.Dense(4, "tanh", kernel_regularizer=ml.L2(0.01)), ml.Dense(1)], seed=0, dtype="float64")
    model.compile(ml.LBFGS(), "mse")
    model.fit(x, y, epochs=2, verbose=0)
    engine = engine_for(model)
    theta = engine.values.copy()
    loss, grad = engine.loss_and_gradient(x, y)
    grad = grad.copy()
    assert loss == pytest.approx(model.evaluate(x, y)["loss"], rel=1e-12)
    numeric = np.empty_like(theta)
    for i in range(theta.size):
        step = np.zeros_like(theta)
        step[i] = 1e-6
        engine.values[...] = theta + step
        up = engine.loss_and_gradient(x, y)[0]
        engine.values[...] = theta - step
        numeric[i] = (up - engine.loss_and_gradient(x, y)[0]) / 2e-6
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)


def test_lbfgs_fit_is_scipys_minimize_on_the_loss():
    from scipy.optimize import minimize

    x, y = regression_data()
    model = ml.Sequential([ml.Dense(5, "tanh"), ml.Dense(1)], seed=0, dtype="float64")
    model.compile(ml.LBFGS(tol=1e-6), "mse")
    model.build((3,))
    start = model.get_weights()
    shapes = [w.shape for w in start]

    def loss(theta):  # the same network written out by hand, its gradient by scipy's finite differences
        parts, at = [], 0
        for shape in shapes:
            parts.append(theta[at:at + int(np.prod(shape))].reshape(shape))
            at += int(np.prod(shape))
        w1, b1, w2, b2 = parts
        return float(np.mean((np.tanh(x @ w1 + b1) @ w2 + b2 - y) ** 2))

    theta0 = np.concatenate([w.ravel() for w in start])
    expected = minimize(loss, theta0, method="L-BFGS-B", options={"maxiter": 30, "gtol": 1e-6})
    history = model.fit(x, y, epochs=30, verbose=0)
    assert len(history.history["loss"]) == history.optimizer_result["nit"] <= 30
    assert history.optimizer_result["fun"] == pytest.approx(expected.fun, rel=1e-3)
    assert model.evaluate(x, y)["loss"] == pytest.approx(history.optimizer_result["fun"], rel=1e-12)


def test_lbfgs_stops_by_callbacks_and_refuses_single_steps():
    x, y = regression_data()
    model = ml.Sequential([ml.Dense(5, "tanh"), ml.Dense(1)], seed=0, dtype="float64")
    model.compile(ml.LBFGS(), "mse")
    stop = ml.LambdaCallback(on_epoch_end=lambda epoch, logs: setattr(model, "stop_training", epoch == 2))
    history = model.fit(x, y, epochs=100, verbose=0, callbacks=[stop])
    assert len(history.history["loss"]) == 3
    with pytest.raises(ValueError, match="whole data set"):
        ml.train_step(model, x, y)
    with pytest.raises(ValueError, match="max_fun"):
        ml.LBFGS(max_fun=0)


# -- the estimators ------------------------------------------------------------------------------------------
def test_lbfgs_estimator_takes_scikit_learns_steps():
    from sklearn.neural_network import MLPRegressor as SkRegressor

    x, y = regression_data(1)
    y = y.ravel()
    settings = dict(hidden_layer_sizes=(6,), activation="tanh", solver="lbfgs", alpha=1e-3, max_iter=1,
                    warm_start=True, random_state=0, tol=1e-8)
    ours, theirs = MLPRegressor(**settings), SkRegressor(**settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours.fit(x, y)
        theirs.fit(x, y)
        theirs.coefs_ = [w.copy() for w in ours.coefs_]
        theirs.intercepts_ = [b.copy() for b in ours.intercepts_]
        for est in (ours, theirs):
            est.set_params(max_iter=40)
            est.fit(x, y)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-6)
    np.testing.assert_allclose(ours.predict(x), theirs.predict(x), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("kind", ["csr_matrix", "csc_array"])
def test_estimators_fit_sparse_as_dense(kind):
    x, y = sparse_data(2)
    xs = getattr(scipy_sparse, kind)(x)
    for solver in ("sgd", "lbfgs"):
        settings = dict(hidden_layer_sizes=(5,), solver=solver, max_iter=15, batch_size=20, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dense, sparse = MLPClassifier(**settings).fit(x, y), MLPClassifier(**settings).fit(xs, y)
        np.testing.assert_allclose(sparse.predict_proba(xs), dense.predict_proba(x), rtol=1e-8, atol=1e-12)
        assert sparse.predict_proba(xs).dtype == np.float64
    regressor = MLPRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        regressor.partial_fit(xs, y.astype(float))
    assert regressor.predict(xs).shape == (len(y),)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_follows_the_input_unless_given(dtype):
    x, y = regression_data(2)
    x = x.astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg = MLPRegressor(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(x, y.ravel())
        forced = MLPRegressor(hidden_layer_sizes=(4,), max_iter=5, random_state=0, dtype="float32").fit(x, y.ravel())
        ints = MLPRegressor(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(x.astype(int), y.ravel())
    assert reg.model_.dtype == dtype and reg.predict(x).dtype == dtype
    assert all(w.dtype == dtype for w in reg.coefs_ + reg.intercepts_)
    assert forced.model_.dtype == np.float32 and forced.predict(x).dtype == np.float32
    assert ints.model_.dtype == np.float64  # everything but float32 computes in float64
    with pytest.raises(ValueError, match="dtype"):
        MLPRegressor(dtype="int8").fit(x, y.ravel())


def test_coefs_and_intercepts_are_the_models_arrays():
    x, y = sparse_data(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(x, y)
    assert clf.coefs_[0] is clf.model_.layers[0].params["weight"]
    clf.coefs_[1][...] = 0.0  # in place
    clf.intercepts_[1] = np.array([2.0])  # item assignment writes through
    np.testing.assert_allclose(clf.predict_proba(x)[:, 1], 1 / (1 + np.exp(-2.0)))
    clf.coefs_ = [np.ones_like(w) for w in clf.coefs_]  # whole assignment too
    assert np.all(clf.model_.get_weights()[0] == 1.0)
    with pytest.raises(ValueError, match="coefs_"):
        clf.coefs_ = [np.ones((2, 2)), np.ones((4, 1))]
    assert np.all(clf.model_.get_weights()[0] == 1.0)  # nothing copied on error


def test_initialisation_draws_intercepts_like_scikit_learn():
    x, y = sparse_data(4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MLPClassifier(hidden_layer_sizes=(30,), max_iter=1, learning_rate_init=1e-12, random_state=0).fit(x, y)
    bound = np.sqrt(6 / (12 + 30))
    assert 0.5 * bound < np.abs(clf.intercepts_[0]).max() <= bound
    assert np.abs(clf.coefs_[0]).max() <= bound


def test_partial_fit_hidden_for_lbfgs_and_classes_checked():
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    assert not hasattr(MLPRegressor(solver="lbfgs"), "partial_fit")
    clf = MLPClassifier(solver="sgd").partial_fit([[1.0, 2.0]], [0], classes=[0, 1])
    with pytest.raises(ValueError, match="not the same as on last call"):
        clf.partial_fit([[1.0, 2.0]], [0], classes=[0, 2])
    clf.partial_fit([[1.0, 2.0]], [1], classes=[1, 0])  # the same classes, in any order


def test_multilabel_partial_fit_and_model_file_round_trip(tmp_path):
    from sklearn.datasets import make_multilabel_classification

    x, y = make_multilabel_classification(n_samples=60, n_classes=4, random_state=0)
    clf = MLPClassifier(hidden_layer_sizes=(10,), random_state=0, learning_rate_init=0.01)
    for _ in range(5):
        clf.partial_fit(x, y, classes=[0, 1, 2, 3])
    proba = clf.predict_proba(x)
    assert proba.shape == (60, 4) and clf.predict(x).shape == (60, 4)
    path = tmp_path / "multilabel.safetensors"
    clf.save(path)
    loaded = MLPClassifier.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(x), proba)
    np.testing.assert_array_equal(loaded.predict(x), clf.predict(x))
    assert loaded.score(x, y) == clf.score(x, y)


def test_multioutput_regression_partial_fit_and_file(tmp_path):
    from sklearn.datasets import make_regression

    x, y = make_regression(n_samples=50, n_features=4, n_targets=3, random_state=0)
    reg = MLPRegressor(hidden_layer_sizes=(8,), random_state=0)
    for _ in range(3):
        reg.partial_fit(x, y)
    path = tmp_path / "multioutput.safetensors"
    reg.save(path)
    np.testing.assert_array_equal(MLPRegressor.load(path).predict(x), reg.predict(x))
    assert reg.predict(x).shape == (50, 3)


def test_non_finite_weights_raise_as_scikit_learn_and_leave_the_estimator_as_it_was():
    x, y = regression_data(3)
    reg = MLPRegressor(hidden_layer_sizes=(4,), max_iter=3, warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.fit(x, y.ravel())
        before = [w.copy() for w in reg.model_.get_weights()]
        with pytest.raises(ValueError, match="Solver produced non-finite parameter weights"):
            reg.fit(x * 1e300, y.ravel())
    for a, b in zip(before, reg.model_.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert reg.n_iter_ == 3


def test_n_iter_no_change_inf_and_poisson_loss():
    x, y = regression_data(4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg = MLPRegressor(hidden_layer_sizes=(3,), max_iter=30, tol=1e9, n_iter_no_change=np.inf).fit(x, y.ravel())
    assert reg.n_iter_ == 30
    counts = np.random.default_rng(0).poisson(np.exp(0.5 * x[:, 0]))
    poisson = MLPRegressor(loss="poisson", hidden_layer_sizes=(4,), solver="lbfgs", random_state=0).fit(x, counts)
    assert np.all(poisson.predict(x) > 0) and poisson.out_activation_ == "exp"
    with pytest.raises(ValueError, match="≥ 0"):
        MLPRegressor(loss="poisson").fit(x, -counts - 1)
    with pytest.raises((TypeError, ValueError), match="n_iter_no_change"):
        MLPRegressor(n_iter_no_change=0.5).fit(x, y.ravel())


def test_the_cli_reader_keeps_a_sparse_npz_sparse(tmp_path):
    from mlplab.datasets import tables

    x, y = sparse_data(5)
    matrix = scipy_sparse.csr_matrix(x)
    path = tmp_path / "sparse.npz"
    np.savez(path, x_data=matrix.data, x_indices=matrix.indices, x_indptr=matrix.indptr,
             x_shape=np.array(matrix.shape), y=y)
    table = tables.read_table(path)
    features = tables.features(table, [n for n in table.names if n != "y"])
    assert scipy_sparse.issparse(features) and len(table) == len(y) and table.target_hint == "y"
    np.testing.assert_array_equal(features.toarray(), x)
    scipy_sparse.save_npz(tmp_path / "saved.npz", matrix.tocsc())
    table = tables.read_table(tmp_path / "saved.npz")
    np.testing.assert_array_equal(tables.features(table, ["x2", "x0"]).toarray(), x[:, [2, 0]])
    bad = tmp_path / "bad.npz"
    np.savez(bad, x_data=matrix.data, x_indices=matrix.indices + 100, x_indptr=matrix.indptr,
             x_shape=np.array(matrix.shape))
    with pytest.raises(ValueError, match="not a valid sparse matrix"):
        tables.read_table(bad)


def test_the_cli_reads_a_sparse_npz_kept_sparse_and_sends_training_to_python(tmp_path, capsys):
    """The reader keeps x as CSR; `mlplab train` encodes dense columns, so it refuses with the way forward."""
    from mlplab.cli import main
    from mlplab.datasets import tables

    x, y = sparse_data(6)
    matrix = scipy_sparse.csr_matrix(x)
    data = tmp_path / "sparse.npz"
    np.savez(data, x_data=matrix.data, x_indices=matrix.indices, x_indptr=matrix.indptr,
             x_shape=np.array(matrix.shape), y=y)
    table = tables.read_table(data)
    assert table.sparse is not None and table.sparse.nnz == matrix.nnz and len(table) == matrix.shape[0]
    assert main(["train", str(data), "--out", str(tmp_path / "m.safetensors"), "--epochs", "2"]) == 2
    assert "from Python" in capsys.readouterr().err
    assert not (tmp_path / "m.safetensors").exists()