"""Backpropagation, explained: one training step of a small network, recorded layer by layer.

Backpropagation is the chain rule with memory. The forward pass keeps each layer's input a_{l−1},
its pre-activation z_l and its output a_l; the backward pass walks the layers in reverse and reuses
them: δ_l = dL/dz_l = dL/da_l ⊙ f'(z_l) (f' from the kept output, e.g. a(1 − a) for the sigmoid),
dL/dW_l = a_{l−1}ᵀ·δ_l, dL/db_l = Σ_samples δ_l and dL/da_{l−1} = δ_l·W_lᵀ, which the layer below
starts from instead of redoing the chain from the loss (dynamic programming). Then SGD steps
W ← W − lr·dL/dW.

`explain_step` does not compute any of this itself: it drives each layer's own `forward` and
`backward`, a Dense layer's linear part (`Dense.linear_part()`, z = xW + b) and its activation
on their own, and reads `layer.grads`; then it checks that its gradients equal those of the backward
pass training runs before taking the step with `ml.SGD`.

>>> trace = explain_default()            # seed 000's XOR 2-3-1 sigmoid network, BCE, SGD lr 0.01
>>> print(trace.to_text())               # doctest: +SKIP
>>> trace.layers[0].grads["weight"].shape
(2, 3)
"""
from mlplab.explain.step import XOR_X, XOR_Y, build_network, demo_network, explain_default, explain_step, parse_layers
from mlplab.explain.trace import LayerTrace, Trace

__all__ = ["LayerTrace", "Trace", "XOR_X", "XOR_Y", "build_network", "demo_network",
           "explain_default", "explain_step", "parse_layers"]
