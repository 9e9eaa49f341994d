"""PyTorch as an oracle: same weights and inputs must give the same outputs, gradients and updates.

Every mlplab computation here is repeated with PyTorch autograd (CPU, float64) from the same arrays.
Gradients of layers are compared through a random cotangent R: torch computes d/dθ of Σ(out ⊙ R), which
is exactly what mlplab's `backward(R)` returns/fills. mlplab's Dense weight is (in, out), PyTorch's
`Linear.weight` is (out, in): the two are transposes of each other.

Tolerances are rtol=1e-10, atol=1e-12 in float64 (rounding only) unless a comment says why not.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import mlplab as ml
from mlplab.engine import output_plan

RTOL, ATOL = 1e-10, 1e-12
F64 = torch.float64


@pytest.fixture(autouse=True, scope="module")
def _single_torch_thread():
    """These tensors are tiny: one intra-op thread is faster than several, above all on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tensor(array, requires_grad=False, dtype=F64):
    """A torch leaf holding a copy of `array`."""
    return torch.tensor(np.array(array), dtype=dtype, requires_grad=requires_grad)


def close(actual, expected, rtol=RTOL, atol=ATOL, err_msg=""):
    if isinstance(expected, torch.Tensor):
        expected = expected.detach().numpy()
    np.testing.assert_allclose(np.asarray(actual), expected, rtol=rtol, atol=atol, err_msg=err_msg)


# Activation name → PyTorch function (alpha 0.01 for leaky ReLU, 1.0 for ELU: both libraries' defaults).
TORCH_ACTIVATIONS = {
    "linear": lambda z: z,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, negative_slope=0.01),
    "elu": lambda z: F.elu(z, alpha=1.0),
    "softplus": F.softplus,
    "softmax": lambda z: torch.softmax(z, dim=-1),
}
TORCH_MODULES = {"linear": torch.nn.Identity, "relu": torch.nn.ReLU, "tanh": torch.nn.Tanh,
                 "sigmoid": torch.nn.Sigmoid}


# ------------------------------------------------------------------------------------------------
# 1. Layers and losses, one at a time
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("activation", list(TORCH_ACTIVATIONS))
def test_dense_matches_torch_linear(activation, use_bias):
    rng = np.random.default_rng(0)
    layer = ml.Dense(5, activation=activation, use_bias=use_bias)
    layer.build((4,), rng, np.float64)
    layer.params["weight"][...] = rng.normal(size=(4, 5))
    if use_bias:
        layer.params["bias"][...] = rng.normal(size=5)
    x = rng.normal(size=(7, 4))
    grad_output = rng.normal(size=(7, 5))

    out = layer.forward(x, training=True)
    grad_input = layer.backward(grad_output)

    xt = tensor(x, requires_grad=True)
    weight = tensor(layer.params["weight"].T, requires_grad=True)  # torch layout (out, in)
    bias = tensor(layer.params["bias"], requires_grad=True) if use_bias else None
    out_t = TORCH_ACTIVATIONS[activation](F.linear(xt, weight, bias))
    (out_t * tensor(grad_output)).sum().backward()

    assert out.dtype == np.float64
    z = x @ layer.params["weight"] + (layer.params["bias"] if use_bias else 0)
    if activation in ("relu", "leaky_relu", "elu"):
        assert (z > 0).any() and (z < 0).any()  # both branches are exercised
    close(out, out_t, err_msg="output")
    close(grad_input, xt.grad, err_msg="dL/dx")
    close(layer.grads["weight"], weight.grad.T, err_msg="dL/dW")
    if use_bias:
        close(layer.grads["bias"], bias.grad, err_msg="dL/db")
    else:
        assert "bias" not in layer.params and "bias" not in layer.grads


