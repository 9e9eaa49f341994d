"""scikit-learn's own MLP tests (`sklearn/neural_network/tests/test_mlp.py`, from the installed wheel), run
against mlplab's estimators with only the import swapped: nothing of that file is copied here.

The file's source is read, its line `from sklearn.neural_network import MLPClassifier, MLPRegressor` is
replaced by `from mlplab.estimators import ...`, and the result runs as a module whose test functions
(with their parametrize marks) become this module's. Tests that read scikit-learn's private internals are
deselected below, each with its reason.
"""
import importlib.util
import pathlib
import types

import pytest

pytest.importorskip("sklearn")
pytest.importorskip("scipy")

ORIGINAL = "from sklearn.neural_network import MLPClassifier, MLPRegressor"
SWAPPED = "from mlplab.estimators import MLPClassifier, MLPRegressor"

# Each deselected test and why: all of them read or write scikit-learn's private training state.
PRIVATE = {
    "test_fit": "builds the estimator by hand from scikit-learn's private training state "
                "(_coef_velocity, _coef_grads, n_layers_) and expects partial_fit to start from it",
    "test_gradient": "calls the private _loss_grad_lbfgs with scikit-learn's internal activation/delta buffers",
}


def _load_suite() -> types.ModuleType:
    """scikit-learn's test_mlp.py as a module, with our estimators in place of its own."""
    spec = importlib.util.find_spec("sklearn.neural_network")
    path = pathlib.Path(spec.origin).parent / "tests" / "test_mlp.py"
    if not path.is_file():  # some distributions strip scikit-learn's tests from the package
        pytest.skip(f"scikit-learn's {path} is not installed", allow_module_level=True)
    source = path.read_text()
    if source.count(ORIGINAL) != 1:
        raise RuntimeError(f"{path}: the import line {ORIGINAL!r} is not there once; the swap needs updating")
    module = types.ModuleType("sklearn_test_mlp_on_mlplab")
    module.__file__ = str(path)
    exec(compile(source.replace(ORIGINAL, SWAPPED), str(path), "exec"), module.__dict__)
    return module


_SUITE = _load_suite()
for _name, _test in vars(_SUITE).items():
    if _name.startswith("test_") and callable(_test):
        if _name in PRIVATE:
            _test = pytest.mark.skip(reason=f"reads scikit-learn internals: {PRIVATE[_name]}")(_test)
        globals()[_name] = _test


@pytest.fixture
def global_random_seed():
    """scikit-learn's fixture of the same name, at its default seed (42)."""
    return 42


def test_the_suite_tests_mlplab():
    """The swap took: the suite's estimators are mlplab's."""
    from mlplab.estimators import MLPClassifier, MLPRegressor

    assert _SUITE.MLPClassifier is MLPClassifier and _SUITE.MLPRegressor is MLPRegressor
