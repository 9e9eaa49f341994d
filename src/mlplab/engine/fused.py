"""The fused output: a softmax/sigmoid output layer with its cross-entropy trains from the logits
(log-sum-exp, gradient p - y) through a copy of the last layer without its activation."""
from __future__ import annotations

from mlplab.core.activations import Sigmoid, Softmax
from mlplab.core.checks import invalid
from mlplab.core.layers import Activation, Dense
from mlplab.core.losses import BinaryCrossentropy, CategoricalCrossentropy, Loss, SparseCategoricalCrossentropy


def output_plan(layers, loss: Loss):
    """(layers to run, fused loss or None). With a softmax/sigmoid output and its cross-entropy, the
    last layer runs as a copy without its activation and the loss takes the logits (from_logits=True)."""
    check_output_matches_loss(layers, loss)
    last = layers[-1]
    activation = getattr(last, "activation", None)
    fusable = (isinstance(activation, Softmax) and isinstance(loss, (CategoricalCrossentropy,
                                                                     SparseCategoricalCrossentropy))
               or isinstance(activation, Sigmoid) and isinstance(loss, BinaryCrossentropy))
    if loss.from_logits or not fusable or type(last) not in (Dense, Activation):
        return list(layers), None
    if isinstance(last, Activation):
        return list(layers[:-1]), loss.with_logits()
    return [*layers[:-1], last.linear_part()], loss.with_logits()


def check_output_matches_loss(layers, loss: Loss) -> None:
    """A loss that takes logits after a layer that already applies sigmoid/softmax would apply it twice."""
    activation = getattr(layers[-1], "activation", None) if layers else None
    if loss.from_logits and isinstance(activation, (Sigmoid, Softmax)):
        kind = type(activation).__name__.lower()
        raise invalid("loss", f"a loss on probabilities, since the last layer {layers[-1].name!r} already applies "
                              f"{kind}: drop from_logits=True (training fuses {kind} with its cross-entropy by "
                              f"itself), or make the last layer linear", loss)


def fused_loss_name(model) -> str | None:
    """'softmax' or 'sigmoid' when training fuses that output with the loss, else None."""
    if not getattr(model, "compiled", False) or not model.layers:
        return None
    _, fused = output_plan(model.layers, model.loss)
    return None if fused is None else type(model.layers[-1].activation).__name__.lower()
