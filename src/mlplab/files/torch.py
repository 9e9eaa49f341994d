"""PyTorch interop: `to_torch(model)` and `from_torch(module)` for stacks of Linear / activations /
Dropout / BatchNorm1d / Flatten, with the same weights (PyTorch stores Linear weights as (out, in),
mlplab as (in, out), so they are transposed on the way). torch is imported only when called.

>>> module = ml.to_torch(model)            # doctest: +SKIP
>>> model = ml.from_torch(module)          # doctest: +SKIP
"""
from __future__ import annotations

import numpy as np

from mlplab.core.activations import ELU, LeakyReLU, Linear, ReLU, Sigmoid, Softmax, Softplus, Tanh
from mlplab.core.layers import Activation, BatchNormalization, Dense, Dropout, Flatten


def _torch():
    try:
        import torch
    except ImportError:
        raise ImportError("PyTorch interop needs torch: pip install torch.") from None
    return torch


def to_torch(model):
    """An equivalent `torch.nn.Sequential` (in eval mode, the model's dtype) with copies of the weights.

    BatchNormalization's momentum becomes PyTorch's 1 − momentum (the two libraries weight the running
    average the other way round); PyTorch updates running_var with the unbiased batch variance, so
    only inference (and training batches) agree exactly, not the running statistics after training.
    """
    torch = _torch()
    nn = torch.nn
    if not model.built:
        raise ValueError("The model is not built yet: fit it or call model.build(input_shape) before to_torch.")
    dtype = torch.float64 if model.dtype == np.float64 else torch.float32
    modules, shape = [], model.input_shape
    for layer in model.layers:
        if isinstance(layer, Dense):
            linear = nn.Linear(shape[0], layer.units, bias=layer.use_bias, dtype=dtype)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(layer.params["weight"].T)))
                if layer.use_bias:
                    linear.bias.copy_(torch.from_numpy(layer.params["bias"]))
            modules.append(linear)
            modules += _torch_activation(nn, layer.activation, layer.name)
        elif isinstance(layer, Activation):
            modules += _torch_activation(nn, layer.activation, layer.name)
        elif isinstance(layer, Dropout):
            modules.append(nn.Dropout(layer.rate))
        elif isinstance(layer, Flatten):
            modules.append(nn.Flatten())
        elif isinstance(layer, BatchNormalization):
            if len(shape) != 1:
                raise ValueError(f"Cannot convert layer {layer.name!r}: BatchNorm1d normalizes axis 1, so only "
                                 f"(n_samples, features) inputs convert. Received: input shape (None, *{shape}).")
            norm = nn.BatchNorm1d(shape[0], eps=layer.epsilon, momentum=1 - layer.momentum, dtype=dtype)
            with torch.no_grad():
                for target, source in ((norm.weight, layer.params["gamma"]), (norm.bias, layer.params["beta"]),
                                       (norm.running_mean, layer.state["moving_mean"]),
                                       (norm.running_var, layer.state["moving_variance"])):
                    target.copy_(torch.from_numpy(source))
            modules.append(norm)
        else:
            raise ValueError(f"Cannot convert layer {layer.name!r} of type {type(layer).__name__} to PyTorch.")
        shape = layer.compute_output_shape(shape)
    return nn.Sequential(*modules).eval()


def _torch_activation(nn, activation, where):
    kind = type(activation)
    if kind is Linear:
        return []
    simple = {Sigmoid: nn.Sigmoid, Tanh: nn.Tanh, ReLU: nn.ReLU, Softplus: nn.Softplus}
    if kind in simple:
        return [simple[kind]()]
    if kind is LeakyReLU:
        return [nn.LeakyReLU(activation.alpha)]
    if kind is ELU:
        return [nn.ELU(activation.alpha)]
    if kind is Softmax:
        return [nn.Softmax(dim=-1)]
    raise ValueError(f"Cannot convert activation {kind.__name__} of layer {where!r} to PyTorch (no torch module "
                     "computes it with a gradient).")


