"""Tables larger than memory: Dask collections in predict (lazy, equal to in-memory), fit over chunks
(equal to in-memory fit given the same batches), the estimators on Dask, all on one machine."""
import numpy as np
import pytest

import mlplab as ml

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
pd = pytest.importorskip("pandas")


def _model(seed=0, dtype="float32"):
    model = ml.Sequential([ml.Dense(16, activation="relu", input_dim=6), ml.Dense(3, activation="softmax")],
                          seed=seed, dtype=dtype)
    model.compile(optimizer=ml.Adam(1e-2), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _data(n=480, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5)
    return x, y


def test_predict_on_a_dask_array_and_dataframe_is_lazy_and_equal_to_in_memory():
    model = _model()
    x, _ = _data()
    lazy = model.predict(da.from_array(x, chunks=(97, 4)))
    assert isinstance(lazy, da.Array) and lazy.shape == (480, 3)
    np.testing.assert_array_equal(lazy.compute(scheduler="sync"), model.predict(x))
    frame = dd.from_pandas(pd.DataFrame(x, columns=list("abcdef")), npartitions=4)
    out = model.predict(frame)
    assert isinstance(out, dd.DataFrame) and list(out.columns) == ["output_0", "output_1", "output_2"]
    np.testing.assert_array_equal(out.compute(scheduler="sync").to_numpy(), model.predict(x))


def test_the_model_is_one_key_of_the_graph_shipped_once():
    model = _model()
    lazy = model.predict(da.from_array(_data()[0], chunks=(60, 6)))
    graph = dict(lazy.__dask_graph__())
    shipped = [key for key, value in graph.items() if value is model or getattr(value, "value", None) is model]
    assert len(shipped) == 1 and lazy.npartitions == 8


def test_a_local_cluster_with_two_workers_predicts_what_memory_predicts(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    model = _model()
    x, _ = _data(2000)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None,
                                  local_directory=str(tmp_path)) as cluster, distributed.Client(cluster) as client:
        result = client.compute(model.predict(da.from_array(x, chunks=(300, 6)))).result()
        frame = dd.from_pandas(pd.DataFrame(x), npartitions=3)
        table = client.compute(model.predict(frame)).result()
    np.testing.assert_array_equal(result, model.predict(x))
    np.testing.assert_array_equal(table.to_numpy(), model.predict(x))


def test_predict_on_dask_refuses_an_unbuilt_model_and_a_wrong_width():
    unbuilt = ml.Sequential([ml.Dense(3)], seed=0)
    with pytest.raises(ValueError, match="built"):
        unbuilt.predict(da.zeros((10, 6), chunks=5))
    with pytest.raises(ValueError, match=r"\(n_samples, 6\)"):
        _model().predict(da.zeros((10, 5), chunks=5))


def test_chunked_fit_equals_in_memory_fit_given_the_same_batches():
    x, y = _data()
    memory, chunked, on_dask = _model(), _model(), _model()
    memory.fit(x, y, epochs=3, batch_size=32, shuffle=False, verbose=0)
    chunks = [(x[i:i + 96], y[i:i + 96]) for i in range(0, len(x), 96)]  # 96 = 3 batches of 32
    history = chunked.fit(chunks, epochs=3, batch_size=32, shuffle=False, verbose=0)
    on_dask.fit(da.from_array(x, chunks=(96, 6)), da.from_array(y, chunks=96), epochs=3, batch_size=32,
                shuffle=False, verbose=0)
    for a, b, c in zip(memory.get_weights(), chunked.get_weights(), on_dask.get_weights()):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    assert len(history.history["loss"]) == 3 and history.history["loss"][-1] < history.history["loss"][0]


def test_shuffled_chunked_fit_is_seeded_and_learns():
    x, y = _data(1200)
    runs = []
    for _ in range(2):
        model = _model(seed=3)
        history = model.fit(da.from_array(x, chunks=(300, 6)), da.from_array(y, chunks=300), epochs=4,
                            batch_size=32, verbose=0, validation_data=(x[:200], y[:200]))
        runs.append(model.get_weights())
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)
    assert history.history["val_accuracy"][-1] > 0.8


def test_a_generator_of_chunks_trains_one_epoch_and_refuses_more():
    x, y = _data()
    model = _model()
    model.fit(((x[i:i + 120], y[i:i + 120]) for i in range(0, 480, 120)), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="epochs"):
        model.fit(iter([(x, y)]), epochs=2, verbose=0)
    with pytest.raises(ValueError, match="callbacks"):
        model.fit([(x, y)], callbacks=[ml.History()], verbose=0)


def test_estimators_predict_lazily_on_dask():
    pytest.importorskip("sklearn")
    from mlplab.estimators import MLPClassifier, MLPRegressor
    x, y = _data()
    x = x.astype(np.float64)
    classifier = MLPClassifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0).fit(x, y)
    regressor = MLPRegressor(hidden_layer_sizes=(8,), max_iter=30, random_state=0).fit(x, x[:, :2])
    lazy = da.from_array(x, chunks=(100, 6))
    for estimator, method in [(classifier, "predict"), (classifier, "predict_proba"), (regressor, "predict")]:
        result = getattr(estimator, method)(lazy)
        assert isinstance(result, da.Array)
        np.testing.assert_array_equal(result.compute(scheduler="sync"), getattr(estimator, method)(x))
    series = classifier.predict(dd.from_pandas(pd.DataFrame(x), npartitions=3))
    np.testing.assert_array_equal(series.compute(scheduler="sync").to_numpy(), classifier.predict(x))
