"""Optimizers without PyTorch: schedules from their formulas, gradient clipping, weight decay, bad arguments.
(Update rules against PyTorch live in test_torch_oracle.py.)"""
import math
from types import SimpleNamespace

import numpy as np
import pytest

import mlplab as ml


def parameter(value, grad):
    """A stand-in layer holding one float64 parameter and its gradient (what optimizer.step reads)."""
    return SimpleNamespace(params={"weight": np.array(value, dtype=float)},
                           grads={"weight": np.array(grad, dtype=float)})


def applied_update(optimizer, value, grad):
    layer = parameter(value, grad)
    before = layer.params["weight"].copy()
    optimizer.step(layer)
    return layer.params["weight"] - before


# -- schedules --------------------------------------------------------------------------------------------

def test_step_decay_values():
    schedule = ml.StepDecay(0.1, step_size=10, gamma=0.5)
    steps = [0, 9, 10, 19, 20, 35]
    assert [schedule(s) for s in steps] == pytest.approx([0.1 * 0.5 ** (s // 10) for s in steps])
    assert [schedule(s) for s in steps] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.0125])


@pytest.mark.parametrize("staircase", [False, True])
def test_exponential_decay_values(staircase):
    schedule = ml.ExponentialDecay(0.2, decay_steps=4, decay_rate=0.5, staircase=staircase)
    for step in [0, 1, 3, 4, 6, 10]:
        exponent = step // 4 if staircase else step / 4
        assert schedule(step) == pytest.approx(0.2 * 0.5 ** exponent, rel=1e-12)
    assert schedule(6) == pytest.approx(0.1 if staircase else 0.2 * 0.5 ** 1.5)


def test_cosine_decay_values():
    schedule = ml.CosineDecay(0.1, decay_steps=100, alpha=0.1)
    for step in [0, 25, 50, 99, 100, 250]:
        cosine = 0.5 * (1 + math.cos(math.pi * min(step, 100) / 100))
        assert schedule(step) == pytest.approx(0.1 * (0.9 * cosine + 0.1), rel=1e-12)
    assert schedule(0) == pytest.approx(0.1)
    assert schedule(50) == pytest.approx(0.055)
    assert schedule(100) == schedule(1000) == pytest.approx(0.01)


def test_a_schedule_passed_as_learning_rate_is_used_by_step():
    optimizer = ml.SGD(learning_rate=ml.StepDecay(1.0, step_size=2, gamma=0.5))
    layer = parameter([0.0], [1.0])
    values = []
    for _ in range(5):
        assert optimizer.current_learning_rate == ml.StepDecay(1.0, 2, 0.5)(optimizer.iterations)
        optimizer.step(layer)
        values.append(float(layer.params["weight"][0]))
    # learning rates used by steps 0..4: 1, 1, 0.5, 0.5, 0.25 (gradient 1 every time)
    assert values == pytest.approx(np.cumsum([-1, -1, -0.5, -0.5, -0.25]))
    assert optimizer.iterations == 5


def test_a_schedule_drives_training_through_fit():
    x = np.linspace(-1, 1, 8).reshape(-1, 1)
    model = ml.Sequential([ml.Dense(1, input_dim=1)], seed=0)
    model.compile(ml.SGD(ml.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)), "mse")
    model.fit(x, x, epochs=3, batch_size=4, verbose=0)
    assert model.optimizer.iterations == 6
    assert model.optimizer.current_learning_rate == pytest.approx(0.1 * 0.5 ** 6)


