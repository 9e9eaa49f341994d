"""Learning-rate schedules: callables `schedule(step) -> learning_rate`, step = optimizer iterations so far."""
from __future__ import annotations

import math

from mlplab.core.checks import check_bool, check_number


class LearningRateSchedule:
    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def get_config(self) -> dict:
        return dict(vars(self))

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


class StepDecay(LearningRateSchedule):
    """lr = initial · gamma^⌊step / step_size⌋ (PyTorch's StepLR, counted in optimizer steps)."""

    def __init__(self, initial_learning_rate: float, step_size: int, gamma: float = 0.1):
        self.initial_learning_rate = check_number("initial_learning_rate", initial_learning_rate, low=0)
        self.step_size = check_number("step_size", step_size, low=1, integer=True)
        self.gamma = check_number("gamma", gamma, low=0)

    def __call__(self, step):
        return self.initial_learning_rate * self.gamma ** (step // self.step_size)


class ExponentialDecay(LearningRateSchedule):
    """lr = initial · decay_rate^(step / decay_steps) (integer exponent with staircase=True)."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float, staircase: bool = False):
        self.initial_learning_rate = check_number("initial_learning_rate", initial_learning_rate, low=0)
        self.decay_steps = check_number("decay_steps", decay_steps, low=1, integer=True)
        self.decay_rate = check_number("decay_rate", decay_rate, low=0)
        self.staircase = check_bool("staircase", staircase)

    def __call__(self, step):
        exponent = step / self.decay_steps
        if self.staircase:
            exponent = math.floor(exponent)
        return self.initial_learning_rate * self.decay_rate ** exponent


class CosineDecay(LearningRateSchedule):
    """lr = initial · ((1 − alpha)·½(1 + cos(π·min(step, decay_steps)/decay_steps)) + alpha)."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0):
        self.initial_learning_rate = check_number("initial_learning_rate", initial_learning_rate, low=0)
        self.decay_steps = check_number("decay_steps", decay_steps, low=1, integer=True)
        self.alpha = check_number("alpha", alpha, low=0, high=1)

    def __call__(self, step):
        progress = min(step, self.decay_steps) / self.decay_steps
        cosine = 0.5 * (1 + math.cos(math.pi * progress))
        return self.initial_learning_rate * ((1 - self.alpha) * cosine + self.alpha)
