"""The engine: every speed trick of mlplab lives here, and nowhere else. Only `mlplab.model` and
`mlplab.training` use it; everything else goes through the model's public methods.

Layers, losses and optimizers are written the textbook way (mlplab.core). `fit`, `evaluate`,
`predict` and `train_step` run them through these modules, each trick with a test that it gives the
plain computation's numbers:

- `buffers`: flat buffers (Lua Torch's `getParameters()`, one explicit packing step when training
  starts), the training step through the model's own chain-rule loop stopped at the lowest trainable
  layer, an optimizer's fused form when it names one (Adam: `kernels`, one compiled pass), shuffled
  batches gathered into one reused buffer, and per-epoch diagnostics kept compact;
- `fused`: a softmax/sigmoid output with its cross-entropy trains from the logits (log-sum-exp,
  gradient p − y) through the last layer's `linear_part()`;
- `inference`: inference that stores nothing, common activations in place, predict in chunks sharing
  their buffers, large inputs checked for NaN/inf through the first Dense layer's smaller z;
- `compiled`: predict's compiled stack of Dense layers (`_infer.c`), the same bits for a row whatever
  its batch, within a proven rounding bound of the plain forward; an einsum twin without it;
- `outofcore`: Dask collections in predict (lazy, the model shipped once) and fit over chunks.
"""
from mlplab.engine.buffers import Engine, engine_for
from mlplab.engine.fused import fused_loss_name, output_plan
from mlplab.engine.inference import evaluate_arrays, forward_inference, predict

__all__ = ["Engine", "engine_for", "evaluate_arrays", "forward_inference", "fused_loss_name", "output_plan",
           "predict"]
