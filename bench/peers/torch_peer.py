"""PyTorch, CPU, eager, 2 threads: the usual `zero_grad(); loss_fn(model(x), y).backward(); opt.step()` loop.

The data stay NumPy arrays shared with torch (`torch.from_numpy`, no copy). An epoch shuffles with
`torch.randperm` and one gather of the whole set, then slices batches: the fastest plain-tensor way,
and the same work as mlplab's `fit` (a DataLoader would be several times slower at batch 32).
"""
from itertools import pairwise

import workloads as W

torch = None


def setup():
    global torch
    import torch as _torch

    torch = _torch
    torch.set_num_threads(W.TORCH_THREADS)
    torch.manual_seed(W.SEED)
    return {"torch": torch.__version__, "torch_threads": torch.get_num_threads()}


def _init(module):
    if W.TORCH_KERNEL_INIT is not None and isinstance(module, torch.nn.Linear):
        getattr(torch.nn.init, W.TORCH_KERNEL_INIT)(module.weight)
        torch.nn.init.zeros_(module.bias)


def xor(variant, x, y):
    """2-3-1 with a linear output and nn.BCEWithLogitsLoss (the fused sigmoid + BCE), SGD."""
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Sigmoid(), torch.nn.Linear(3, 1))
    model.apply(_init)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    opt = torch.optim.SGD(model.parameters(), lr=W.W1_LR)
    xt = torch.from_numpy(x)
    yt = torch.from_numpy(y.reshape(-1, 1).astype("float32"))

    def run(steps):
        for _ in range(steps):
            opt.zero_grad()
            loss_fn(model(xt), yt).backward()
            opt.step()

    return run


class Classifier:
    """ReLU hidden layers, a linear output and nn.CrossEntropyLoss on the logits; softmax in predict."""

    def __init__(self, hidden, batch_size, n_in=784, n_out=10):
        sizes = [n_in, *hidden]
        modules = []
        for a, b in pairwise(sizes):
            modules += [torch.nn.Linear(a, b), torch.nn.ReLU()]
        modules.append(torch.nn.Linear(sizes[-1], n_out))
        self.model = torch.nn.Sequential(*modules)
        self.model.apply(_init)
        self.loss_fn = torch.nn.CrossEntropyLoss()
        self.opt = torch.optim.Adam(self.model.parameters(), lr=W.ADAM_LR)
        self.batch_size = batch_size
        self.generator = torch.Generator().manual_seed(W.SEED)

    def train_epoch(self, x, y):
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        order = torch.randperm(len(xt), generator=self.generator)
        xs, ys = xt[order], yt[order]
        model, loss_fn, opt, b = self.model, self.loss_fn, self.opt, self.batch_size
        model.train()
        for start in range(0, len(xs), b):
            opt.zero_grad()
            loss_fn(model(xs[start:start + b]), ys[start:start + b]).backward()
            opt.step()

    def predict(self, x, variant=None):
        self.model.eval()
        with torch.inference_mode():
            return torch.softmax(self.model(torch.from_numpy(x)), dim=1).numpy()
