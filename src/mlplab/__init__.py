"""mlplab: build, train and understand multilayer perceptrons with an explicit NumPy core.

>>> import mlplab as ml
>>> model = ml.Sequential([ml.Dense(3, activation="sigmoid", input_dim=2), ml.Dense(1, activation="sigmoid")], seed=0)
>>> model.compile(optimizer=ml.SGD(learning_rate=0.5), loss="binary_crossentropy", metrics=["accuracy"])
"""
from .core.activations import (ACTIVATIONS, ELU, LeakyReLU, Linear, NoGradientError, ReLU, Sigmoid, Softmax, Softplus,
                          Step, Tanh, get_activation)
from .core.base import Layer
from .core.callbacks import (Callback, EarlyStopping, History, LambdaCallback, NaNGuard, ProgressBar,
                        ReduceLROnPlateau)
from .core.gradcheck import GradCheckResult, gradcheck
from .core.initializers import (INITIALIZERS, Constant, GlorotNormal, GlorotUniform, HeNormal, HeUniform, LecunNormal,
                           LecunUniform, Ones, RandomNormal, RandomUniform, VarianceScaling, Zeros)
from .core.layers import LAYERS, Activation, BatchNormalization, Dense, Dropout, Flatten
from .core.features import FEATURES, Features  # registers the "Features" layer in LAYERS
from .core.losses import (LOSSES, BinaryCrossentropy, CategoricalCrossentropy, Loss, MeanAbsoluteError,
                     MeanSquaredError, Poisson, SparseCategoricalCrossentropy, get_loss)
from .core.metrics import METRICS, Accuracy, Metric, R2Score, accuracy, r2_score
from .model import NotCompiledError, Sequential
from .core.optimizers import LBFGS, OPTIMIZERS, SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop
from .core.regularizers import L1, L1L2, L2
from .core.schedules import CosineDecay, ExponentialDecay, LearningRateSchedule, StepDecay
from .training import train_step

from .version import __version__

# The outer parts load on first use, so `import mlplab` stays small and the core never imports them.
_LAZY = {"Perceptron": ("core.perceptron", "Perceptron"), "explain_step": ("explain", "explain_step"),
         "Trace": ("explain", "Trace"), "save": ("files", "save"), "load_model": ("files", "load_model"),
         "ModelFileError": ("files", "ModelFileError"),
         "ModelCheckpoint": ("files.checkpoints", "ModelCheckpoint"), "CSVLogger": ("files.checkpoints", "CSVLogger"),
         "to_torch": ("files.torch", "to_torch"), "from_torch": ("files.torch", "from_torch"),
         "sweep": ("sweeps", "sweep")}
_SUBMODULES = {"core", "engine", "files", "datasets", "preprocessing", "plotting", "lessons", "explain", "cli",
               "estimators", "sweeps", "playground"}
# The core's modules by their short names too: ml.activations is mlplab.core.activations.
_CORE = {"activations", "base", "callbacks", "checks", "features", "gradcheck", "initializers", "layers", "losses",
         "metrics", "optimizers", "perceptron", "registry", "regularizers", "schedules"}


def __getattr__(name):
    import importlib

    if name in _LAZY:
        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(f".{module}", __name__), attribute)
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _CORE:
        return importlib.import_module(f".core.{name}", __name__)
    raise AttributeError(f"module 'mlplab' has no attribute {name!r}")