def test_dropout_with_the_same_mask_matches_torch():
    rate = 0.4
    layer = ml.Dropout(rate)
    layer.build((6,), np.random.default_rng(1), np.float64)
    rng = np.random.default_rng(2)
    x, grad_output = rng.normal(size=(50, 6)), rng.normal(size=(50, 6))

    out = layer.forward(x, training=True)
    grad_input = layer.backward(grad_output)
    mask = layer.mask

    # The mask is inverted dropout's: 0 or 1/(1 − rate), the same two values torch's F.dropout uses.
    with torch.random.fork_rng():  # leave torch's global RNG as it was
        torch.manual_seed(0)
        torch_values = set(np.unique(F.dropout(torch.ones(2000, dtype=F64), p=rate, training=True).numpy()))
    mlplab_values = set(np.unique(mask))
    assert len(mlplab_values) == 2 and len(torch_values) == 2
    close(sorted(mlplab_values), sorted(torch_values))

    xt = tensor(x, requires_grad=True)
    out_t = xt * tensor(mask)
    (out_t * tensor(grad_output)).sum().backward()
    close(out, out_t)
    close(grad_input, xt.grad)

    # Inference: the identity in both.
    close(layer.forward(x, training=False), F.dropout(tensor(x), p=rate, training=False), rtol=0, atol=0)


@pytest.mark.parametrize("shape", [(8, 5), (4, 3, 5)], ids=["2d", "3d_channels_last"])
def test_batch_normalization_training_matches_torch(shape):
    momentum, epsilon = 0.9, 1e-3
    rng = np.random.default_rng(3)
    layer = ml.BatchNormalization(momentum=momentum, epsilon=epsilon)
    layer.build(shape[1:], rng, np.float64)
    channels = shape[-1]
    layer.params["gamma"][...] = rng.normal(1.0, 0.5, size=channels)
    layer.params["beta"][...] = rng.normal(size=channels)
    layer.state["moving_mean"][...] = rng.normal(size=channels)
    layer.state["moving_variance"][...] = rng.uniform(0.5, 2.0, size=channels)
    old_mean = layer.state["moving_mean"].copy()
    old_var = layer.state["moving_variance"].copy()
    x = rng.normal(2.0, 3.0, size=shape)
    grad_output = rng.normal(size=shape)

    out = layer.forward(x, training=True)
    grad_input = layer.backward(grad_output)

    # torch normalises over every axis but dim 1; mlplab over every axis but the last: move channels.
    xt = tensor(x, requires_grad=True)
    gamma = tensor(layer.params["gamma"], requires_grad=True)
    beta = tensor(layer.params["beta"], requires_grad=True)
    running_mean, running_var = tensor(old_mean), tensor(old_var)
    out_t = F.batch_norm(xt.movedim(-1, 1), running_mean, running_var, gamma, beta, training=True,
                         momentum=1 - momentum, eps=epsilon).movedim(1, -1)  # torch momentum = 1 − Keras's
    (out_t * tensor(grad_output)).sum().backward()

    close(out, out_t, err_msg="output")
    close(grad_input, xt.grad, err_msg="dL/dx")
    close(layer.grads["gamma"], gamma.grad, err_msg="dL/dgamma")
    close(layer.grads["beta"], beta.grad, err_msg="dL/dbeta")

    # Moving averages: moving = m·old + (1 − m)·batch, with the biased batch variance (Keras).
    axes = tuple(range(len(shape) - 1))
    batch_mean, batch_var = x.mean(axis=axes), x.var(axis=axes)
    close(layer.state["moving_mean"], momentum * old_mean + (1 - momentum) * batch_mean)
    close(layer.state["moving_variance"], momentum * old_var + (1 - momentum) * batch_var)
    # torch's running mean is the same; its running variance uses the unbiased variance instead.
    close(layer.state["moving_mean"], running_mean)
    n = x.size // channels
    close(running_var, momentum * old_var + (1 - momentum) * batch_var * n / (n - 1))

    # Inference uses the moving statistics, as torch's training=False does.
    moving_mean, moving_var = layer.state["moving_mean"].copy(), layer.state["moving_variance"].copy()
    out_inference = layer.forward(x, training=False)
    out_inference_t = F.batch_norm(tensor(x).movedim(-1, 1), tensor(moving_mean), tensor(moving_var),
                                   gamma.detach(), beta.detach(), training=False, eps=epsilon).movedim(1, -1)
    close(out_inference, out_inference_t)
    close(layer.state["moving_mean"], moving_mean, rtol=0, atol=0)  # inference leaves them alone


