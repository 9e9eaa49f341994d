"""scikit-learn estimators on mlplab's core: `MLPClassifier` and `MLPRegressor`.

They take scikit-learn's MLP parameters with the same meaning and stopping rule (solver="lbfgs" too, on
scipy's L-BFGS-B), take dense or scipy.sparse input, compute in the input's float type and pass
scikit-learn's own MLP tests, so swapping the import gives comparable results. They add what scikit-learn's MLP lacks: dropout, batch
normalization, an activation per layer, class weights, more optimizers, a choice of loss and early
stopping on the validation loss. `model_` is the trained `ml.Sequential`.

>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> clf = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(32,), random_state=0))
"""
from __future__ import annotations

import copy
import functools
import numbers
import types
import warnings

import numpy as np

try:  # validate_data is scikit-learn >= 1.6
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelBinarizer
    from sklearn.utils.class_weight import compute_sample_weight
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils.multiclass import type_of_target, unique_labels
    from sklearn.utils.validation import _check_sample_weight, check_is_fitted, column_or_1d, validate_data
except ImportError as error:
    raise ImportError(f"mlplab.estimators needs scikit-learn >= 1.6 ({error}): "
                      "pip install 'mlplab[sklearn]'.") from None

import mlplab as ml
from mlplab.core.checks import as_float32, check_number, invalid

# scikit-learn's activation names, then mlplab's own (any name of ml.ACTIVATIONS also works).
SKLEARN_ACTIVATIONS = {"identity": "linear", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}
SOLVERS = ("lbfgs", "sgd", "adam", "rmsprop", "adagrad", "adamw")
NON_FINITE = ("Solver produced non-finite parameter weights. The input data may contain large values and need to "
              "be preprocessed.")  # scikit-learn's message, word for word


class _WriteThrough(list):
    """coefs_ / intercepts_: the model's own arrays; `est.coefs_[i] = new` copies `new` into the model."""

    def __init__(self, arrays, name):
        super().__init__(arrays)
        self.name = name

    def __setitem__(self, index, value):
        _assign(self.name, self[index], value)


def _assign(name, target, value):
    value = np.asarray(value, dtype=target.dtype)
    if value.shape != target.shape:
        raise invalid(name, f"an array of shape {target.shape}", value)
    target[...] = value
MONITORS = ("val_score", "val_loss")
LEARNING_RATES = ("constant", "invscaling", "adaptive")


def _lazy_on_dask(method):
    """A Dask array or DataFrame X gives a lazy result of the same kind, block by block; the fitted
    estimator is shipped to the workers once (one dask.delayed key). Dask is imported only then."""
    @functools.wraps(method)
    def wrapper(self, X):
        if not (hasattr(X, "__dask_graph__") and (hasattr(X, "map_blocks") or hasattr(X, "map_partitions"))):
            return method(self, X)
        import dask

        check_is_fitted(self)
        sample = method(self, np.zeros((1, self.n_features_in_)))  # the output's dtype and width
        shipped = dask.delayed(self, traverse=False)
        if hasattr(X, "map_partitions"):
            import pandas as pd

            meta = (pd.Series(sample[:0], name=method.__name__) if sample.ndim == 1
                    else pd.DataFrame(sample[:0], columns=[f"{method.__name__}_{i}" for i in range(sample.shape[1])]))
            return X.map_partitions(_frame_method, shipped, method.__name__, meta=meta)
        X = X.rechunk({1: -1})
        chunks = (X.chunks[0],) if sample.ndim == 1 else (X.chunks[0], (sample.shape[1],))
        return X.map_blocks(_block_method, shipped, method.__name__, dtype=sample.dtype, chunks=chunks,
                            drop_axis=1 if sample.ndim == 1 else None, meta=sample[:0])
    return wrapper


def _block_method(block, estimator, name):
    return getattr(estimator, name)(block)


def _frame_method(frame, estimator, name):
    import pandas as pd

    out = getattr(estimator, name)(frame.to_numpy())
    if out.ndim == 1:
        return pd.Series(out, index=frame.index, name=name)
    return pd.DataFrame(out, index=frame.index, columns=[f"{name}_{i}" for i in range(out.shape[1])])


