"""Lessons for seed 003 (artificial neural networks, TensorFlow/Keras programs).

Importing this module registers all of them; each lives in a `seed003_*` module by topic:

- `seed003_boundaries`: `logistic-regression`, `hidden-space` (§3, classification as a network);
- `seed003_relu`: `relu-approximation` (§4, regression as a sum of ReLU pieces);
- `seed003_mnist`: `mnist` (§7, an MLP on handwritten digits);
- `seed003_overfitting`: `overfitting-regularization` (§8, overfitting, BatchNormalization, Dropout).
"""
from mlplab.lessons import seed003_boundaries; from mlplab.lessons import seed003_mnist; from mlplab.lessons import seed003_overfitting; from mlplab.lessons import seed003_relu

__all__ = ["seed003_boundaries", "seed003_mnist", "seed003_overfitting", "seed003_relu"]
