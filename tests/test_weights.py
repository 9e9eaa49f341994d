"""sample_weight and class_weight, Keras's meaning: each sample's loss (and metric) is multiplied by its
weight; the mean still divides by the number of samples. Checked against repeated rows and PyTorch."""
import numpy as np
import pytest

import mlplab as ml

torch = pytest.importorskip("torch")
F = torch.nn.functional

RNG = np.random.default_rng(3)
X = RNG.normal(size=(10, 4))
LABELS = RNG.integers(0, 3, size=10)
BINARY = (X[:, :1] > 0).astype(float)
WEIGHTS = RNG.integers(1, 4, size=10)  # whole numbers: weight k = the row repeated k times


def _model(units, output, seed=0):
    return ml.Sequential([ml.Dense(5, "tanh", input_dim=4), ml.Dense(units, output)], seed=seed, dtype="float64")


@pytest.mark.parametrize("units, output, loss, y", [
    (3, "softmax", "sparse_categorical_crossentropy", LABELS),
    (3, "softmax", "categorical_crossentropy", np.eye(3)[LABELS]),
    (1, "sigmoid", "binary_crossentropy", BINARY),
    (2, None, "mse", X[:, :2] * 2),
    (2, None, "mae", X[:, :2] * 2),
])
def test_integer_weights_train_like_repeated_rows(units, output, loss, y):
    weighted, repeated = _model(units, output), _model(units, output)
    for model in (weighted, repeated):
        model.compile(ml.SGD(0.1), ml.get_loss(loss).__class__(reduction="sum"), metrics=["mae"])
    weighted.fit(X, y, epochs=5, batch_size=None, verbose=0, sample_weight=WEIGHTS)
    rows = np.repeat(np.arange(len(X)), WEIGHTS)
    repeated.fit(X[rows], y[rows], epochs=5, batch_size=None, verbose=0)
    for got, want in zip(weighted.get_weights(), repeated.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    got, want = weighted.evaluate(X, y, sample_weight=WEIGHTS), repeated.evaluate(X[rows], y[rows])
    assert got["loss"] == pytest.approx(want["loss"], rel=1e-10)  # sums: the same total
    assert got["mae"] == pytest.approx(want["mae"], rel=1e-10)    # a weighted mean: the same mean


def test_weighted_metrics_and_mean_loss_on_repeated_rows():
    model = _model(3, "softmax")
    model.compile(ml.SGD(0.1), "sparse_categorical_crossentropy", metrics=["accuracy"])
    rows = np.repeat(np.arange(len(X)), WEIGHTS)
    got, want = model.evaluate(X, LABELS, sample_weight=WEIGHTS), model.evaluate(X[rows], LABELS[rows])
    assert got["accuracy"] == pytest.approx(want["accuracy"])
    assert got["loss"] * len(X) == pytest.approx(want["loss"] * len(rows))  # Keras: mean over samples


def _torch_twin_step(model, x, target, loss_fn, weights):
    """Loss and gradients of PyTorch's weighted loss for the same network."""
    (w1, b1), (w2, b2) = [[torch.tensor(a, requires_grad=True) for a in layer.get_weights()]
                          for layer in model.layers]
    z = torch.tanh(torch.from_numpy(x) @ w1 + b1) @ w2 + b2
    loss = loss_fn(z, target, torch.from_numpy(weights.astype(float)))
    loss.backward()
    return loss.item(), [t.grad.numpy() for t in (w1, b1, w2, b2)]


@pytest.mark.parametrize("kind", ["sigmoid", "softmax"])
def test_weighted_fused_losses_match_pytorch(kind):
    weights = RNG.uniform(0.1, 3.0, size=10)
    if kind == "sigmoid":
        model, y = _model(1, "sigmoid"), BINARY
        model.compile(ml.SGD(0.0), "binary_crossentropy")
        target = torch.from_numpy(y)
        loss_fn = lambda z, t, w: F.binary_cross_entropy_with_logits(z, t, weight=w[:, None])  # noqa: E731
    else:
        model, y = _model(3, "softmax"), LABELS
        model.compile(ml.SGD(0.0), "sparse_categorical_crossentropy")
        target = torch.from_numpy(y)
        loss_fn = lambda z, t, w: (F.cross_entropy(z, t, reduction="none") * w).mean()  # noqa: E731
    want_loss, want_grads = _torch_twin_step(model, X, target, loss_fn, weights)
    loss, _ = ml.train_step(model, X, y, sample_weight=weights)
    assert loss == pytest.approx(want_loss, rel=1e-12)
    for (_, grad), want in zip(model.parameters(), want_grads):
        np.testing.assert_allclose(grad, want, rtol=1e-10, atol=1e-14)


def test_class_weight_is_sample_weight_by_class():
    by_class, by_sample = _model(3, "softmax"), _model(3, "softmax")
    for model in (by_class, by_sample):
        model.compile(ml.Adam(0.01), "sparse_categorical_crossentropy")
    table = {0: 1.0, 1: 3.0, 2: 0.5}
    by_class.fit(X, LABELS, epochs=3, batch_size=4, verbose=0, class_weight=table)
    by_sample.fit(X, LABELS, epochs=3, batch_size=4, verbose=0,
                  sample_weight=np.array([table[c] for c in LABELS]))
    for got, want in zip(by_class.get_weights(), by_sample.get_weights()):
        np.testing.assert_array_equal(got, want)


def test_balanced_class_weight_is_scikit_learns():
    from sklearn.utils.class_weight import compute_class_weight

    labels = np.array([0, 0, 0, 0, 1, 1, 2, 0, 1, 0])
    expected = compute_class_weight("balanced", classes=np.arange(3), y=labels)
    from mlplab.training import sample_weights
    model = _model(3, "softmax")
    model.compile(ml.SGD(0.1), "sparse_categorical_crossentropy")
    weights = sample_weights(model, labels, None, "balanced", len(labels))
    np.testing.assert_allclose(weights, expected[labels])
    binary = _model(1, "sigmoid")
    binary.compile(ml.SGD(0.1), "binary_crossentropy")
    y = (labels > 0).astype(float).reshape(-1, 1)
    np.testing.assert_allclose(sample_weights(binary, y, None, "balanced", len(y)),
                               compute_class_weight("balanced", classes=np.arange(2), y=y[:, 0].astype(int))[
                                   y[:, 0].astype(int)])


def test_class_weight_needs_a_classification_loss():
    model = _model(2, None)
    model.compile(ml.SGD(0.1), "mse")
    with pytest.raises(ValueError, match="`class_weight`.*classification loss"):
        model.fit(X, X[:, :2], verbose=0, class_weight="balanced")


def test_validation_split_splits_the_weights_too():
    model = _model(1, "sigmoid")
    model.compile(ml.SGD(0.1), "binary_crossentropy")
    history = model.fit(X, BINARY, epochs=2, validation_split=0.3, verbose=0, sample_weight=WEIGHTS)
    assert len(history.history["val_loss"]) == 2
    history = model.fit(X, BINARY, epochs=1, verbose=0, validation_data=(X, BINARY, WEIGHTS))
    assert history.history["val_loss"][0] == model.evaluate(X, BINARY, sample_weight=WEIGHTS)["loss"]
    assert history.history["val_loss"][0] != model.evaluate(X, BINARY)["loss"]
