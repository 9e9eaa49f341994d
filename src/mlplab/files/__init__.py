"""Files: the safetensors container, model and weight files, ONNX export, PyTorch interop, checkpoints.

Nothing here ever unpickles: a model file is JSON plus raw tensors, checked before anything is built.
"""
from mlplab.files.atomic import atomic_write
from mlplab.files.container import ModelFileError
from mlplab.files.model_files import load_model, load_weights, save_model, save_weights

save = save_model  # ml.save(model, path)

__all__ = ["ModelFileError", "atomic_write", "load_model", "load_weights", "save", "save_model", "save_weights"]
