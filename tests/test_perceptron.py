"""The classic perceptron: logic gates, XOR's failure, a hand-worked epoch, an independent reference loop."""
import numpy as np
import pytest

from mlplab.core.perceptron import NotFittedError, Perceptron

GATE_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
GATES = {"AND": [0, 0, 0, 1], "OR": [0, 1, 1, 1], "NAND": [1, 1, 1, 0], "NOR": [1, 0, 0, 0]}
XOR = [0, 1, 1, 0]


def reference_perceptron(x, y, lr, max_epochs):
    """Rosenblatt's rule written out with an explicit bias, as a separate oracle: (w, b, errors)."""
    w, b, errors = np.zeros(x.shape[1]), 0.0, []
    for _ in range(max_epochs):
        mistakes = 0
        for xi, yi in zip(x, y):
            y_hat = 1.0 if xi @ w + b > 0 else 0.0
            if y_hat != yi:
                w = w + lr * (yi - y_hat) * xi
                b = b + lr * (yi - y_hat)
                mistakes += 1
        errors.append(mistakes)
        if mistakes == 0:
            break
    return w, b, errors


def separable_data(n, d, seed):
    """Points at least 0.2 away from a random hyperplane, labelled by the side they are on."""
    rng = np.random.default_rng(seed)
    w, b = rng.normal(size=d), rng.normal()
    x = rng.normal(size=(4 * n, d))
    margin = (x @ w + b) / np.linalg.norm(w)
    keep = np.abs(margin) > 0.2
    return x[keep][:n], (margin[keep][:n] > 0).astype(int)


@pytest.mark.parametrize("gate", sorted(GATES))
def test_learns_linearly_separable_gates_and_stops_early(gate):
    y = np.array(GATES[gate])
    p = Perceptron(max_epochs=100).fit(GATE_X, y)
    assert p.converged_ and p.reason_ == "converged"
    assert p.score(GATE_X, y) == 1.0
    np.testing.assert_array_equal(p.predict(GATE_X), y)
    assert p.errors_[-1] == 0 and all(e > 0 for e in p.errors_[:-1])
    assert p.n_epochs_ == len(p.errors_) < 100  # stopped at the first clean epoch, not at max_epochs
    assert "Converged" in p.message_


def test_and_gate_matches_the_worked_trajectory():
    # Zero weights, lr 1, samples in order: AND converges to w0 = -2, w = (2, 1) after 6 epochs.
    p = Perceptron().fit(GATE_X, GATES["AND"])
    assert p.weights_.tolist() == [-2.0, 2.0, 1.0]
    assert p.intercept_ == -2.0 and p.coef_.tolist() == [2.0, 1.0]
    assert p.errors_ == [1, 3, 3, 2, 1, 0]


def test_xor_is_not_learned_and_the_reason_is_reported():
    p = Perceptron(max_epochs=100).fit(GATE_X, XOR)  # no exception
    assert not p.converged_
    assert p.score(GATE_X, XOR) < 1.0
    assert p.best_accuracy_ <= 0.75  # no line gets more than 3 of XOR's 4 points right
    # In a fixed order the weights return to an earlier state: a proof the rule will cycle forever.
    assert p.reason_ == "cycle" and p.n_epochs_ < 100
    assert "not linearly separable" in p.message_
    assert f"{p.best_accuracy_:.1%}" in p.message_


def test_xor_with_shuffling_runs_to_max_epochs():
    p = Perceptron(max_epochs=30, seed=0, shuffle=True).fit(GATE_X, XOR)
    assert not p.converged_ and p.reason_ == "max_epochs"
    assert p.n_epochs_ == 30 and all(e > 0 for e in p.errors_)
    assert 0.5 <= p.best_accuracy_ <= 0.75
    assert "may not be linearly separable" in p.message_


def test_one_epoch_by_hand():
    # lr = 0.5, w = (w0, w1, w2) = 0, the bias trick's constant input first.
    # sample 1: x = (1, 2, 1), y = 1: z = 0 → ŷ = 0, wrong: w += 0.5·(1 − 0)·x = (0.5, 1, 0.5)
    # sample 2: x = (1, −1, −1), y = 0: z = 0.5 − 1 − 0.5 = −1 → ŷ = 0, right: no change
    # sample 3: x = (1, 1, −2), y = 0: z = 0.5 + 1 − 1 = 0.5 → ŷ = 1, wrong: w += 0.5·(0 − 1)·x
    #           = (0, 0.5, 1.5)
    x = [[2, 1], [-1, -1], [1, -2]]
    y = [1, 0, 0]
    one = Perceptron(learning_rate=0.5, max_epochs=1).fit(x, y)
    np.testing.assert_array_equal(one.weights_, [0.0, 0.5, 1.5])
    assert one.errors_ == [2] and not one.converged_ and one.reason_ == "max_epochs"
    # Epoch 2: z = 2.5, −2, −2.5 → ŷ = 1, 0, 0: no mistakes, so training stops there.
    full = Perceptron(learning_rate=0.5).fit(x, y)
    assert full.errors_ == [2, 0] and full.converged_
    np.testing.assert_array_equal(full.weights_, [0.0, 0.5, 1.5])
    np.testing.assert_array_equal(full.decision_function(x), [2.5, -2.0, -2.5])