def test_flatten_then_dense_matches_torch():
    rng = np.random.default_rng(4)
    model = ml.Sequential([ml.Flatten(input_shape=(2, 3, 4)), ml.Dense(5, "tanh")], seed=0, dtype="float64")
    x, grad_output = rng.normal(size=(6, 2, 3, 4)), rng.normal(size=(6, 5))
    out = model.forward(x, training=True)
    grad_input = model.backward(grad_output)

    net = torch_twin(model)
    xt = tensor(x, requires_grad=True)
    out_t = torch.tanh(net(xt))
    (out_t * tensor(grad_output)).sum().backward()
    assert grad_input.shape == x.shape
    close(out, out_t)
    close(grad_input, xt.grad)
    close(model.layers[1].grads["weight"], net[1].weight.grad.T)
    close(model.layers[1].grads["bias"], net[1].bias.grad)


def _loss_case(name, rng):
    """(mlplab loss, y_true, y_pred, torch function of (y_true tensor, y_pred tensor))."""
    n, k = 6, 4
    labels = rng.integers(0, k, size=n)
    labels[:k] = np.arange(k)  # every class appears
    one_hot = np.eye(k)[labels]
    logits = rng.normal(0, 2, size=(n, k))
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    regression_true, regression_pred = rng.normal(size=(n, 3)), rng.normal(size=(n, 3))
    binary = rng.integers(0, 2, size=(n, 3)).astype(float)
    binary_logits = rng.normal(0, 2, size=(n, 3))
    binary_probabilities = rng.uniform(0.05, 0.95, size=(n, 3))
    nll_of_log_p = lambda reduction: lambda y, p: F.nll_loss(torch.log(p), tensor(labels).long(),  # noqa: E731
                                                              reduction=reduction)
    cases = {
        "mse_mean": (ml.MeanSquaredError(), regression_true, regression_pred,
                     lambda y, p: F.mse_loss(p, y)),
        "mse_sum": (ml.MeanSquaredError(reduction="sum"), regression_true, regression_pred,
                    lambda y, p: F.mse_loss(p, y, reduction="sum")),
        "mae_mean": (ml.MeanAbsoluteError(), regression_true, regression_pred, lambda y, p: F.l1_loss(p, y)),
        "mae_sum": (ml.MeanAbsoluteError(reduction="sum"), regression_true, regression_pred,
                    lambda y, p: F.l1_loss(p, y, reduction="sum")),
        "bce_probabilities": (ml.BinaryCrossentropy(), binary, binary_probabilities,
                              lambda y, p: F.binary_cross_entropy(p, y)),
        "bce_soft_targets": (ml.BinaryCrossentropy(), rng.uniform(size=(n, 3)), binary_probabilities,
                             lambda y, p: F.binary_cross_entropy(p, y)),
        "bce_logits": (ml.BinaryCrossentropy(from_logits=True), binary, binary_logits,
                       lambda y, z: F.binary_cross_entropy_with_logits(z, y)),
        "bce_logits_sum": (ml.BinaryCrossentropy(reduction="sum", from_logits=True), binary, binary_logits,
                           lambda y, z: F.binary_cross_entropy_with_logits(z, y, reduction="sum")),
        "cce_logits": (ml.CategoricalCrossentropy(from_logits=True), one_hot, logits,
                       lambda y, z: F.cross_entropy(z, y)),  # probability targets
        "cce_logits_soft_targets": (ml.CategoricalCrossentropy(from_logits=True),
                                    rng.dirichlet(np.ones(k), size=n), logits,
                                    lambda y, z: F.cross_entropy(z, y)),
        "cce_probabilities": (ml.CategoricalCrossentropy(), one_hot, probabilities, nll_of_log_p("mean")),
        "cce_probabilities_sum": (ml.CategoricalCrossentropy(reduction="sum"), one_hot, probabilities,
                                  nll_of_log_p("sum")),
        "sparse_cce_logits": (ml.SparseCategoricalCrossentropy(from_logits=True), labels, logits,
                              lambda y, z: F.cross_entropy(z, y.long())),
        "sparse_cce_logits_sum": (ml.SparseCategoricalCrossentropy(reduction="sum", from_logits=True), labels,
                                  logits, lambda y, z: F.cross_entropy(z, y.long(), reduction="sum")),
        "sparse_cce_probabilities": (ml.SparseCategoricalCrossentropy(), labels, probabilities,
                                     nll_of_log_p("mean")),
    }
    return cases[name]


