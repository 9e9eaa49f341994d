"""onnxruntime: the mlplab model exported to ONNX (`model.export_onnx`) and run by an InferenceSession.

Inference only (W4, W6): the network is trained by mlplab, exported, and loaded into onnxruntime.
Variant "1thread" sets intra_op_num_threads=1 (the issue's one-row comparison); otherwise
onnxruntime picks its threads itself.
"""
import os
import tempfile

import workloads as W

ort = None


def setup():
    global ort
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"   # before the import
    import onnx  # noqa: F401  (export needs it)
    import onnxruntime as _ort

    from peers import mlplab_peer

    ort = _ort
    return {"onnxruntime": ort.__version__, **mlplab_peer.setup()}  # mlplab trains and exports


def xor(variant, x, y):
    raise NotImplementedError("onnxruntime runs inference only")


class Classifier:
    """An mlplab classifier for training; predict runs the exported model in onnxruntime."""

    def __init__(self, hidden, batch_size, n_in=784, n_out=10):
        from peers.mlplab_peer import Classifier as MlplabClassifier

        self.trainer = MlplabClassifier(hidden, batch_size, n_in, n_out)
        self.sessions = {}

    def train_epoch(self, x, y):
        self.trainer.train_epoch(x, y)
        self.sessions.clear()

    def session(self, variant):
        if variant not in self.sessions:
            options = ort.SessionOptions()
            if variant == "1thread":
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
            with tempfile.TemporaryDirectory() as folder:
                path = os.path.join(folder, "model.onnx")
                self.trainer.model.export_onnx(path)
                session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
            self.sessions[variant] = (session, session.get_inputs()[0].name, [session.get_outputs()[0].name])
        return self.sessions[variant]

    def predict(self, x, variant=None):
        session, name, outputs = self.session(variant)
        return session.run(outputs, {name: x})[0]
