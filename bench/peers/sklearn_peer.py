"""scikit-learn's MLPClassifier, trained with `partial_fit`.

One `partial_fit` call is one pass over the data it is given: W1 gives it the 4 XOR samples with
batch_size=4 (one SGD step), W2/W3 the whole training set (one epoch). `partial_fit` shuffles the
sample order on every call (shuffle=True), and keeps the Adam state between calls. The estimator
gets a `numpy.random.RandomState` instance, not an int: with an int, every call would re-seed and
replay the same permutation; with the instance each epoch gets a new one, reproducibly.
(`fit(max_iter=1, warm_start=True)` would re-create the Adam optimizer, moments and step count, on
every call, so it is not used.) MLPClassifier keeps float32 input in float32.
"""
import warnings

import numpy as np
import workloads as W

MLPClassifier = None


def setup():
    global MLPClassifier
    import sklearn
    from sklearn.neural_network import MLPClassifier as _MLPClassifier

    MLPClassifier = _MLPClassifier
    warnings.filterwarnings("ignore", module="sklearn")
    return {"sklearn": sklearn.__version__}


def xor(variant, x, y):
    model = MLPClassifier(hidden_layer_sizes=(3,), activation="logistic", solver="sgd", learning_rate_init=W.W1_LR,
                          batch_size=4, momentum=0, random_state=np.random.RandomState(W.SEED))
    y = y.astype(np.int64).ravel()
    model.partial_fit(x, y, classes=np.array([0, 1]))     # the first call builds the net: one step, untimed

    def run(steps):
        for _ in range(steps):
            model.partial_fit(x, y)

    return run


class Classifier:
    def __init__(self, hidden, batch_size, n_in=784, n_out=10):
        self.model = MLPClassifier(hidden_layer_sizes=tuple(hidden), solver="adam", learning_rate_init=W.ADAM_LR,
                                   batch_size=batch_size, random_state=np.random.RandomState(W.SEED))
        self.classes = np.arange(n_out)
        self.first = True

    def train_epoch(self, x, y):
        if self.first:
            self.model.partial_fit(x, y, classes=self.classes)
            self.first = False
        else:
            self.model.partial_fit(x, y)

    def predict(self, x, variant=None):
        return self.model.predict_proba(x)