LOSS_CASES = ["mse_mean", "mse_sum", "mae_mean", "mae_sum", "bce_probabilities", "bce_soft_targets",
              "bce_logits", "bce_logits_sum", "cce_logits", "cce_logits_soft_targets", "cce_probabilities",
              "cce_probabilities_sum", "sparse_cce_logits", "sparse_cce_logits_sum", "sparse_cce_probabilities"]


@pytest.mark.parametrize("name", LOSS_CASES)
def test_loss_matches_torch(name):
    loss, y_true, y_pred, torch_loss = _loss_case(name, np.random.default_rng(5))
    value = loss.forward(y_true, y_pred)
    grad = loss.backward()

    pred_t = tensor(y_pred, requires_grad=True)
    value_t = torch_loss(tensor(y_true), pred_t)
    value_t.backward()
    assert isinstance(value, float)
    close(value, value_t.item(), err_msg="loss value")
    close(grad, pred_t.grad, err_msg="dL/dy_pred")


# ------------------------------------------------------------------------------------------------
# 2. A whole model: fused training loss vs torch autograd of the loss on logits
# ------------------------------------------------------------------------------------------------
def torch_twin(model, dtype=F64):
    """A torch.nn.Sequential with the model's weights, hidden activations included, *without* the
    output activation (it returns logits, as torch models do for cross_entropy / BCEWithLogits)."""
    modules = []
    dense_layers = [layer for layer in model.layers if isinstance(layer, ml.Dense)]
    for layer in model.layers:
        if isinstance(layer, ml.Flatten):
            modules.append(torch.nn.Flatten())
            continue
        n_in, n_out = layer.params["weight"].shape
        linear = torch.nn.Linear(n_in, n_out, bias=layer.use_bias, dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(layer.params["weight"].T.copy()))
            if layer.use_bias:
                linear.bias.copy_(torch.from_numpy(layer.params["bias"].copy()))
        modules.append(linear)
        if layer is not dense_layers[-1]:
            modules.append(TORCH_MODULES[ml.activations.activation_name(layer.activation)]())
    return torch.nn.Sequential(*modules)


def torch_linears(net):
    return [module for module in net if isinstance(module, torch.nn.Linear)]


def assert_same_gradients(model, net, **tolerances):
    for layer, linear in zip(model.layers, torch_linears(net)):
        close(layer.grads["weight"], linear.weight.grad.T, err_msg=f"{layer.name} dL/dW", **tolerances)
        close(layer.grads["bias"], linear.bias.grad, err_msg=f"{layer.name} dL/db", **tolerances)


def assert_same_weights(model, net, **tolerances):
    for layer, linear in zip(model.layers, torch_linears(net)):
        close(layer.params["weight"], linear.weight.T, err_msg=f"{layer.name} weight", **tolerances)
        close(layer.params["bias"], linear.bias, err_msg=f"{layer.name} bias", **tolerances)