class _Stopping(ml.Callback):
    """scikit-learn's stopping rule, checked after every epoch: stop once the training loss (or,
    with early stopping, the monitored validation value) has not improved by at least `tol` for
    more than `n_iter_no_change` epochs in a row; keep the weights of the best validation epoch."""

    def __init__(self, estimator, validation, scale):
        self.estimator, self.validation, self.scale = estimator, validation, scale
        self.best_weights = None
        self.stopped = False

    def on_epoch_end(self, epoch, logs=None):
        est, model = self.estimator, self.model
        loss = logs["loss"] / self.scale
        est.loss_curve_.append(loss)
        est.loss_ = loss
        est.n_iter_ += 1
        est.t_ += est._n_train
        if est.verbose:
            print(f"Iteration {est.n_iter_}, loss = {loss:.8f}")
        if self.validation is None:
            improved = loss < est.best_loss_ - est.tol
            est.best_loss_ = min(est.best_loss_, loss)
        else:
            x_val, y_val, target_val, weight_val = self.validation
            extra = {} if weight_val is None else {"sample_weight": weight_val}
            try:
                val_loss = model.evaluate(x_val, target_val, **extra)["loss"] / self.scale
                score = est._score_outputs(model.predict(x_val), y_val, weight_val)
            except FloatingPointError:  # diverged: scikit-learn carries on and lets the final check speak
                val_loss = score = float("nan")
            est.validation_loss_curve_.append(val_loss)
            est.validation_scores_.append(score)
            value = score if est.monitor == "val_score" else -val_loss
            improved = value >= est._best_value + est.tol
            if value > est._best_value:
                est._best_value = value
                est.best_validation_score_, est.best_validation_loss_ = score, val_loss
                self.best_weights = model.get_weights()
            if est.verbose:
                print(f"Validation score: {score:f}, validation loss: {val_loss:.8f}")
        est._no_improvement_count = 0 if improved else est._no_improvement_count + 1
        if est.solver == "lbfgs":  # L-BFGS stops by scipy's rule (tol, max_fun)
            return
        schedule = est.learning_rate if est.solver == "sgd" else "constant"
        if schedule == "invscaling":  # scikit-learn's lr_init / (t + 1)^power_t, t = samples seen
            est._set_learning_rate(est.learning_rate_init / (est.t_ + 1) ** est.power_t)
        if est._no_improvement_count > est.n_iter_no_change:
            if schedule == "adaptive" and est._learning_rate > 1e-6:  # divide by 5 and go on, as scikit-learn
                est._set_learning_rate(est._learning_rate / 5)
                est._no_improvement_count = 0
                if est.verbose:
                    print(f"No improvement for {est.n_iter_no_change + 1} epochs: learning rate {est._learning_rate:f}")
            else:
                self.stopped = model.stop_training = True


