"""mlplab: build, train and understand multilayer perceptrons with an explicit NumPy core.

>>> import mlplab as ml
>>> model = ml.Sequential([ml.Dense(3, activation="sigmoid", input_dim=2), ml.Dense(1, activation="sigmoid")], seed=0)
>>> model.compile(optimizer=ml.SGD(learning_rate=0.5), loss="binary_crossentropy", metrics=["accuracy"])
"""
from .activations import (ACTIVATIONS, ELU, LeakyReLU, Linear, NoGradientError, ReLU, Sigmoid, Softmax, Softplus,
                          Step, Tanh, get_activation)
from .base import Layer
from .callbacks import (Callback, EarlyStopping, History, LambdaCallback, NaNGuard, ProgressBar,
                        ReduceLROnPlateau)
from .gradcheck import GradCheckResult, gradcheck
from .initializers import (INITIALIZERS, Constant, GlorotNormal, GlorotUniform, HeNormal, HeUniform, LecunNormal,
                           LecunUniform, Ones, RandomNormal, RandomUniform, VarianceScaling, Zeros)
from .layers import LAYERS, Activation, BatchNormalization, Dense, Dropout, Flatten
from .features import FEATURES, Features  # registers the "Features" layer in LAYERS
from .losses import (LOSSES, BinaryCrossentropy, CategoricalCrossentropy, Loss, MeanAbsoluteError,
                     MeanSquaredError, SparseCategoricalCrossentropy, get_loss)
from .metrics import METRICS, Accuracy, Metric, R2Score, accuracy, r2_score
from .model import NotCompiledError, Sequential
from .optimizers import OPTIMIZERS, SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop
from .regularizers import L1, L1L2, L2
from .schedules import CosineDecay, ExponentialDecay, LearningRateSchedule, StepDecay
from .training import train_step

__version__ = "0.1.0"

# The outer parts load on first use, so `import mlplab` stays small and the core never imports them.
_LAZY = {"Perceptron": ("perceptron", "Perceptron"), "explain_step": ("explain", "explain_step"),
         "Trace": ("explain", "Trace"), "load_model": ("io", "load_model"),
         "ModelCheckpoint": ("checkpoints", "ModelCheckpoint"), "CSVLogger": ("checkpoints", "CSVLogger"),
         "to_torch": ("interop", "to_torch"), "from_torch": ("interop", "from_torch"), "sweep": ("sweeps", "sweep")}
_SUBMODULES = {"datasets", "preprocessing", "plotting", "lessons", "explain", "perceptron", "cli", "io",
               "onnx_export", "interop", "checkpoints", "estimators", "sweeps"}


def __getattr__(name):
    import importlib

    if name in _LAZY:
        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(f".{module}", __name__), attribute)
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'mlplab' has no attribute {name!r}")