def _mlp(output_units, output_activation, seed=0, dtype="float64"):
    return ml.Sequential([ml.Dense(16, "relu", input_dim=5, bias_initializer="random_normal"),
                          ml.Dense(8, "relu", bias_initializer="random_normal"),
                          ml.Dense(output_units, output_activation, bias_initializer="random_normal")],
                         seed=seed, dtype=dtype)


@pytest.mark.parametrize("variant", ["softmax_sparse_cce", "sigmoid_bce"])
def test_mlp_fused_loss_and_gradients_match_torch(variant):
    rng = np.random.default_rng(6)
    x = rng.normal(size=(12, 5))
    if variant == "softmax_sparse_cce":
        model = _mlp(3, "softmax")
        model.compile(optimizer=ml.SGD(0.1), loss="sparse_categorical_crossentropy")
        y = rng.integers(0, 3, size=12)
        torch_loss = lambda z: F.cross_entropy(z, torch.from_numpy(y))  # noqa: E731
        torch_output = lambda z: torch.softmax(z, dim=-1)  # noqa: E731
    else:
        model = _mlp(1, "sigmoid")
        model.compile(optimizer=ml.SGD(0.1), loss="binary_crossentropy")
        y = rng.integers(0, 2, size=(12, 1)).astype(float)
        torch_loss = lambda z: F.binary_cross_entropy_with_logits(z, tensor(y))  # noqa: E731
        torch_output = torch.sigmoid
    layers, fused = output_plan(model.layers, model.loss)  # what training runs: logits, then the fused loss
    assert fused is not None
    net = torch_twin(model)

    output = model.forward(x, training=True)
    logits = x
    for layer in layers:
        logits = layer.forward(logits, True)
    loss = fused.forward(y, logits)
    grad_input = fused.backward()
    for layer in reversed(layers):
        grad_input = layer.backward(grad_input)

    xt = tensor(x, requires_grad=True)
    logits_t = net(xt)
    loss_t = torch_loss(logits_t)
    loss_t.backward()

    close(logits, logits_t)
    close(output, torch_output(logits_t))
    close(loss, loss_t.item())
    close(grad_input, xt.grad)
    assert_same_gradients(model, net)

    # The unfused path (output activation's own backward, loss on probabilities) gives the same gradients.
    model.zero_grad()
    model.forward(x, training=True)
    model.loss.forward(y, output)
    model.backward(model.loss.backward())
    assert_same_gradients(model, net, rtol=1e-8)  # via 1/p and the activation Jacobian: a few ulps more


