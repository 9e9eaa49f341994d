"""Weight initializers: callables `init(shape, rng, dtype) -> array`, resolved by name through `INITIALIZERS`.

fan_in / fan_out are the sizes of a Dense kernel of shape (fan_in, fan_out).
"""
from __future__ import annotations

import math

import numpy as np

from mlplab.core.checks import check_choice, check_number
from mlplab.core.registry import Registry

INITIALIZERS = Registry("initializer")


class Initializer:
    def __call__(self, shape, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> dict:
        return dict(vars(self))

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _fans(shape) -> tuple[int, int]:
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2]) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


@INITIALIZERS.register("zeros")
class Zeros(Initializer):
    """All zeros (the default for biases; for weights it makes every hidden unit identical)."""

    def __call__(self, shape, rng, dtype=np.float32):
        return np.zeros(shape, dtype=dtype)


@INITIALIZERS.register("ones")
class Ones(Initializer):
    def __call__(self, shape, rng, dtype=np.float32):
        return np.ones(shape, dtype=dtype)


@INITIALIZERS.register("constant")
class Constant(Initializer):
    def __init__(self, value: float = 0.0):
        self.value = float(check_number("value", value))

    def __call__(self, shape, rng, dtype=np.float32):
        return np.full(shape, self.value, dtype=dtype)


@INITIALIZERS.register("random_normal", "normal")
class RandomNormal(Initializer):
    """N(mean, stddev²); the seeds' "normal with μ = 0 and σ = 0.1" is RandomNormal(stddev=0.1)."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05):
        self.mean = float(check_number("mean", mean))
        self.stddev = float(check_number("stddev", stddev, low=0))

    def __call__(self, shape, rng, dtype=np.float32):
        return (self.mean + self.stddev * rng.standard_normal(shape)).astype(dtype)


@INITIALIZERS.register("random_uniform", "uniform")
class RandomUniform(Initializer):
    """U[minval, maxval)."""

    def __init__(self, minval: float = -0.05, maxval: float = 0.05):
        self.minval = float(check_number("minval", minval))
        self.maxval = float(check_number("maxval", maxval, low=self.minval, low_open=True))

    def __call__(self, shape, rng, dtype=np.float32):
        return rng.uniform(self.minval, self.maxval, shape).astype(dtype)


@INITIALIZERS.register("variance_scaling")
class VarianceScaling(Initializer):
    """Var(W) = scale / fan, with fan = fan_in, fan_out or their mean ("fan_avg"); uniform or normal
    (Keras's VarianceScaling). scale=1/3, mode="fan_in", "uniform" is PyTorch's nn.Linear default,
    U[−l, l] with l = 1/√fan_in."""

    def __init__(self, scale: float = 1.0, mode: str = "fan_in", distribution: str = "uniform"):
        self.scale = float(check_number("scale", scale, low=0.0, low_open=True))
        self.mode = check_choice("mode", mode, ("fan_in", "fan_out", "fan_avg"))
        self.distribution = check_choice("distribution", distribution, ("uniform", "normal"))

    def __call__(self, shape, rng, dtype=np.float32):
        fan_in, fan_out = _fans(tuple(shape))
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(fan, 1)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return rng.uniform(-limit, limit, shape).astype(dtype)
        return (math.sqrt(variance) * rng.standard_normal(shape)).astype(dtype)


class _NamedScaling(VarianceScaling):
    """A fixed VarianceScaling known by name (glorot, he, lecun): nothing to configure."""

    scale, mode, distribution = 1.0, "fan_in", "uniform"

    def __init__(self):
        pass  # the class attributes above are the settings

    def get_config(self):
        return {}


@INITIALIZERS.register("glorot_uniform", "xavier_uniform")
class GlorotUniform(_NamedScaling):
    """U[−l, l], l = √(6 / (fan_in + fan_out)) (Glorot & Bengio 2010): Keras's default kernel init."""
    mode = "fan_avg"


@INITIALIZERS.register("glorot_normal", "xavier_normal")
class GlorotNormal(_NamedScaling):
    """N(0, 2 / (fan_in + fan_out)) (plain, not truncated)."""
    mode, distribution = "fan_avg", "normal"


@INITIALIZERS.register("he_uniform", "kaiming_uniform")
class HeUniform(_NamedScaling):
    """U[−l, l], l = √(6 / fan_in) (He et al. 2015): for ReLU layers."""
    scale = 2.0


@INITIALIZERS.register("he_normal", "kaiming_normal")
class HeNormal(_NamedScaling):
    """N(0, 2 / fan_in) (plain, not truncated): for ReLU layers."""
    scale, distribution = 2.0, "normal"


@INITIALIZERS.register("lecun_uniform")
class LecunUniform(_NamedScaling):
    """U[−l, l], l = √(3 / fan_in)."""


@INITIALIZERS.register("lecun_normal")
class LecunNormal(_NamedScaling):
    """N(0, 1 / fan_in) (plain, not truncated)."""
    distribution = "normal"


def get_initializer(initializer, argument: str = "kernel_initializer") -> Initializer:
    """Resolve a name or an instance; a plain callable `(shape, rng, dtype)` is accepted too."""
    if callable(initializer) and not isinstance(initializer, (str, dict)):
        return initializer
    return INITIALIZERS.resolve(initializer, argument, "a callable (shape, rng, dtype) -> array")
