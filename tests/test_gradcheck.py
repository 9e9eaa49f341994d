"""Every backward pass against centred finite differences in float64 (Lua Torch's `nn.Jacobian` style).

One parametrized test walks every layer, activation, loss, regularizer and whole models through
`ml.gradcheck`; the last tests prove the checker itself fails when a backward pass is wrong.
"""
import copy

import numpy as np
import pytest

import mlplab as ml
from mlplab.engine import output_plan
from numerics import numerical_gradient

ACTIVATION_NAMES = ["linear", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "softmax"]


def away_from_kinks(shape, seed=0):
    """Values with 0.2 <= |x| <= 2 and random signs: no finite difference crosses relu's kink at 0."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.2, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def normal(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


def built(layer, input_shape, seed=0):
    """Build `layer` in float64 and give BatchNormalization non-trivial gamma/beta/moving statistics."""
    layer.build(input_shape, np.random.default_rng(seed), np.float64)
    if isinstance(layer, ml.BatchNormalization):
        rng = np.random.default_rng(seed + 1)
        size = layer.params["gamma"].shape
        layer.params["gamma"][...] = rng.uniform(0.5, 1.5, size)
        layer.params["beta"][...] = rng.normal(size=size)
        layer.state["moving_mean"][...] = rng.normal(size=size)
        layer.state["moving_variance"][...] = rng.uniform(0.5, 2.0, size)
    return layer


def frozen(layer):
    """A frozen layer: its backward is that of its inference form (BatchNormalization's moving statistics)."""
    layer.trainable = False
    return layer


def probabilities(shape, seed=0):
    """Rows of a softmax: strictly inside (0, 1), far from the loss's clipping at 1e-7."""
    z = normal(shape, seed)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def one_hot(labels, k):
    return np.eye(k)[labels]


LABELS = np.array([0, 2, 1, 2, 0])

# Each case: id -> (target, x, y, keyword arguments for ml.gradcheck).
CASES = {
    # Dense: with and without bias, with every activation, with every regularizer.
    "dense-bias": lambda: (ml.Dense(4), normal((5, 3)), None, {}),
    "dense-no-bias": lambda: (ml.Dense(4, use_bias=False), normal((5, 3)), None, {}),
    **{f"dense-{name}": (lambda name=name: (ml.Dense(4, activation=name), normal((5, 3)), None, {}))
       for name in ACTIVATION_NAMES},
    "dense-l1": lambda: (ml.Dense(4, "tanh", kernel_regularizer=ml.L1(0.1)), normal((5, 3)), None, {}),
    "dense-l2": lambda: (ml.Dense(4, "tanh", kernel_regularizer=ml.L2(0.1)), normal((5, 3)), None, {}),
    "dense-l1l2": lambda: (ml.Dense(4, "tanh", kernel_regularizer=ml.L1L2(l1=0.05, l2=0.2)),
                           normal((5, 3)), None, {}),
    "dense-l2-by-name": lambda: (ml.Dense(4, "sigmoid", kernel_regularizer="l2"), normal((5, 3)), None, {}),
    # Every activation as a layer of its own, on inputs away from kinks.
    **{f"activation-{name}": (lambda name=name: (ml.Activation(name), away_from_kinks((5, 4)), None, {}))
       for name in ACTIVATION_NAMES},
    "leaky_relu-alpha": lambda: (ml.Activation(ml.LeakyReLU(alpha=0.3)), away_from_kinks((5, 4)), None, {}),
    "elu-alpha": lambda: (ml.Activation(ml.ELU(alpha=0.7)), away_from_kinks((5, 4)), None, {}),
    "softmax-large-logits": lambda: (ml.Activation("softmax"), 5 * normal((5, 4)), None, {}),
    # Dropout in training mode: gradcheck reseeds the rng before every forward, so the mask is fixed.
    "dropout-training": lambda: (ml.Dropout(0.4), normal((6, 5)), None, {"training": True}),
    # BatchNormalization: batch statistics in training (2-D and 3-D input), moving ones at inference.
    "batchnorm-training": lambda: (built(ml.BatchNormalization(), (4,)), normal((6, 4)), None,
                                   {"training": True}),
    "batchnorm-training-3d": lambda: (built(ml.BatchNormalization(), (3, 4)), normal((5, 3, 4)), None,
                                      {"training": True}),
    "batchnorm-frozen": lambda: (frozen(built(ml.BatchNormalization(), (4,))), normal((6, 4)), None, {}),
    "flatten": lambda: (ml.Flatten(), normal((4, 3, 2)), None, {}),
    # Losses: gradient w.r.t. y_pred.
    "mse-mean": lambda: (ml.MeanSquaredError(), normal((5, 3)), normal((5, 3), 1), {}),
    "mse-sum": lambda: (ml.MeanSquaredError(reduction="sum"), normal((5, 3)), normal((5, 3), 1), {}),
    "mae": lambda: (ml.MeanAbsoluteError(), away_from_kinks((5, 3)), np.zeros((5, 3)), {}),
    "mae-sum": lambda: (ml.MeanAbsoluteError(reduction="sum"), away_from_kinks((5, 3)), np.zeros((5, 3)), {}),
    "bce-probs": lambda: (ml.BinaryCrossentropy(), np.random.default_rng(0).uniform(0.05, 0.95, (6, 1)),
                          np.array([[0], [1], [1], [0], [1], [0]], float), {}),
    "bce-probs-soft-targets": lambda: (ml.BinaryCrossentropy(), np.random.default_rng(0).uniform(0.05, 0.95, (4, 3)),
                                       np.random.default_rng(1).uniform(0, 1, (4, 3)), {}),
    "bce-logits": lambda: (ml.BinaryCrossentropy(from_logits=True), 3 * normal((6, 2)),
                           np.random.default_rng(1).integers(0, 2, (6, 2)).astype(float), {}),
    "cce-probs": lambda: (ml.CategoricalCrossentropy(), probabilities((5, 3)), one_hot(LABELS, 3), {}),
    "cce-probs-sum": lambda: (ml.CategoricalCrossentropy(reduction="sum"), probabilities((5, 3)),
                              one_hot(LABELS, 3), {}),
    "cce-logits": lambda: (ml.CategoricalCrossentropy(from_logits=True), 3 * normal((5, 3)),
                           one_hot(LABELS, 3), {}),
    "cce-logits-soft-targets": lambda: (ml.CategoricalCrossentropy(from_logits=True), normal((5, 3)),
                                        probabilities((5, 3), 7), {}),
    "scce-probs": lambda: (ml.SparseCategoricalCrossentropy(), probabilities((5, 3)), LABELS, {}),
    "scce-logits": lambda: (ml.SparseCategoricalCrossentropy(from_logits=True), 3 * normal((5, 3)), LABELS, {}),
    # Whole models: loss(y, model(x)) + regularization, w.r.t. the input and every parameter.
    "model-mlp-softmax-cce": lambda: (
        ml.Sequential([ml.Dense(5, "tanh", kernel_regularizer=ml.L2(0.01)), ml.BatchNormalization(),
                       ml.Dropout(0.3), ml.Dense(4, "elu"), ml.Dense(3, "softmax")], seed=0),
        normal((6, 3)), one_hot(np.array([0, 1, 2, 2, 1, 0]), 3),
        {"loss": ml.CategoricalCrossentropy(), "training": True}),
    "model-flatten-sigmoid-bce": lambda: (
        ml.Sequential([ml.Flatten(), ml.Dense(4, "softplus", kernel_regularizer=ml.L1L2(0.01, 0.01)),
                       ml.Dense(1, "sigmoid")], seed=1),
        normal((5, 2, 3)), np.array([[0], [1], [1], [0], [1]], float),
        {"loss": ml.BinaryCrossentropy()}),
    "model-regression-mse-frozen": lambda: (
        ml.Sequential([ml.Dense(4, "sigmoid", input_dim=3), frozen(ml.BatchNormalization()), ml.Dense(2)], seed=2),
        normal((5, 3)), normal((5, 2), 3), {"loss": ml.MeanSquaredError()}),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_backward_matches_centred_differences(case):
    target, x, y, kwargs = CASES[case]()
    result = ml.gradcheck(target, x, y, **kwargs)
    assert result.ok, result
    # Every array was checked: the input (or y_pred) and each parameter of each layer.
    if isinstance(target, ml.Loss):
        expected = 1
    elif isinstance(target, ml.Layer):
        checked = built(copy.deepcopy(target), x.shape[1:]) if not target.built else target
        expected = 1 + len(checked.params)
    else:
        checked = copy.deepcopy(target)
        if not checked.built:
            checked.build(x.shape[1:])
        expected = 1 + sum(len(layer.params) for layer in checked.layers)
    assert len(result.errors) == expected, result.errors


def test_gradcheck_does_not_change_the_target():
    layer = built(ml.BatchNormalization(), (4,))
    before = layer.get_weights()
    ml.gradcheck(layer, normal((6, 4)), training=True)
    for a, b in zip(before, layer.get_weights()):
        assert np.array_equal(a, b)


def test_compiled_model_uses_its_own_loss():
    model = ml.Sequential([ml.Dense(3, "tanh", input_dim=2), ml.Dense(2, "softmax")], seed=0, dtype="float64")
    model.compile(ml.SGD(0.1), "sparse_categorical_crossentropy")
    result = ml.gradcheck(model, normal((4, 2)), np.array([0, 1, 1, 0]))
    assert result.ok, result
    assert set(result.errors) == {"input", "dense/weight", "dense/bias", "dense_1/weight", "dense_1/bias"}


@pytest.mark.parametrize("regularizer", [ml.L1(0.3), ml.L2(0.2), ml.L1L2(l1=0.1, l2=0.4)], ids=repr)
def test_regularizer_gradient_is_the_derivative_of_its_penalty(regularizer):
    weight = away_from_kinks((3, 4), seed=5)
    analytic = regularizer.gradient(weight)
    numerical = numerical_gradient(lambda: regularizer.penalty(weight), weight)
    np.testing.assert_allclose(analytic, numerical, rtol=1e-6, atol=1e-8)


FUSED_CASES = {
    "softmax-cce": (lambda: ml.Dense(3, "softmax"), "categorical_crossentropy",
                    one_hot(np.array([0, 1, 2, 2, 1, 0]), 3)),
    "softmax-scce": (lambda: ml.Dense(3, "softmax"), "sparse_categorical_crossentropy", np.array([0, 1, 2, 2, 1, 0])),
    "activation-softmax-scce": (lambda: ml.Activation("softmax"), "sparse_categorical_crossentropy",
                                np.array([0, 1, 2, 2, 1, 0])),
    "sigmoid-bce": (lambda: ml.Dense(1, "sigmoid"), "binary_crossentropy",
                    np.array([[0], [1], [1], [0], [1], [1]], float)),
}


@pytest.mark.parametrize("case", list(FUSED_CASES), ids=list(FUSED_CASES))
def test_fused_output_gradient_matches_finite_differences(case):
    """The engine's fused output (the last layer's linear part + the loss on logits) backpropagated
    through the layers, against centred differences of the fused loss (log-sum-exp form)."""
    last, loss, y = FUSED_CASES[case]
    hidden = [ml.Dense(3, "tanh", kernel_regularizer=ml.L2(0.05)), ml.BatchNormalization()]
    model = ml.Sequential([ml.Dense(4, "tanh", input_dim=3), *hidden, last()], seed=0, dtype="float64")
    model.compile(ml.SGD(0.1), loss)
    layers, fused = output_plan(model.layers, model.loss)
    assert fused is not None and fused.from_logits
    x = normal((6, 3))

    def objective():
        z = x
        for layer in layers:
            z = layer.forward(z, True)
        return fused.forward(y, z) + model.regularization_loss()

    objective()
    grad_x = fused.backward()
    for layer in reversed(layers):
        grad_x = layer.backward(grad_x)
    analytic = {"input": grad_x}
    arrays = {"input": x}
    for layer in model.layers:
        for key in layer.params:
            analytic[f"{layer.name}/{key}"] = layer.grads[key].copy()
            arrays[f"{layer.name}/{key}"] = layer.params[key]
    assert len(arrays) == 1 + sum(len(layer.params) for layer in model.layers) >= 7
    for key, array in arrays.items():
        numerical = numerical_gradient(objective, array)
        np.testing.assert_allclose(analytic[key], numerical, rtol=1e-5, atol=1e-8, err_msg=key)
    # The fused value is the same loss as the unfused one on probabilities.
    probabilities_out = model.forward(x, training=True)
    unfused = ml.get_loss(loss).forward(y, probabilities_out)
    assert unfused == pytest.approx(objective() - model.regularization_loss(), rel=1e-9)


# -- the step activation and the checker's own sensitivity ------------------------------------------

def test_step_activation_backward_raises_a_helpful_error():
    layer = ml.Activation("step")
    out = layer.forward(np.array([[-1.0, 0.5]]), training=True)
    assert np.array_equal(out, [[0.0, 1.0]])
    with pytest.raises(ml.NoGradientError, match="step") as info:
        layer.backward(np.ones((1, 2)))
    assert "sigmoid" in str(info.value) and "relu" in str(info.value)
    with pytest.raises(ml.NoGradientError):
        ml.gradcheck(ml.Dense(2, activation="step"), normal((3, 2)))


def test_gradcheck_catches_a_wrong_activation_backward(monkeypatch):
    x = normal((5, 3))
    assert ml.gradcheck(ml.Dense(4, "sigmoid"), x).ok
    # Forget the (1 − a) factor of σ'(z) = a(1 − a).
    monkeypatch.setattr(ml.Sigmoid, "backward", lambda self, grad_output: grad_output * self.output)
    result = ml.gradcheck(ml.Dense(4, "sigmoid"), x)
    assert not result.ok
    assert result.errors["input"] > 1 and result.errors["layer/weight"] > 1


def test_gradcheck_catches_a_one_percent_error_in_a_weight_gradient(monkeypatch):
    original = ml.Dense.backward

    def slightly_wrong(self, grad_output):
        grad_x = original(self, grad_output)
        self.grads["weight"] *= 1.01
        return grad_x

    monkeypatch.setattr(ml.Dense, "backward", slightly_wrong)
    result = ml.gradcheck(ml.Dense(4, "tanh"), normal((5, 3)))
    assert not result.ok
    assert result.errors["layer/weight"] > 1  # the weight gradient is flagged ...
    assert result.errors["input"] <= 1 and result.errors["layer/bias"] <= 1  # ... and only it


def test_gradcheck_catches_batchnorm_without_the_mean_path(monkeypatch):
    def no_mean_path(self, grad_output):
        self.grads["gamma"][...] = (grad_output * self.x_hat).sum(axis=0)
        self.grads["beta"][...] = grad_output.sum(axis=0)
        return grad_output * self.params["gamma"] * self.inv_std  # treats μ_B and σ²_B as constants

    layer = built(ml.BatchNormalization(), (4,))
    assert ml.gradcheck(layer, normal((6, 4)), training=True).ok
    monkeypatch.setattr(ml.BatchNormalization, "backward", no_mean_path)
    result = ml.gradcheck(layer, normal((6, 4)), training=True)
    assert not result.ok and result.errors["input"] > 1


def test_gradcheck_catches_a_wrong_loss_backward(monkeypatch):
    monkeypatch.setattr(ml.MeanSquaredError, "backward", lambda self: self.scale * self.diff)  # lost the 2
    assert not ml.gradcheck(ml.MeanSquaredError(), normal((4, 2)), normal((4, 2), 1)).ok


def test_gradcheck_catches_a_wrong_model_chain_rule(monkeypatch):
    model = ml.Sequential([ml.Dense(3, "tanh", input_dim=2), ml.Dense(2)], seed=0)
    x, y = normal((4, 2)), normal((4, 2), 1)
    assert ml.gradcheck(model, x, y, loss=ml.MeanSquaredError()).ok

    def forgets_the_activation(self, grad_output):
        for layer in reversed(self.layers):
            grad_output = layer.linear_part().backward(grad_output)  # skips every activation's derivative
        return grad_output

    monkeypatch.setattr(ml.Sequential, "backward", forgets_the_activation)
    result = ml.gradcheck(model, x, y, loss=ml.MeanSquaredError())
    assert not result.ok
    assert result.errors["dense/weight"] > 1 and result.errors["dense_1/weight"] <= 1