@pytest.mark.parametrize("make, name", [
    (lambda: ml.StepDecay(0.1, step_size=0), "step_size"),
    (lambda: ml.StepDecay(-0.1, step_size=1), "initial_learning_rate"),
    (lambda: ml.ExponentialDecay(0.1, decay_steps=0, decay_rate=0.5), "decay_steps"),
    (lambda: ml.CosineDecay(0.1, decay_steps=10, alpha=2.0), "alpha"),
])
def test_schedules_reject_bad_arguments(make, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        make()


# -- clipping: SGD with lr=1 makes the applied update equal to −(clipped gradient) ---------------------------

def test_clipvalue_bounds_each_component():
    update = applied_update(ml.SGD(1.0, clipvalue=0.5), [0.0, 0.0, 0.0, 0.0], [3.0, -0.2, -7.0, 0.5])
    np.testing.assert_allclose(update, [-0.5, 0.2, 0.5, -0.5])
    assert np.abs(update).max() <= 0.5


def test_clipnorm_rescales_a_long_gradient_and_keeps_a_short_one():
    np.testing.assert_allclose(applied_update(ml.SGD(1.0, clipnorm=1.0), [0.0, 0.0], [3.0, 4.0]), [-0.6, -0.8])
    np.testing.assert_allclose(applied_update(ml.SGD(1.0, clipnorm=10.0), [0.0, 0.0], [3.0, 4.0]), [-3.0, -4.0])


def test_clipnorm_is_per_parameter_and_global_clipnorm_is_over_all_parameters():
    def two_parameters():
        return [parameter([0.0], [3.0]), parameter([0.0], [4.0])]

    layers = two_parameters()
    ml.SGD(1.0, clipnorm=1.0).step(layers)
    assert [float(l.params["weight"][0]) for l in layers] == pytest.approx([-1.0, -1.0])  # each norm ≤ 1
    layers = two_parameters()
    ml.SGD(1.0, global_clipnorm=1.0).step(layers)
    values = [float(l.params["weight"][0]) for l in layers]
    assert values == pytest.approx([-0.6, -0.8])  # total norm 5 → 1, direction kept
    assert math.hypot(*values) == pytest.approx(1.0)


def test_clipping_bounds_updates_during_fit():
    x = 100 * np.random.default_rng(0).normal(size=(16, 2))
    model = ml.Sequential([ml.Dense(1, input_dim=2)], seed=0)
    model.compile(ml.SGD(1.0, global_clipnorm=0.1), "mse")
    before = model.get_weights()
    model.fit(x, x.sum(axis=1), epochs=1, batch_size=None, verbose=0)
    change = np.sqrt(sum(np.sum((a - b) ** 2) for a, b in zip(model.get_weights(), before)))
    assert change == pytest.approx(0.1, rel=1e-5)  # one step of lr · (at most 0.1), the gradient being huge


# -- weight decay --------------------------------------------------------------------------------------------

def test_sgd_weight_decay_adds_lambda_w_to_the_gradient():
    update = applied_update(ml.SGD(0.1, weight_decay=0.5), [2.0, -4.0], [1.0, 1.0])
    np.testing.assert_allclose(update, -0.1 * (np.array([1.0, 1.0]) + 0.5 * np.array([2.0, -4.0])))


def test_sgd_momentum_accumulates_velocity():
    optimizer = ml.SGD(0.1, momentum=0.9)
    layer = parameter([0.0], [1.0])
    for _ in range(3):
        optimizer.step(layer)
    # v1 = 1, v2 = 1.9, v3 = 2.71; w = −0.1·(1 + 1.9 + 2.71)
    assert float(layer.params["weight"][0]) == pytest.approx(-0.561)


def test_adamw_decay_is_decoupled_unlike_adam_with_l2():
    w, g, lr, wd = np.array([2.0, -3.0]), np.array([0.5, 0.5]), 0.1, 0.1
    adamw = applied_update(ml.AdamW(lr, weight_decay=wd), w, g)
    # AdamW: w ← w(1 − lr·λ), then Adam's first step, whose size is lr·g/|g| = lr·sign(g).
    eps = ml.AdamW().epsilon
    expected = w * (1 - lr * wd) - lr * g / (np.abs(g) + eps)
    np.testing.assert_allclose(w + adamw, expected, rtol=1e-10)
    # Adam with an L2 term in the gradient normalises the decay away: its first step is lr·sign(g + λw).
    adam_l2 = applied_update(ml.Adam(lr), w, g + wd * w)
    np.testing.assert_allclose(adam_l2, -lr * np.sign(g + wd * w), rtol=1e-5)
    assert not np.allclose(adamw, adam_l2)
    # with no decay AdamW is Adam
    np.testing.assert_allclose(applied_update(ml.AdamW(lr, weight_decay=0.0), w, g), applied_update(ml.Adam(lr), w, g))


def test_optimizer_state_is_per_parameter_and_reset_clears_it():
    optimizer = ml.Adam(0.1)
    a, b = parameter([1.0], [1.0]), parameter([1.0, 2.0], [-1.0, 1.0])
    optimizer.step([a, b])
    assert len(optimizer.state) == 2 and optimizer.iterations == 1
    optimizer.reset()
    assert optimizer.state == {} and optimizer.iterations == 0


@pytest.mark.parametrize("name, cls", [("sgd", ml.SGD), ("adam", ml.Adam), ("adamw", ml.AdamW),
                                       ("rmsprop", ml.RMSprop), ("adagrad", ml.Adagrad)])
def test_optimizers_resolve_by_name(name, cls):
    model = ml.Sequential([ml.Dense(1, input_dim=1)])
    model.compile(name, "mse")
    assert type(model.optimizer) is cls


# -- invalid arguments ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make, error, name", [
    (lambda: ml.SGD(-0.1), ValueError, "learning_rate"),
    (lambda: ml.Adam(learning_rate=[0.1]), TypeError, "learning_rate"),
    (lambda: ml.SGD(0.1, momentum=-0.5), ValueError, "momentum"),
    (lambda: ml.SGD(0.1, nesterov=True), ValueError, "nesterov"),
    (lambda: ml.SGD(0.1, weight_decay=-1.0), ValueError, "weight_decay"),
    (lambda: ml.Adam(beta_1=1.0), ValueError, "beta_1"),
    (lambda: ml.Adam(beta_2=-0.1), ValueError, "beta_2"),
    (lambda: ml.Adam(epsilon=-1e-8), ValueError, "epsilon"),
    (lambda: ml.AdamW(weight_decay=-0.01), ValueError, "weight_decay"),
    (lambda: ml.RMSprop(rho=1.0), ValueError, "rho"),
    (lambda: ml.Adagrad(initial_accumulator_value=-1.0), ValueError, "initial_accumulator_value"),
    (lambda: ml.SGD(0.1, clipnorm=0.0), ValueError, "clipnorm"),
    (lambda: ml.SGD(0.1, clipvalue=-1.0), ValueError, "clipvalue"),
    (lambda: ml.SGD(0.1, global_clipnorm="1"), TypeError, "global_clipnorm"),
    (lambda: ml.SGD(0.1, clip=1.0), TypeError, "clip"),
])
def test_optimizers_reject_invalid_arguments(make, error, name):
    with pytest.raises(error, match=name):
        make()