@pytest.mark.parametrize("seed,d,lr", [(0, 2, 1.0), (1, 5, 0.1), (2, 3, 0.37)])
def test_matches_an_independent_reference_loop(seed, d, lr):
    x, y = separable_data(60, d, seed)
    w, b, errors = reference_perceptron(x, y, lr, 1000)
    p = Perceptron(learning_rate=lr, max_epochs=1000).fit(x, y)
    assert p.errors_ == errors
    np.testing.assert_allclose(p.coef_, w, rtol=1e-12, atol=1e-12)
    assert p.intercept_ == pytest.approx(b, abs=1e-12)
    assert p.converged_ and p.score(x, y) == 1.0


def test_bias_trick_off_gives_the_same_classifier():
    x, y = separable_data(50, 3, 4)
    with_trick = Perceptron(learning_rate=0.5).fit(x, y)
    without = Perceptron(learning_rate=0.5, bias_trick=False).fit(x, y)
    assert with_trick.weights_.shape == (4,) and without.weights_.shape == (3,)
    np.testing.assert_array_equal(with_trick.weights_[0], with_trick.intercept_)
    np.testing.assert_allclose(without.weights_, with_trick.coef_)
    assert without.intercept_ == pytest.approx(with_trick.intercept_)
    np.testing.assert_array_equal(without.predict(x), with_trick.predict(x))


def test_decision_line_lies_on_the_boundary():
    p = Perceptron().fit(GATE_X, GATES["OR"])
    slope, intercept = p.decision_line()
    x1 = np.linspace(-2, 2, 7)
    on_line = np.c_[x1, slope * x1 + intercept]
    np.testing.assert_allclose(p.decision_function(on_line), 0.0, atol=1e-12)
    # Points just above and below the line fall on opposite sides.
    assert set(p.predict(on_line + [0, 1e-3]).tolist()) != set(p.predict(on_line - [0, 1e-3]).tolist())


def test_decision_line_errors():
    three = Perceptron().fit([[0, 0, 1], [1, 1, 0]], [0, 1])
    with pytest.raises(ValueError, match="2 features"):
        three.decision_line()
    vertical = Perceptron().fit([[0, 0], [1, 0]], [0, 1])  # only w1 moves: the boundary is x1 = const
    assert vertical.coef_[1] == 0
    with pytest.raises(ValueError, match="vertical"):
        vertical.decision_line()


def test_default_is_deterministic_and_seed_drives_only_options():
    x, y = separable_data(40, 2, 7)
    a, b = Perceptron().fit(x, y), Perceptron().fit(x, y)
    np.testing.assert_array_equal(a.weights_, b.weights_)
    r1 = Perceptron(seed=3, init="random", shuffle=True).fit(x, y)
    r2 = Perceptron(seed=3, init="random", shuffle=True).fit(x, y)
    r3 = Perceptron(seed=4, init="random", shuffle=True).fit(x, y)
    np.testing.assert_array_equal(r1.weights_, r2.weights_)
    assert r1.errors_ == r2.errors_
    assert not np.array_equal(r1.weights_, r3.weights_)
    assert r1.converged_ and r3.converged_


def test_labels_as_column_or_bool_are_accepted():
    p = Perceptron().fit(GATE_X, np.array(GATES["AND"]).reshape(-1, 1))
    q = Perceptron().fit(GATE_X, np.array(GATES["AND"], dtype=bool))
    np.testing.assert_array_equal(p.weights_, q.weights_)
    assert p.predict(GATE_X).dtype == np.int64


@pytest.mark.parametrize("kwargs,error,pattern", [
    ({"learning_rate": 0}, ValueError, "learning_rate"),
    ({"learning_rate": "1"}, TypeError, "learning_rate"),
    ({"max_epochs": 0}, ValueError, "max_epochs"),
    ({"max_epochs": 2.5}, TypeError, "max_epochs"),
    ({"seed": "zero"}, TypeError, "seed"),
    ({"bias_trick": 1}, TypeError, "bias_trick"),
    ({"init": "ones"}, ValueError, "init"),
])
def test_bad_constructor_arguments(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        Perceptron(**kwargs)


@pytest.mark.parametrize("x,y,error,pattern", [
    (GATE_X, [-1, -1, -1, 1], ValueError, r"`y`.*0 and 1.*-1"),
    (GATE_X, [0, 1, 2, 1], ValueError, r"`y`.*0 and 1"),
    (GATE_X, [0, 1, 1], ValueError, r"`y`.*4 labels"),
    (GATE_X, [[0, 1], [1, 0], [0, 1], [1, 0]], ValueError, r"`y`.*shape"),
    ([0, 1, 1, 0], XOR, ValueError, r"`x`.*2-D"),
    ([["a", "b"]] * 4, XOR, TypeError, r"`x`"),
    ([[0, np.nan], [0, 1], [1, 0], [1, 1]], XOR, ValueError, r"`x`.*finite"),
    (np.zeros((0, 2)), [], ValueError, r"`x`.*non-empty"),
])
def test_bad_fit_input(x, y, error, pattern):
    with pytest.raises(error, match=pattern):
        Perceptron().fit(x, y)


def test_predict_checks():
    with pytest.raises(NotFittedError, match="fit"):
        Perceptron().predict(GATE_X)
    p = Perceptron().fit(GATE_X, GATES["OR"])
    with pytest.raises(ValueError, match=r"`x`.*2 features"):
        p.predict([[0, 1, 1]])
    with pytest.raises(ValueError, match=r"`y`"):
        p.score(GATE_X, [0, 1])
