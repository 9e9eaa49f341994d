"""The predict path: a row's output does not depend on its batch (bit for bit), the compiled stack and
its NumPy twin agree with the plain forward up to the proven rounding bound, and checks stay."""
import os
import subprocess
import sys

import numpy as np
import pytest

import mlplab as ml
from mlplab.engine import compiled

ACTIVATIONS = ["relu", "tanh", "sigmoid", "linear"]


def _model(dtype, hidden="relu", out="softmax", units=10, flatten=False, seed=0):
    first = [ml.Flatten(input_shape=(28, 28))] if flatten else []
    dense = ml.Dense(100, activation=hidden) if flatten else ml.Dense(100, activation=hidden, input_dim=784)
    return ml.Sequential(first + [dense, ml.Dropout(0.2), ml.Dense(37, activation=hidden),
                                  ml.Dense(units, activation=out)], seed=seed, dtype=dtype)


def _rows(n, dtype, seed=1):
    return np.random.default_rng(seed).random((n, 784)).astype(dtype)


@pytest.fixture(params=["compiled", "numpy"])
def path(request):
    """Run the test through the compiled stack and through its NumPy twin."""
    if request.param == "compiled" and not compiled.available():
        pytest.skip("the compiled forward pass is not built here (no C compiler, no AVX2+FMA, MLPLAB_INFER=0)")
    compiled.set_enabled(request.param == "compiled")
    yield request.param
    compiled.set_enabled(True)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_row_alone_equals_the_row_in_a_batch_of_1000(path, dtype):
    model = _model(dtype)
    x = _rows(1000, dtype)
    batch = model.predict(x)
    for i in [0, 1, 2, 3, 4, 5, 63, 64, 65, 500, 997, 998, 999]:
        np.testing.assert_array_equal(model.predict(x[i:i + 1]), batch[i:i + 1])
    for start, stop in [(0, 7), (3, 67), (100, 613), (1, 1000)]:
        np.testing.assert_array_equal(model.predict(x[start:stop]), batch[start:stop])
    np.testing.assert_array_equal(model.predict(x, batch_size=17), batch)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_each_activation_is_batch_invariant_and_close_to_the_plain_forward(path, activation):
    model = _model("float32", hidden=activation, out=activation if activation != "linear" else "sigmoid")
    x = _rows(300, "float32")
    batch = model.predict(x)
    np.testing.assert_array_equal(model.predict(x[5:6]), batch[5:6])
    np.testing.assert_allclose(batch, model.forward(x, False), rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_first_layer_differs_from_numpy_by_no_more_than_the_rounding_bound(path, dtype):
    """The documented bound: two summation orders of x·W differ by at most 2γ_K |x||W|."""
    model = ml.Sequential([ml.Dense(100, activation="linear", input_dim=784)], seed=0, dtype=dtype)
    x = np.random.default_rng(2).standard_normal((257, 784)).astype(dtype)
    fast, plain = model.predict(x), model.forward(x, False)
    bound = compiled.rounding_bound(x, model.layers[0].params["weight"]) + np.abs(plain) * np.finfo(dtype).eps
    assert np.all(np.abs(fast.astype(np.float64) - plain) <= bound)
    assert not np.array_equal(fast, np.zeros_like(fast))


def test_flatten_input_and_a_non_contiguous_x_take_the_stack(path):
    model = _model("float32", flatten=True)
    images = _rows(50, "float32").reshape(50, 28, 28)
    wide = np.zeros((50, 28, 56), np.float32)
    wide[:, :, ::2] = images
    np.testing.assert_array_equal(model.predict(wide[:, :, ::2]), model.predict(images))
    np.testing.assert_allclose(model.predict(images), model.forward(images, False), rtol=2e-5, atol=2e-6)


def test_a_stack_the_kernel_cannot_run_uses_the_chunked_path():
    model = ml.Sequential([ml.Dense(8, activation="elu", input_dim=4), ml.Dense(2)], seed=0)
    assert compiled.plan(model.layers, model.dtype) is None
    x = _rows(10, "float32")[:, :4]
    np.testing.assert_allclose(model.predict(x), model.forward(x, False), rtol=1e-6)


def test_nan_and_inf_inputs_are_still_refused_naming_the_row(path):
    model = _model("float32")
    for size in (1, 3000):
        x = _rows(size, "float32")
        x[-1, 7] = np.nan if size == 1 else np.inf
        with pytest.raises(ValueError, match="x"):
            model.predict(x)


def test_many_rows_split_over_threads_give_the_same_bits(path):
    model = _model("float32")
    x = _rows(2 * compiled.THREAD_ROWS + 3, "float32")
    whole = model.predict(x)
    np.testing.assert_array_equal(whole[-3:], model.predict(x[-3:]))


def test_avx2_and_avx512_versions_agree_bit_for_bit():
    if compiled.isa() != "avx512":
        pytest.skip("needs a CPU with AVX-512 to compare both versions")
    code = ("import numpy as np, mlplab as ml, sys; from mlplab.engine import compiled;"
            "m = ml.Sequential([ml.Dense(100, 'relu', input_dim=784), ml.Dense(10, 'softmax')], seed=0);"
            "x = np.random.default_rng(1).random((77, 784)).astype('float32');"
            "sys.stdout.write(compiled.isa() + ' ' + m.predict(x).tobytes().hex())")
    out = {}
    for level in ("1", "2"):
        env = {**os.environ, "MLPLAB_INFER_ISA": level}
        isa, result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                     check=True).stdout.split()
        out[isa] = result
    assert set(out) == {"avx2", "avx512"} and out["avx2"] == out["avx512"]


def test_scikit_learn_subset_invariance_check_passes(path):
    pytest.importorskip("sklearn")
    from sklearn.utils.estimator_checks import check_methods_subset_invariance
    from mlplab.estimators import MLPClassifier, MLPRegressor
    for estimator in (MLPClassifier(hidden_layer_sizes=(20,), max_iter=5, random_state=0),
                      MLPRegressor(hidden_layer_sizes=(20,), max_iter=5, random_state=0)):
        check_methods_subset_invariance(type(estimator).__name__, estimator)
