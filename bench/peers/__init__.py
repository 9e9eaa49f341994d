"""One module per library, each with the same three entry points, used by bench/workers.py:

- `setup()` imports the library (ImportError: the peer is skipped) and returns its versions;
- `xor(variant, x, y)` builds the W1 XOR net and returns `run(steps)`, which trains `steps` SGD steps;
- `Classifier(hidden, batch_size)` builds a fresh 784-...-10 ReLU/softmax net with Adam; its
  `train_epoch(x, y)` trains one shuffled epoch and `predict(x, variant)` returns class probabilities.
"""
import importlib

MODULES = {"mlplab": "mlplab_peer", "torch": "torch_peer", "keras": "keras_peer", "sklearn": "sklearn_peer",
           "onnxruntime": "onnxruntime_peer"}


def load(lib: str):
    """The peer module for `lib` (the library itself is imported by its setup())."""
    return importlib.import_module(f"peers.{MODULES[lib]}")