# ------------------------------------------------------------------------------------------------
# 3. Optimizers: the same 20 mini-batches give the same weights
# ------------------------------------------------------------------------------------------------
def _batches(n_steps=20, batch_size=8, seed=7):
    """A fixed sequence of different mini-batches for a 4-feature, 3-class problem."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 1.5, size=(3, 4))
    batches = []
    for _ in range(n_steps):
        y = rng.integers(0, 3, size=batch_size)
        batches.append((centers[y] + rng.normal(size=(batch_size, 4)), y))
    return batches


def _small_mlp(dtype="float64", seed=1):
    return ml.Sequential([ml.Dense(8, "tanh", input_dim=4, bias_initializer="random_normal"),
                          ml.Dense(3, "softmax", bias_initializer="random_normal")], seed=seed, dtype=dtype)


def _clip_norm(max_norm, per_parameter, torch_eps):
    """torch gradient-norm clipping, each parameter on its own (mlplab `clipnorm`) or all together
    (`global_clipnorm`); returns the norms before clipping.

    torch_eps=True is the stock `clip_grad_norm_`, which scales by max_norm / (norm + 1e-6). With
    torch_eps=False the same torch functions are given norm − 1e-6, which cancels that 1e-6 and leaves
    max_norm / norm: the convention of Keras and mlplab.
    """
    def clip(params):
        norms = []
        for group in ([p] for p in params) if per_parameter else [params]:
            if torch_eps:
                norm = torch.nn.utils.clip_grad_norm_(group, max_norm)
            else:
                norm = torch.nn.utils.get_total_norm([p.grad for p in group])
                torch.nn.utils.clip_grads_with_norm_(group, max_norm, norm - 1e-6)
            norms.append(float(norm))
        return norms
    return clip


def _clip_value(value):
    def clip(params):
        norms = [float(p.grad.abs().max()) for p in params]
        torch.nn.utils.clip_grad_value_(params, value)
        return norms
    return clip


# name: (mlplab optimizer, torch optimizer factory, None or (torch clipping, clip threshold))
OPTIMIZER_CASES = {
    "sgd": (lambda: ml.SGD(0.1), lambda p: torch.optim.SGD(p, lr=0.1), None),
    "sgd_momentum": (lambda: ml.SGD(0.1, momentum=0.9), lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), None),
    "sgd_nesterov": (lambda: ml.SGD(0.05, momentum=0.9, nesterov=True),
                     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True), None),
    "sgd_weight_decay": (lambda: ml.SGD(0.1, momentum=0.9, weight_decay=0.01),
                         lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01), None),
    "rmsprop": (lambda: ml.RMSprop(0.01, rho=0.9, epsilon=1e-7),
                lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-7), None),
    "adagrad": (lambda: ml.Adagrad(0.1, initial_accumulator_value=0.1, epsilon=1e-7),
                lambda p: torch.optim.Adagrad(p, lr=0.1, initial_accumulator_value=0.1, eps=1e-7), None),
    "adam": (lambda: ml.Adam(0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-7),
             lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.9, 0.999), eps=1e-7), None),
    "adamw": (lambda: ml.AdamW(0.01, weight_decay=0.05, epsilon=1e-7),
              lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.05, eps=1e-7), None),
    "sgd_momentum_clipnorm": (lambda: ml.SGD(0.1, momentum=0.9, clipnorm=0.1),
                              lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
                              (_clip_norm(0.1, per_parameter=True, torch_eps=False), 0.1)),
    "sgd_momentum_clipnorm_torch_eps": (lambda: ml.SGD(0.1, momentum=0.9, clipnorm=0.1),
                                        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
                                        (_clip_norm(0.1, per_parameter=True, torch_eps=True), 0.1)),
    "sgd_global_clipnorm": (lambda: ml.SGD(0.2, global_clipnorm=0.2), lambda p: torch.optim.SGD(p, lr=0.2),
                            (_clip_norm(0.2, per_parameter=False, torch_eps=False), 0.2)),
    "sgd_global_clipnorm_torch_eps": (lambda: ml.SGD(0.2, global_clipnorm=0.2),
                                      lambda p: torch.optim.SGD(p, lr=0.2),
                                      (_clip_norm(0.2, per_parameter=False, torch_eps=True), 0.2)),
    "rmsprop_clipvalue": (lambda: ml.RMSprop(0.01, rho=0.9, epsilon=1e-7, clipvalue=0.02),
                          lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-7),
                          (_clip_value(0.02), 0.02)),
}


def _train_both(name, dtype="float64"):
    """Run 20 compiled `ml.train_step`s and 20 standard torch steps; return (model, net, losses, clip norms)."""
    make_optimizer, make_torch_optimizer, clipping = OPTIMIZER_CASES[name]
    torch_dtype = {"float64": torch.float64, "float32": torch.float32}[dtype]
    model = _small_mlp(dtype)
    model.compile(optimizer=make_optimizer(), loss="sparse_categorical_crossentropy")
    net = torch_twin(model, torch_dtype)
    torch_optimizer = make_torch_optimizer(net.parameters())
    clip = clipping[0] if clipping else None
    losses, losses_t, norms = [], [], []
    for xb, yb in _batches():
        xb = xb.astype(dtype)
        loss, _ = ml.train_step(model, xb, yb)
        losses.append(loss)

        torch_optimizer.zero_grad()
        loss_t = F.cross_entropy(net(torch.from_numpy(xb)), torch.from_numpy(yb))
        loss_t.backward()
        if clip is not None:
            norms.extend(clip(list(net.parameters())))
        torch_optimizer.step()
        losses_t.append(loss_t.item())
    return model, net, np.array(losses), np.array(losses_t), np.array(norms)


@pytest.mark.parametrize("name", list(OPTIMIZER_CASES))
def test_optimizer_20_steps_match_torch(name):
    model, net, losses, losses_t, norms = _train_both(name)
    initial = _small_mlp().get_weights()
    assert not np.allclose(model.get_weights()[0], initial[0])  # the weights did move
    tolerances = {"rtol": 1e-9, "atol": 1e-12}
    if clipping := OPTIMIZER_CASES[name][2]:
        threshold = clipping[1]
        assert (norms > threshold).mean() > 0.5  # clipping is active in most steps, not a no-op
        if name.endswith("torch_eps"):
            # Stock clip_grad_norm_ scales by max_norm / (norm + 1e-6), mlplab (like Keras) by
            # max_norm / norm: each clipped step differs by ~1e-6/norm relative, which 20 steps of
            # momentum accumulate to a few 1e-6 (a few 1e-8 absolute on the weights).
            tolerances = {"rtol": 1e-5, "atol": 1e-7}
    close(losses, losses_t, **tolerances, err_msg="per-step losses")
    assert_same_weights(model, net, **tolerances)


@pytest.mark.parametrize("name", ["adam", "sgd_momentum"])
def test_optimizer_float32_default_dtype_tracks_torch(name):
    model, net, losses, losses_t, _ = _train_both(name, dtype="float32")
    assert model.dtype == np.float32 and all(w.dtype == np.float32 for w in model.get_weights())
    # float32 rounding (~6e-8) accumulated over 20 steps of a different summation order: rtol 1e-4.
    close(losses, losses_t, rtol=1e-4, atol=1e-6)
    assert_same_weights(model, net, rtol=1e-4, atol=1e-6)


# ------------------------------------------------------------------------------------------------
# 4. The explicit PyTorch-style loop, verbatim
# ------------------------------------------------------------------------------------------------
def test_explicit_loop_with_softmax_and_cce_on_probabilities_matches_torch():
    model = _small_mlp(seed=2)
    loss_fn = ml.CategoricalCrossentropy()
    optimizer = ml.SGD(learning_rate=0.1, momentum=0.9)
    net = torch_twin(model)
    torch_optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)

    for xb, labels in _batches(n_steps=6):
        yb = np.eye(3)[labels]
        out = model.forward(xb, training=True)
        loss = loss_fn.forward(yb, out)       # a float
        model.backward(loss_fn.backward())    # fills every layer's parameter gradients
        grads = [grad.copy() for _, grad in model.parameters()]
        optimizer.step(model)
        model.zero_grad()

        # torch does the same unfused computation: softmax, then −Σ y log p, averaged over the batch.
        torch_optimizer.zero_grad()
        probabilities = torch.softmax(net(torch.from_numpy(xb)), dim=-1)
        loss_t = -(torch.from_numpy(yb) * torch.log(probabilities)).sum(dim=1).mean()
        loss_t.backward()
        grads_t = [g for linear in torch_linears(net) for g in (linear.weight.grad.T, linear.bias.grad)]
        torch_optimizer.step()

        assert isinstance(loss, float)
        assert out.min() > 1e-3  # moderate logits: the 1e-7 probability clipping is inactive
        close(out, probabilities)
        close(loss, loss_t.item())
        assert len(grads) == len(grads_t) == 4
        for grad, grad_t in zip(grads, grads_t):
            assert np.abs(grad).max() > 0
            close(grad, grad_t, rtol=1e-9)  # through 1/p and the softmax Jacobian: a few more ulps
        assert all(not grad.any() for _, grad in model.parameters())  # zero_grad zeroed them
    assert_same_weights(model, net, rtol=1e-9)


# ------------------------------------------------------------------------------------------------
# 5. Extreme logits: the fused losses stay finite and equal torch's
# ------------------------------------------------------------------------------------------------
def test_binary_crossentropy_from_logits_at_plus_minus_1e4_matches_torch():
    z = np.array([[1e4, -1e4], [-1e4, 1e4], [1e4, 1e4], [-1e4, -1e4], [0.5, -2.0]])
    y = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    loss = ml.BinaryCrossentropy(from_logits=True)
    value = loss.forward(y, z)
    grad = loss.backward()

    zt = tensor(z, requires_grad=True)
    value_t = F.binary_cross_entropy_with_logits(zt, tensor(y))
    value_t.backward()
    assert np.isfinite(value) and np.isfinite(grad).all()
    assert value > 1e3  # the wrong confident predictions cost ~1e4 each, not inf or nan
    close(value, value_t.item())
    close(grad, zt.grad)


@pytest.mark.parametrize("sparse", [True, False], ids=["sparse", "one_hot"])
def test_softmax_crossentropy_from_logits_at_plus_minus_1e4_matches_torch(sparse):
    z = np.array([[1e4, -1e4, 0.0], [1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [-1e4, -1e4, 1e4], [0.3, -0.2, 0.1]])
    labels = np.array([0, 1, 2, 0, 1])
    loss = ml.SparseCategoricalCrossentropy(from_logits=True) if sparse else ml.CategoricalCrossentropy(
        from_logits=True)
    value = loss.forward(labels if sparse else np.eye(3)[labels], z)
    grad = loss.backward()

    zt = tensor(z, requires_grad=True)
    value_t = F.cross_entropy(zt, torch.from_numpy(labels))
    value_t.backward()
    assert np.isfinite(value) and np.isfinite(grad).all()
    close(value, value_t.item())
    close(grad, zt.grad)


@pytest.mark.parametrize("variant", ["softmax_sparse_cce", "sigmoid_bce"])
def test_train_step_with_extreme_logits_matches_torch(variant):
    """A model whose output layer produces logits of about ±1e4: the fused step stays finite and exact."""
    rng = np.random.default_rng(8)
    x = rng.choice([-1.0, 1.0], size=(6, 5))
    if variant == "softmax_sparse_cce":
        model = _mlp(3, "softmax")
        model.compile(optimizer=ml.SGD(0.0), loss="sparse_categorical_crossentropy")
        y = rng.integers(0, 3, size=6)
        torch_loss = lambda z: F.cross_entropy(z, torch.from_numpy(y))  # noqa: E731
    else:
        model = _mlp(1, "sigmoid")
        model.compile(optimizer=ml.SGD(0.0), loss="binary_crossentropy")
        y = rng.integers(0, 2, size=(6, 1)).astype(float)
        torch_loss = lambda z: F.binary_cross_entropy_with_logits(z, tensor(y))  # noqa: E731
    last = model.layers[-1]
    logits = lambda: model.layer_outputs(x)[-2] @ last.params["weight"] + last.params["bias"]  # noqa: E731
    scale = 1e4 / np.abs(logits()).max()  # scaling W and b scales the logits: the largest is 1e4
    last.params["weight"] *= scale
    last.params["bias"] *= scale
    net = torch_twin(model)

    loss, _ = ml.train_step(model, x, y)  # learning rate 0: the weights stay put, gradients are filled
    logits_t = net(torch.from_numpy(x))
    loss_t = torch_loss(logits_t)
    loss_t.backward()

    assert np.abs(logits()).max() > 5e3
    assert np.isfinite(loss) and all(np.isfinite(g).all() for _, g in model.parameters())
    close(loss, loss_t.item())
    assert_same_gradients(model, net, rtol=1e-10, atol=1e-9)