def from_torch(module, *, input_shape=None, seed=None):
    """An mlplab Sequential equal to `module` (a torch.nn.Sequential, nested ones flattened).

    An activation right after a Linear becomes that Dense layer's activation. `input_shape` is needed
    only when the first module is not a Linear (e.g. Flatten for images: input_shape=(28, 28)).
    """
    torch = _torch()
    from mlplab.core.registry import MODELS

    Sequential = MODELS.get("sequential")

    nn = torch.nn
    modules = list(_flatten_modules(nn, module))
    layers, weights, dtype = [], [], None
    for index, child in enumerate(modules):
        if isinstance(child, nn.Linear):
            dtype = dtype or child.weight.dtype
            dense = Dense(child.out_features, use_bias=child.bias is not None,
                          input_dim=child.in_features if not layers else None)
            layers.append(dense)
            weights.append(child.weight.detach().cpu().numpy().T)
            if child.bias is not None:
                weights.append(child.bias.detach().cpu().numpy())
            continue
        activation = _mlplab_activation(nn, child)
        if activation is not None:
            last = layers[-1] if layers else None
            if isinstance(last, Dense) and isinstance(last.activation, Linear) and isinstance(modules[index - 1],
                                                                                               nn.Linear):
                last.activation = activation
            else:
                layers.append(Activation(activation))
        elif isinstance(child, nn.Dropout):
            layers.append(Dropout(child.p))
        elif isinstance(child, nn.Flatten):
            if child.start_dim != 1 or child.end_dim != -1:
                raise ValueError(f"Cannot convert {child!r}: only Flatten(start_dim=1, end_dim=-1) converts.")
            layers.append(Flatten(input_shape=tuple(input_shape) if input_shape and not layers else None))
        elif isinstance(child, nn.BatchNorm1d):
            if child.momentum is None or not child.track_running_stats:
                raise ValueError(f"Cannot convert {child!r}: mlplab's BatchNormalization keeps running statistics "
                                 "with a fixed momentum (momentum=None or track_running_stats=False do not convert).")
            layers.append(BatchNormalization(momentum=1 - child.momentum, epsilon=child.eps))
            features = child.num_features
            gamma = child.weight.detach().cpu().numpy() if child.affine else np.ones(features)
            beta = child.bias.detach().cpu().numpy() if child.affine else np.zeros(features)
            weights += [gamma, beta, child.running_mean.cpu().numpy(), child.running_var.cpu().numpy()]
        else:
            raise ValueError(f"Cannot convert {type(child).__name__} to mlplab: supported modules are Linear, "
                             "Sigmoid, Tanh, ReLU, LeakyReLU, ELU, Softplus, Softmax(dim=-1), Identity, Dropout, "
                             "BatchNorm1d and Flatten.")
    if not layers:
        raise ValueError("Cannot convert an empty module: it has no layers.")
    numpy_dtype = "float64" if dtype == torch.float64 else "float32"
    model = Sequential(layers, seed=seed, dtype=numpy_dtype)
    if not model.built:
        if input_shape is None:
            raise ValueError("Invalid value for argument `input_shape`: the first module is not a Linear, so the "
                             "input shape is needed, e.g. input_shape=(28, 28). Received: input_shape=None.")
        model.build(tuple(input_shape))
    model.set_weights(weights)
    return model


def _flatten_modules(nn, module):
    if not isinstance(module, nn.Module):
        raise TypeError(f"Invalid type for argument `module`: expected a torch.nn.Sequential. Received: {module!r}.")
    if isinstance(module, nn.Sequential):
        for child in module:
            yield from _flatten_modules(nn, child)
    elif not isinstance(module, nn.Identity):
        yield module


def _mlplab_activation(nn, child):
    if isinstance(child, nn.Softplus) and (child.beta != 1 or child.threshold < 20):
        raise ValueError(f"Cannot convert {child!r}: only Softplus(beta=1) converts.")
    if isinstance(child, nn.Softmax) and child.dim not in (-1, 1):
        raise ValueError(f"Cannot convert {child!r}: only a softmax over the last axis (dim=-1) converts.")
    simple = {nn.Sigmoid: Sigmoid, nn.Tanh: Tanh, nn.ReLU: ReLU, nn.Softplus: Softplus, nn.Softmax: Softmax}
    for torch_class, ours in simple.items():
        if type(child) is torch_class:
            return ours()
    if type(child) is nn.LeakyReLU:
        return LeakyReLU(child.negative_slope)
    if type(child) is nn.ELU:
        return ELU(child.alpha)
    return None