class _BaseMLP(BaseEstimator):
    """What both estimators share: building the Sequential, the training loop, the fitted attributes."""

    _scale = 1.0  # the core's loss divided by scikit-learn's (2 for squared error: mlplab's MSE has no ½)

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, n_iter_no_change=10, max_fun=15000, dropout=0.0, batch_normalization=False,
                 monitor="val_score", dtype=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dropout = dropout
        self.batch_normalization = batch_normalization
        self.monitor = monitor
        self.dtype = dtype

    # -- fitted attributes read from the model ---------------------------------------------------
    @property
    def coefs_(self) -> list[np.ndarray]:
        """Weight matrix W (n_in, n_out) of each Dense layer, input to output: the model's own arrays, so
        in-place edits and `est.coefs_[i] = W` or `est.coefs_ = [...]` change the network."""
        return _WriteThrough([layer.params["weight"] for layer in self._dense()], "coefs_")

    @coefs_.setter
    def coefs_(self, arrays):
        self._assign_all("coefs_", self.coefs_, arrays)

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """Bias vector b of each Dense layer: the model's own arrays, writable like coefs_."""
        return _WriteThrough([layer.params["bias"] for layer in self._dense()], "intercepts_")

    @intercepts_.setter
    def intercepts_(self, arrays):
        self._assign_all("intercepts_", self.intercepts_, arrays)

    @property
    def n_layers_(self) -> int:
        return len(self._dense()) + 1

    @property
    def n_outputs_(self) -> int:
        return self._dense()[-1].units

    @property
    def out_activation_(self) -> str:
        if not self._is_classifier:
            return "exp" if self.loss == "poisson" else "identity"
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _dense(self):
        if not hasattr(self, "model_"):
            raise AttributeError(f"This {type(self).__name__} instance is not fitted yet: call fit first.")
        return [layer for layer in self.model_.layers if isinstance(layer, ml.Dense)]

    @staticmethod
    def _assign_all(name, targets, arrays):
        arrays = list(arrays)
        if len(arrays) != len(targets):
            raise invalid(name, f"a list of {len(targets)} arrays, one per layer", arrays)
        values = [np.asarray(a, dtype=t.dtype) for a, t in zip(arrays, targets)]
        for target, value in zip(targets, values):  # all shapes checked before any copy
            if value.shape != target.shape:
                raise invalid(name, f"arrays of shapes {[t.shape for t in targets]}", value)
        for target, value in zip(targets, values):
            target[...] = value

    @property
    def _optimizer(self):
        """scikit-learn's optimizer attribute, as far as its tests read it: the current learning rate."""
        return types.SimpleNamespace(learning_rate=getattr(self, "_learning_rate", self.learning_rate_init))

    # -- checks -------------------------------------------------------------------------------------
    def _hidden_sizes(self) -> list[int]:
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, numbers.Integral) else list(sizes)
        if any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1 for s in sizes):
            raise invalid("hidden_layer_sizes", "positive integers, e.g. (100,) or (64, 32)", self.hidden_layer_sizes)
        return [int(s) for s in sizes]

    def _per_layer(self, name, value, n_hidden) -> list:
        values = list(value) if isinstance(value, (list, tuple)) else [value] * n_hidden
        if len(values) != n_hidden:
            raise invalid(name, f"one value, or a list with one value per hidden layer ({n_hidden})", value)
        return values

    def check_params(self) -> None:
        check = check_number  # the core's number checks: same messages everywhere
        check("alpha", self.alpha, low=0.0)
        check("learning_rate_init", self.learning_rate_init, low=0.0, low_open=True)
        check("max_iter", self.max_iter, low=1, integer=True)
        check("tol", self.tol, low=0.0)
        check("momentum", self.momentum, low=0.0, high=1.0)
        check("validation_fraction", self.validation_fraction, low=0.0, high=1.0, low_open=True, high_open=True)
        check("beta_1", self.beta_1, low=0.0, high=1.0, high_open=True)
        check("beta_2", self.beta_2, low=0.0, high=1.0, high_open=True)
        check("epsilon", self.epsilon, low=0.0, low_open=True)
        if not (isinstance(self.n_iter_no_change, float) and self.n_iter_no_change == np.inf):
            check("n_iter_no_change", self.n_iter_no_change, low=1, integer=True)  # or np.inf: never stop
        check("power_t", self.power_t, low=0.0)
        check("max_fun", self.max_fun, low=1, integer=True)
        if self.learning_rate not in LEARNING_RATES:
            raise invalid("learning_rate", f"one of {LEARNING_RATES} (used by solver='sgd')", self.learning_rate)
        self._dtype(np.empty(0))
        if not (self.batch_size == "auto" or (isinstance(self.batch_size, numbers.Integral)
                                              and not isinstance(self.batch_size, bool) and self.batch_size >= 1)):
            raise invalid("batch_size", "'auto' or a positive integer", self.batch_size)
        if not (isinstance(self.solver, ml.Optimizer) or self.solver in SOLVERS):
            raise invalid("solver", f"one of {SOLVERS} or an ml.Optimizer instance", self.solver)
        if self.monitor not in MONITORS:
            raise invalid("monitor", f"one of {MONITORS}", self.monitor)
        sizes = self._hidden_sizes()
        for rate in self._per_layer("dropout", self.dropout, len(sizes)):
            check("dropout", rate, low=0.0, high=1.0, high_open=True)
        for name in self._per_layer("activation", self.activation, len(sizes)):
            ml.get_activation(SKLEARN_ACTIVATIONS.get(name, name))  # unknown names list the valid ones
        self._core_loss() if not self._is_classifier else None  # an unknown loss name lists the valid ones

    # -- the network --------------------------------------------------------------------------------
    def _build_model(self, n_features, n_outputs, dtype, seed):
        """Dense → [BatchNormalization → Activation] → [Dropout] per hidden layer, then the output layer."""
        sizes = self._hidden_sizes()
        activations = [SKLEARN_ACTIVATIONS.get(a, a) for a in self._per_layer("activation", self.activation,
                                                                               len(sizes))]
        # scikit-learn's initialisation: weights and intercepts both ~ U(±√(6/(fan_in + fan_out))),
        # √(2/...) when the hidden units are logistic
        factor = 2.0 if activations and all(a == "sigmoid" for a in activations) else 6.0
        fans = [n_features, *sizes, n_outputs]

        def init(layer):
            bound = float(np.sqrt(factor / (fans[layer] + fans[layer + 1])))
            uniform = ml.RandomUniform(-bound, bound)
            return {"kernel_initializer": uniform, "bias_initializer": uniform,
                    "kernel_regularizer": ml.L2(self._l2) if self._l2 else None}

        layers = []
        for index, (units, activation, rate) in enumerate(zip(sizes, activations,
                                                              self._per_layer("dropout", self.dropout, len(sizes)))):
            if self.batch_normalization:
                layers += [ml.Dense(units, **init(index)), ml.BatchNormalization(), ml.Activation(activation)]
            else:
                layers.append(ml.Dense(units, activation, **init(index)))
            if rate:
                layers.append(ml.Dropout(rate))
        layers.append(ml.Dense(n_outputs, self._output_activation(n_outputs), **init(len(sizes))))
        model = ml.Sequential(layers, seed=seed, dtype=dtype)
        model.build((n_features,))
        return model

    def _make_optimizer(self):
        """The solver with scikit-learn's hyper-parameters, rescaled so that training on the core's
        loss (`_scale` times scikit-learn's) takes the same steps: SGD's learning rate and the
        adaptive methods' ε absorb the factor."""
        if isinstance(self.solver, ml.Optimizer):
            return copy.deepcopy(self.solver)
        if self.solver == "lbfgs":
            return ml.LBFGS(tol=self.tol, max_fun=self.max_fun)
        lr, eps = self.learning_rate_init, self.epsilon * self._scale
        if self.solver == "sgd":
            return ml.SGD(lr / self._scale, momentum=self.momentum,
                          nesterov=bool(self.nesterovs_momentum and self.momentum > 0))
        if self.solver == "adam":
            return ml.Adam(lr, beta_1=self.beta_1, beta_2=self.beta_2, epsilon=eps)
        if self.solver == "adamw":
            return ml.AdamW(lr, beta_1=self.beta_1, beta_2=self.beta_2, epsilon=eps)
        if self.solver == "rmsprop":
            return ml.RMSprop(lr, epsilon=eps)
        return ml.Adagrad(lr, epsilon=eps)

    # -- fit ------------------------------------------------------------------------------------------
    def fit(self, X, y, sample_weight=None):
        """Train for up to `max_iter` epochs with scikit-learn's stopping rule; returns self."""
        return self._fit(X, y, sample_weight, incremental=False)

    def _fit(self, X, y, sample_weight, incremental, classes=None):
        self.check_params()
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True: use fit, or early_stopping=False.")
        first = not hasattr(self, "model_") or (not self.warm_start and not incremental)
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             dtype=(np.float64, np.float32), reset=first, y_numeric=not self._is_classifier)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        dtype = self._dtype(X) if first else self.model_.dtype
        X = X.astype(dtype, copy=False)
        target, labels = self._encode_targets(y, first, incremental, classes)
        if incremental and isinstance(getattr(self, "class_weight", None), str):
            raise ValueError("Invalid value for argument `class_weight`: 'balanced' needs all the data at once, "
                             "so partial_fit takes a dict or None. Received: class_weight='balanced'.")
        weights = self._weights(X, y, sample_weight, check_classes=not incremental)
        rng = self._rng()
        model_seed, split_seed = (int(s) for s in rng.integers(2**32, size=2))

        x_train, y_train, t_train, w_train, validation = X, y, target, weights, None
        if self.early_stopping:  # stratified for one output column, as scikit-learn (on the encoded target)
            stratify = target.astype(bool) if self._is_classifier and target.shape[1] == 1 else None
            parts = [X, y, target] + ([] if weights is None else [weights])
            parts = train_test_split(*parts, random_state=split_seed, test_size=self.validation_fraction,
                                     stratify=stratify)
            if parts[1].shape[0] < 2:
                raise ValueError("The validation set is too small: increase `validation_fraction` or the "
                                 f"number of samples. Received: {X.shape[0]} samples, "
                                 f"validation_fraction={self.validation_fraction}.")
            x_train, y_train, t_train = parts[0], parts[2], parts[4]
            w_train = None if weights is None else parts[6]
            validation = (parts[1], parts[3], parts[5], None if weights is None else parts[7])

        n = x_train.shape[0]
        if self._full_batch:
            batch = n
        else:
            batch = min(200, n) if self.batch_size == "auto" else self.batch_size
            if batch > n:
                warnings.warn(f"batch_size={batch} is larger than the {n} training samples: using {n}.")
                batch = n
        mean_weight = 1.0 if w_train is None else float(np.mean(w_train))
        if w_train is not None:
            w_train = w_train / mean_weight  # Σwᵢlᵢ / Σwᵢ per batch, as scikit-learn weighs
            if validation is not None and validation[3] is not None:
                validation = validation[:3] + (validation[3] / mean_weight,)

        # Everything is valid: from here on the estimator changes (and is put back if the solver fails).
        backup = copy.deepcopy(self.__dict__) if hasattr(self, "model_") else dict(self.__dict__)
        self._set_labels(labels)
        # scikit-learn adds alpha/(2·Σw_batch)·‖W‖² to each batch's loss; the core's L2 adds l2·‖W‖².
        self._l2 = self._scale * self.alpha / (2 * batch * mean_weight)
        if first:
            self.model_ = self._build_model(X.shape[1], target.shape[1], dtype, model_seed)
            self.loss_curve_, self.validation_loss_curve_ = [], []
            self.validation_scores_ = [] if self.early_stopping else None
            self.best_loss_ = None if self.early_stopping else np.inf
            self.best_validation_score_ = self.best_validation_loss_ = None
            self._best_value = -np.inf
            self._no_improvement_count = 0
            self.t_ = 0
        else:
            for layer in self.model_.layers:  # alpha or batch size may differ from the last call
                if isinstance(layer, ml.Dense):
                    layer.kernel_regularizer = ml.L2(self._l2) if self._l2 else None
        if not (incremental and getattr(self.model_, "compiled", False)):
            self.model_.compile(optimizer=self._make_optimizer(), loss=self._core_loss())  # fresh optimizer state
            self._learning_rate = self.learning_rate_init
        elif not hasattr(self, "_learning_rate"):  # loaded from a file: the saved optimizer's rate
            rate = self.model_.optimizer.learning_rate
            self._learning_rate = rate * self._scale if isinstance(rate, float) else self.learning_rate_init
        self._n_train = n
        self.n_iter_ = 0
        stopping = _Stopping(self, validation, self._scale)
        extra = {} if w_train is None else {"sample_weight": w_train}
        # scikit-learn's rule inside the estimators: train through a diverging loss (early stopping may still
        # keep a good epoch) and refuse non-finite weights at the end; the core's NaNGuard is off here.
        with np.errstate(all="ignore"):
            self.model_.fit(x_train, t_train, epochs=1 if incremental else self.max_iter, batch_size=batch,
                            shuffle=bool(self.shuffle), callbacks=[stopping], verbose=0, nan_guard=False, **extra)
        if stopping.best_weights is not None:
            self.model_.set_weights(stopping.best_weights, check_finite=False)  # the best validation epoch
        if not all(np.isfinite(w).all() for w in self.model_.get_weights()):
            self.__dict__.clear()
            self.__dict__.update(backup)
            raise ValueError(NON_FINITE)
        if self._full_batch:
            self._lbfgs_result(self.model_.optimizer.result)
        elif not incremental and not stopping.stopped and self.n_iter_ == self.max_iter:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                          "optimization hasn't converged yet.", ConvergenceWarning)
        return self

    @property
    def _full_batch(self) -> bool:
        return self.solver == "lbfgs" or getattr(self.solver, "full_batch", False)

    def _lbfgs_result(self, result) -> None:
        """n_iter_, loss_ and the ConvergenceWarning from scipy's result, as scikit-learn reports them."""
        self.n_iter_ = min(result["nit"], self.max_iter)
        self.loss_ = result["fun"] / self._scale
        if result["status"] != 0:
            warnings.warn(f"lbfgs failed to converge after {self.n_iter_} iteration(s) (status={result['status']}):"
                          f"\n{result['message']}\n\nIncrease the number of iterations to improve the convergence "
                          f"(max_iter={self.max_iter}).", ConvergenceWarning)

    def _check_solver(self) -> bool:
        """partial_fit exists only for the stochastic solvers, as in scikit-learn."""
        if self._full_batch:
            raise AttributeError(f"partial_fit is only available for stochastic optimizers. {self.solver} is not "
                                 "stochastic.")
        return True

    def _set_learning_rate(self, rate) -> None:
        """scikit-learn's SGD learning rate (schedules change it between epochs), in the core's units.

        mlplab's momentum (PyTorch's form) keeps velocity ← μ·velocity + g and steps by lr·velocity;
        scikit-learn keeps lr inside its velocity. So a new rate rescales the velocity by old/new rate:
        the step in flight stays as it was and the new rate applies to new gradients only, as there."""
        optimizer = self.model_.optimizer
        if isinstance(optimizer, ml.SGD) and optimizer.momentum and rate > 0:
            for slots in optimizer.state.values():  # in place: during fit the engine trains on these arrays
                slots["velocity"] *= self._learning_rate / rate
        self._learning_rate = rate
        optimizer.learning_rate = rate / self._scale

    def _dtype(self, X):
        """The network's float type: `dtype`, or with dtype=None (the default) the input's, as scikit-learn:
        float32 input stays float32, anything else is float64."""
        if self.dtype is None:
            return X.dtype
        if self.dtype not in ("float32", "float64", np.float32, np.float64):
            raise invalid("dtype", "'float32', 'float64' or None (the input's)", self.dtype)
        return np.dtype(self.dtype)

    def _rng(self) -> np.random.Generator:
        """A Generator from `random_state` (None, an int or a RandomState): it seeds the model and the split."""
        state = self.random_state
        if isinstance(state, np.random.RandomState):
            return np.random.default_rng(state.randint(2**32, dtype=np.uint64))
        if state is None or isinstance(state, (numbers.Integral, np.random.Generator)):
            return np.random.default_rng(state)
        raise invalid("random_state", "None, an int, a numpy RandomState or Generator", state)

    def _weights(self, X, y, sample_weight, check_classes):
        """Sample weights (times class weights), or None when every weight would be 1."""
        class_weight = getattr(self, "class_weight", None)
        if sample_weight is None and class_weight is None:
            return None
        weights = _check_sample_weight(sample_weight, X, dtype=X.dtype, ensure_non_negative=True)
        if class_weight is not None:
            weights = weights * compute_sample_weight(class_weight, y)
        if not weights.sum() > 0:
            raise invalid("sample_weight", "non-negative weights with a positive sum", sample_weight)
        if check_classes and self._is_classifier and y.ndim == 1 and len(np.unique(y[weights > 0])) < 2:
            raise ValueError("Invalid value for argument `sample_weight`: expected weights that leave at least "
                             "two classes with a positive weight. Received: only one class has weight > 0.")
        return weights

    def _set_labels(self, labels) -> None:
        """Keep what _encode_targets found out about the labels (nothing for a regressor)."""

    # -- mlplab model files -------------------------------------------------------------------------
    def save(self, path) -> None:
        """Write the trained network to an mlplab model file (safetensors: no pickle, no code), with
        the task, class labels and feature names as its preprocessing, so that `ml.load_model`,
        `mlplab predict/inspect/export` and `load` can use it. The training settings are not saved."""
        from mlplab.files.model_files import save_model

        check_is_fitted(self)
        preprocessing = {"task": "classification" if self._is_classifier else "regression",
                         "standardized": False}  # the estimator feeds its input as given
        if not self._is_classifier and self.loss == "poisson":
            raise ValueError("A Poisson MLPRegressor cannot be saved to a model file yet: its network outputs log "
                             "rates, and the file has no place for the exp link. Pickle it with joblib instead.")
        if self._is_classifier:
            if self._label_binarizer.y_type_ == "multilabel-indicator":
                preprocessing["task"] = "multilabel"  # one sigmoid output per label, each p > 0.5 on its own
            preprocessing["class_labels"] = [c.item() if hasattr(c, "item") else c for c in self.classes_]
        if hasattr(self, "feature_names_in_"):
            preprocessing["feature_names"] = [str(name) for name in self.feature_names_in_]
        save_model(self.model_, path, preprocessing=preprocessing)

    @classmethod
    def load(cls, path):
        """An estimator around the network saved at `path` (by `save`, or a model with the same kind of
        output): it predicts and scores, and partial_fit continues with the saved optimizer state.
        hidden_layer_sizes and dtype come from the network; the other parameters are the defaults."""
        from mlplab.files.model_files import load_model

        model = load_model(path)
        preprocessing = model.preprocessing or {}
        task = "classification" if cls._is_classifier else "regression"
        tasks = (None, task, "multilabel") if cls._is_classifier else (None, task)
        if preprocessing.get("task") not in tasks:
            raise ValueError(f"Invalid value for argument `path`: expected a {task} model file for {cls.__name__}. "
                             f"Received: {path}, a {preprocessing['task']} model.")
        dense = [layer for layer in model.layers if isinstance(layer, ml.Dense)]
        estimator = cls(hidden_layer_sizes=tuple(layer.units for layer in dense[:-1]), dtype=model.dtype.name)
        if cls._is_classifier:
            labels = preprocessing.get("class_labels")
            if labels is None:
                units = dense[-1].units
                labels = list(range(2 if units == 1 else units))
            if preprocessing.get("task") == "multilabel":  # label indicator columns, in the saved order
                binarizer = LabelBinarizer().fit(np.eye(len(labels), dtype=int))
                binarizer.classes_ = np.asarray(labels)
            else:
                binarizer = LabelBinarizer().fit(np.asarray(labels))
            estimator._set_labels(binarizer)
        estimator.model_, estimator.n_features_in_ = model, model.input_shape[0]
        if preprocessing.get("feature_names"):
            estimator.feature_names_in_ = np.asarray(preprocessing["feature_names"], dtype=object)
        estimator.loss_curve_, estimator.validation_loss_curve_, estimator.validation_scores_ = [], [], None
        estimator.best_loss_, estimator._best_value, estimator._no_improvement_count = np.inf, -np.inf, 0
        estimator.best_validation_score_ = estimator.best_validation_loss_ = None
        estimator.n_iter_ = estimator.t_ = 0
        return estimator

    def _predict_outputs(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=["csr", "csc"], dtype=(np.float64, np.float32), reset=False)
        if self.model_.dtype == np.float32 and not hasattr(X, "tocsr"):
            X = as_float32("X", X)  # 1e39 is reported as overflow, not as NaN/inf
        try:
            return self.model_.predict(X.astype(self.model_.dtype, copy=False))
        except FloatingPointError:  # a diverged network predicts NaN, as scikit-learn's (the core raises)
            return np.full((X.shape[0], *self.model_.output_shape), np.nan, self.model_.dtype)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = True
        return tags


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multilayer perceptron classifier: softmax (or sigmoid for two classes and for multi-label
    targets) on log loss, with scikit-learn's MLPClassifier parameters plus mlplab's.

    class_weight: None, a dict {label: weight} or "balanced" (n_samples / (n_classes · count)),
    multiplied into sample_weight; the loss is the weighted mean Σwᵢlᵢ/Σwᵢ, as in scikit-learn.
    Fitted: classes_, loss_curve_, validation_loss_curve_, validation_scores_, best_loss_, n_iter_,
    coefs_, intercepts_, n_features_in_, feature_names_in_ (for DataFrames) and model_.
    """

    _is_classifier = True

    @property
    def _scale(self):
        """Multi-label: scikit-learn sums the log loss over the labels, the core averages it."""
        binarizer = getattr(self, "_label_binarizer", None)
        if binarizer is not None and binarizer.y_type_ == "multilabel-indicator":
            return 1.0 / len(binarizer.classes_)
        return 1.0

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, n_iter_no_change=10, max_fun=15000, dropout=0.0, batch_normalization=False,
                 monitor="val_score", dtype=None, class_weight=None):
        super().__init__(hidden_layer_sizes, activation, solver=solver, alpha=alpha, batch_size=batch_size,
                         learning_rate=learning_rate, learning_rate_init=learning_rate_init, power_t=power_t,
                         max_iter=max_iter, shuffle=shuffle,
                         random_state=random_state, tol=tol, verbose=verbose, warm_start=warm_start,
                         momentum=momentum, nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
                         validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         n_iter_no_change=n_iter_no_change, max_fun=max_fun, dropout=dropout,
                         batch_normalization=batch_normalization, monitor=monitor, dtype=dtype)
        self.class_weight = class_weight

    @available_if(lambda est: est._check_solver())
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y), continuing from the current weights and optimizer state. The first
        call needs `classes`, every label that will ever appear; a later call may repeat the same ones."""
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def _encode_targets(self, y, first, incremental, classes):
        if incremental and hasattr(self, "classes_") and classes is not None \
                and not np.array_equal(self.classes_, unique_labels(classes)):
            raise ValueError(f"`classes={classes!r}` is not the same as on last call to partial_fit, was: "
                             f"{self.classes_!r}.")
        if incremental and not hasattr(self, "classes_"):
            if classes is None:
                raise ValueError("Invalid value for argument `classes`: the first call to partial_fit needs every "
                                 "class label, e.g. classes=np.unique(y_all). Received: classes=None.")
            multilabel = type_of_target(y).startswith("multilabel")
            binarizer = LabelBinarizer().fit(y if multilabel else np.asarray(classes))
            if not multilabel and len(np.setdiff1d(unique_labels(y), binarizer.classes_)):
                raise ValueError(f"`y` has classes not in `classes`: `classes` has {binarizer.classes_}, "
                                 f"'y' has {unique_labels(y)}.")
        elif first:
            binarizer = LabelBinarizer().fit(y)
        else:
            binarizer = self._label_binarizer
            labels = unique_labels(y)
            if self.warm_start and not incremental and set(labels) != set(self.classes_):
                raise ValueError(f"warm_start can only be used where `y` has the same classes as in the previous "
                                 f"call to fit. Previously got {self.classes_}, `y` has {labels}.")
            if len(np.setdiff1d(labels, self.classes_)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. "
                                 f"'y' has {labels}.")
        return binarizer.transform(y).astype(np.float64), binarizer

    def _set_labels(self, binarizer):
        self._label_binarizer, self.classes_ = binarizer, binarizer.classes_

    def _output_activation(self, n_outputs):
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "sigmoid"

    def _core_loss(self):
        return "categorical_crossentropy" if self._label_binarizer.y_type_ == "multiclass" else "binary_crossentropy"

    def _score_outputs(self, outputs, y, sample_weight):
        if not np.isfinite(outputs).all():  # a diverged network scores NaN, as in scikit-learn
            return np.nan
        return accuracy_score(y, self._labels(outputs), sample_weight=sample_weight)

    def _labels(self, outputs):
        return self._label_binarizer.inverse_transform(outputs.ravel() if outputs.shape[1] == 1 else outputs)

    @_lazy_on_dask
    def predict(self, X):
        """Class labels (of the type given to fit): argmax of predict_proba, or p > 0.5 per label."""
        return self._labels(self._predict_outputs(X))

    @_lazy_on_dask
    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), columns in the order of classes_."""
        outputs = self._predict_outputs(X)  # in the network's dtype, as scikit-learn's (the input's)
        if outputs.shape[1] == 1 and self._label_binarizer.y_type_ != "multilabel-indicator":
            return np.hstack([1 - outputs, outputs])
        return outputs

    @_lazy_on_dask
    def predict_log_proba(self, X):
        """log(predict_proba(X)), -inf where a probability is 0 (as scikit-learn)."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multilayer perceptron regressor: a linear output layer on the squared error (scikit-learn's
    half squared error, so loss_curve_ and tol match it), or the absolute error, or any mlplab loss.

    Multi-output targets (n_samples, n_outputs) work. Fitted attributes as in MLPClassifier, without classes_.
    """

    _is_classifier = False
    _SKLEARN_LOSSES = {"squared_error": ("mean_squared_error", 2.0), "absolute_error": ("mean_absolute_error", 1.0),
                       "poisson": ("poisson", 1.0)}  # poisson: log link, the network outputs log rates

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000, dropout=0.0,
                 batch_normalization=False, monitor="val_score", dtype=None):
        super().__init__(hidden_layer_sizes, activation, solver=solver, alpha=alpha, batch_size=batch_size,
                         learning_rate=learning_rate, learning_rate_init=learning_rate_init, power_t=power_t,
                         max_iter=max_iter, shuffle=shuffle,
                         random_state=random_state, tol=tol, verbose=verbose, warm_start=warm_start,
                         momentum=momentum, nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
                         validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         n_iter_no_change=n_iter_no_change, max_fun=max_fun, dropout=dropout,
                         batch_normalization=batch_normalization, monitor=monitor, dtype=dtype)
        self.loss = loss

    @property
    def _scale(self):
        return self._SKLEARN_LOSSES.get(self.loss, (None, 1.0))[1] if isinstance(self.loss, str) else 1.0

    def _core_loss(self):
        if isinstance(self.loss, str) and self.loss in self._SKLEARN_LOSSES:
            return self._SKLEARN_LOSSES[self.loss][0]
        loss = ml.get_loss(self.loss)  # an mlplab name or ml.Loss; unknown names list the valid ones
        return loss if isinstance(self.loss, str) else copy.deepcopy(loss)

    @available_if(lambda est: est._check_solver())
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), continuing from the current weights and optimizer state."""
        return self._fit(X, y, sample_weight, incremental=True)

    def _encode_targets(self, y, first, incremental, classes):
        target = y.reshape(len(y), -1)
        if not first and target.shape[1] != self.model_.output_shape[-1]:
            raise invalid("y", f"targets with {self.model_.output_shape[-1]} output(s) as in the previous fit", y)
        return target, None

    def _output_activation(self, n_outputs):
        return "linear"

    def _link(self, outputs):
        """Network outputs → predictions: exp for the Poisson loss (the log link), else as they are."""
        if self.loss == "poisson":
            with np.errstate(over="ignore"):
                return np.exp(outputs)
        return outputs

    def _score_outputs(self, outputs, y, sample_weight):
        outputs = self._link(outputs)
        if not np.isfinite(outputs).all():  # a diverged network scores NaN, as in scikit-learn
            return np.nan
        return r2_score(y, outputs.reshape(y.shape), sample_weight=sample_weight)

    @_lazy_on_dask
    def predict(self, X):
        """Predicted values in the network's dtype, shape (n_samples,) for one output, else (n_samples, n_outputs)."""
        outputs = self._link(self._predict_outputs(X))
        return outputs.ravel() if outputs.shape[1] == 1 else outputs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
