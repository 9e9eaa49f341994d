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

# Checks that fail for a documented reason (docs/estimators.md, "scikit-learn's estimator checks").
EXPECTED_FAILURES = {}


def expected_failed_checks(estimator):
    return EXPECTED_FAILURES.get(type(estimator).__name__, {})


# Small networks and few epochs keep the ~50 checks per estimator fast on 2 cores.
@parametrize_with_checks([MLPClassifier(hidden_layer_sizes=(8,), max_iter=100, learning_rate_init=0.01),
                          MLPRegressor(hidden_layer_sizes=(8,), max_iter=100, learning_rate_init=0.01)],
                         expected_failed_checks=expected_failed_checks)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)
