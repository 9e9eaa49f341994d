"""The classes of silent failure, each tested over the whole class (issue 15 item 4, issue 20 item 4): every
constructor argument of every registered class is enumerated from its signature, every initializer from
the registry, every public method of Sequential from a table; nothing here is a single hand-picked case."""
import copy
import inspect
import math
import re

import numpy as np
import pytest

import mlplab as ml
from mlplab.core import callbacks, schedules
from mlplab.core.activations import ACTIVATIONS
from mlplab.core.initializers import INITIALIZERS, Constant, RandomNormal, RandomUniform, VarianceScaling
from mlplab.core.layers import LAYERS
from mlplab.core.losses import LOSSES
from mlplab.core.metrics import METRICS
from mlplab.core.optimizers import OPTIMIZERS, Optimizer
from mlplab.core.regularizers import REGULARIZERS
from mlplab.files import checkpoints
from mlplab.preprocessing import one_hot

# -- every configurable class and its arguments, from the signatures --------------------------------------

REQUIRED = {"Dense": dict(units=2), "Dropout": dict(rate=0.5), "Activation": dict(activation="relu"),
            "CosineDecay": dict(initial_learning_rate=0.1, decay_steps=10),
            "ExponentialDecay": dict(initial_learning_rate=0.1, decay_steps=10, decay_rate=0.5),
            "StepDecay": dict(initial_learning_rate=0.1, step_size=2),
            "CSVLogger": dict(path="log.csv"), "ModelCheckpoint": dict(path="model.st")}
INFINITY_DOCUMENTED = set()  # (class, argument) pairs whose docs give ±inf a meaning: none so far
UNANNOTATED_FLOATS = {"learning_rate", "clipnorm", "clipvalue", "global_clipnorm"}  # Optimizer's shared ones
CHOICES = {"mode", "reduction", "distribution"}  # string arguments with a fixed set of values


def _classes():
    seen = []
    for registry in (LAYERS, OPTIMIZERS, INITIALIZERS, REGULARIZERS, ACTIVATIONS, LOSSES, METRICS):
        for name in registry.names():
            if registry.get(name) not in seen:
                seen.append(registry.get(name))
    for module, base in ((schedules, schedules.LearningRateSchedule), (callbacks, callbacks.Callback),
                         (checkpoints, callbacks.Callback)):
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, base) and cls.__module__ == module.__name__ and cls not in seen:
                seen.append(cls)
    return seen


def _arguments(cls):
    """(name, annotation) of every keyword argument of cls, the optimizers' shared ones included."""
    params = dict(inspect.signature(cls).parameters)
    passes_on = any(p.kind is p.VAR_KEYWORD for p in params.values())  # **kwargs: the base's arguments too
    if issubclass(cls, Optimizer) and passes_on:
        params.update(inspect.signature(Optimizer).parameters)
    return [(p.name, _annotation(p)) for p in params.values() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def _annotation(parameter):
    if parameter.name in UNANNOTATED_FLOATS:
        return "float"
    if parameter.annotation is parameter.empty and isinstance(parameter.default, (bool, float)):
        return type(parameter.default).__name__
    return str(parameter.annotation)


def _cases(kind):
    cases = []
    for cls in _classes():
        for name, annotation in _arguments(cls):
            is_float = annotation in ("float", "float | None")
            if (kind == "float" and is_float or kind == "bool" and annotation == "bool"
                    or kind == "choice" and name in CHOICES):
                cases.append(pytest.param(cls, name, id=f"{cls.__name__}-{name}"))
    return cases


def _make(cls, **kwargs):
    return cls(**{**REQUIRED.get(cls.__name__, {}), **kwargs})


def test_the_enumeration_sees_the_whole_class():
    names = {p.id for p in _cases("float")}
    assert {"BatchNormalization-epsilon", "BatchNormalization-momentum", "Dropout-rate", "Adam-beta_1",
            "SGD-clipnorm", "L1L2-l2", "LeakyReLU-alpha", "ExponentialDecay-decay_rate", "EarlyStopping-baseline",
            "ReduceLROnPlateau-min_lr", "RandomNormal-stddev", "Accuracy-threshold"} <= names
    assert {"Dense-use_bias", "SGD-nesterov", "Adam-fused", "ExponentialDecay-staircase",
            "EarlyStopping-restore_best_weights", "BinaryCrossentropy-from_logits"} <= {p.id for p in _cases("bool")}


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
@pytest.mark.parametrize("cls, name", _cases("float"))
def test_every_float_hyper_parameter_is_finite(cls, name, value):
    if (cls.__name__, name) in INFINITY_DOCUMENTED:
        pytest.skip("infinity is documented for this argument")
    with pytest.raises(ValueError, match=rf"`{name}`.*(finite|in \[)"):
        _make(cls, **{name: value})


@pytest.mark.parametrize("value", ["False", 0, 1, None, np.array([True])])
@pytest.mark.parametrize("cls, name", _cases("bool"))
def test_every_flag_is_a_bool(cls, name, value):
    with pytest.raises(TypeError, match=rf"`{name}`: expected True or False"):
        _make(cls, **{name: value})
    assert getattr(_make(cls, **{name: np.bool_(False)}), name) is False


@pytest.mark.parametrize("cls, name", _cases("choice"))
def test_every_choice_lists_its_values(cls, name):
    with pytest.raises(ValueError, match=rf"`{name}`: expected '"):
        _make(cls, **{name: "bogus"})


@pytest.mark.parametrize("cls", [c for c in _classes() if "monitor" in inspect.signature(c).parameters],
                         ids=lambda c: c.__name__)
@pytest.mark.parametrize("monitor", [None, 3, ["val_loss"]])
def test_a_monitor_is_a_string(cls, monitor):
    with pytest.raises(TypeError, match=r"`monitor`.*expected (a string|the name of a logged value)"):
        _make(cls, monitor=monitor)


# -- every array a layer receives from an initializer -----------------------------------------------------

def _initializers():
    return sorted({type(INITIALIZERS.resolve(n, "kernel_initializer", "")).__name__: n
                   for n in INITIALIZERS.names()}.values())


CORRUPTIONS = {  # what a broken initializer may return, and the message it must give
    "none": (lambda w: None, TypeError, r"NoneType"),
    "wrong-shape": (lambda w: np.zeros((w.shape[0] + 1, *w.shape[1:])), ValueError, r"of shape"),
    "strings": (lambda w: np.full(w.shape, "a"), TypeError, r"numeric"),
    "nan": (lambda w: np.full(w.shape, np.nan), ValueError, r"finite"),
    "overflow": (lambda w: np.full(w.shape, 1e39), ValueError, r"float32's range"),
    "ragged": (lambda w: [[0.0]] + [[0.0, 0.0]], TypeError, r"ragged"),
}


@pytest.mark.parametrize("corruption", CORRUPTIONS)
@pytest.mark.parametrize("argument", ["kernel_initializer", "bias_initializer"])
@pytest.mark.parametrize("initializer", _initializers())
def test_every_initializer_output_is_checked(initializer, argument, corruption):
    change, error, message = CORRUPTIONS[corruption]
    real = INITIALIZERS.resolve(initializer, argument, "")
    broken = lambda shape, rng, dtype: change(np.asarray(real(shape, rng, dtype)))  # noqa: E731
    model = ml.Sequential([ml.Dense(3, "relu", input_dim=2)], seed=0)
    before = model.get_weights()
    with pytest.raises(error, match=rf"`{argument}`.*{message}|`{argument}`.*layer 'dense_1'"):
        model.add(ml.Dense(2, **{argument: broken}))
    assert len(model.layers) == 1 and all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    with pytest.raises(error, match=r"layer 'dense'"):
        ml.Sequential([ml.Dense(2, input_dim=3, **{argument: broken})])


@pytest.mark.parametrize("initializer", [Constant(1e39), RandomNormal(stddev=1e300), RandomNormal(mean=-1e39),
                                         RandomUniform(-1e300, 1e300), VarianceScaling(scale=1e300)],
                         ids=repr)
def test_initializers_beyond_float32_are_refused_at_build_and_fine_in_float64(initializer):
    with pytest.raises(ValueError, match=r"`kernel_initializer`.*representable in float32.*layer 'dense'"):
        ml.Sequential([ml.Dense(3, input_dim=2, kernel_initializer=initializer)])
    model = ml.Sequential([ml.Dense(3, input_dim=2, kernel_initializer=initializer)], dtype="float64")
    assert np.isfinite(model.get_weights()[0]).all()


@pytest.mark.parametrize("bad, error, message", [
    (None, TypeError, r"`weights`: expected a list"),
    ("w", TypeError, r"`weights`: expected a list"),
    (lambda ws: [[[0.0]] + [[0.0, 1.0]]] + ws[1:], TypeError, r"`weights\[0\]`.*layer 'layer'.*ragged"),
    (lambda ws: [np.full_like(ws[0], 1e39, dtype=float)] + ws[1:], ValueError, r"float32's range.*layer 'layer'"),
    (lambda ws: ws[:-1] + [np.full(ws[-1].shape, np.nan)], ValueError, r"`weights\[\d\]`.*finite"),
    (lambda ws: ws[:-1] + [ws[-1].astype(str)], TypeError, r"numeric"),
    (lambda ws: ws[:-1], ValueError, r"`weights`: expected a list of \d arrays"),
], ids=["none", "string", "ragged", "overflow", "nan", "strings", "count"])
@pytest.mark.parametrize("make", [lambda: ml.Dense(3, name="layer"), lambda: ml.BatchNormalization(name="layer")],
                         ids=["Dense", "BatchNormalization"])
def test_every_layer_checks_what_set_weights_gives_it(make, bad, error, message):
    layer = make()
    layer.build((4,), np.random.default_rng(0))
    before = layer.get_weights()
    with pytest.raises(error, match=message):
        layer.set_weights(bad(layer.get_weights()) if callable(bad) else bad)
    assert all(np.array_equal(a, b) for a, b in zip(before, layer.get_weights()))


def test_a_custom_layer_that_creates_non_finite_parameters_is_named():
    class Scale(ml.Layer):
        def _create_params(self, input_shape):
            self.params["scale"] = np.full(input_shape, np.inf, self.dtype)

        def compute_output_shape(self, input_shape):
            return input_shape

    with pytest.raises(ValueError, match=r"Layer 'scale' \(Scale\) created 'scale'"):
        ml.Sequential([Scale()]).build((2,))


# -- inference that overflows inside the network ------------------------------------------------------------

HIDDEN = ["linear", "relu", "tanh", "sigmoid", "elu", "softplus", "leaky_relu"]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("output", ["softmax", "sigmoid", "linear"])
def test_predict_never_returns_non_finite_values_for_finite_input(hidden, output, seed):
    model = ml.Sequential([ml.Dense(4, hidden, input_dim=2), ml.Dense(3, output)], seed=seed)
    x = np.array([[1.0, -2.0], [3e38, 3e38], [-3e38, 3e38]], np.float32)
    try:
        out = model.predict(x)
    except FloatingPointError as err:
        assert re.search(r"Layer 'dense(_1)?' \(Dense\) produced non-finite values.*row [12] of x", str(err))
    else:
        assert np.isfinite(out).all()
    assert np.isfinite(model.predict(x[:1])).all()  # the fast path is untouched for ordinary rows


def test_predict_names_the_first_layer_that_overflows():
    model = ml.Sequential([ml.Dense(4, input_dim=2, kernel_initializer="ones"), ml.Dense(3, "softmax")], seed=0)
    x = np.ones((3000, 2), np.float32)  # several chunks: the bad row is found in the third
    x[2500] = 3e38
    with pytest.raises(FloatingPointError, match=r"Layer 'dense' \(Dense\).*row 2500 of x.*overflow float32"):
        model.predict(x)
    assert np.isfinite(ml.Sequential([ml.Dense(4, input_dim=2, kernel_initializer="ones"), ml.Dense(3, "softmax")],
                                     dtype="float64", seed=0).predict(x)).all()


def test_predict_with_non_finite_weights_says_so():
    model = ml.Sequential([ml.Dense(4, "relu", input_dim=2), ml.Dense(1)], seed=0)
    weights = model.get_weights()
    weights[2][0, 0] = np.nan
    model.set_weights(weights, check_finite=False)
    with pytest.raises(FloatingPointError, match=r"Layer 'dense_1'.*weights hold NaN/inf"):
        model.predict(np.ones((2, 2)))


@pytest.mark.parametrize("loss, y", [("mse", 1e20), ("mae", 3e38), ("mse", 1e30)])
def test_evaluate_never_reports_an_overflowed_loss(loss, y):
    model = ml.Sequential([ml.Dense(4, "relu", input_dim=2), ml.Dense(1)], seed=0)
    model.compile("sgd", loss)
    x = np.full((4, 2), 1e20)
    with pytest.raises(FloatingPointError, match=r"overflow"):
        model.evaluate(x, np.full((4, 1), y))
    assert np.isfinite(model.evaluate(np.ones((4, 2)), np.ones((4, 1)))["loss"])


def test_evaluate_names_the_layer_when_the_network_overflows():
    model = ml.Sequential([ml.Dense(4, "relu", input_dim=2, kernel_initializer="ones"), ml.Dense(1)], seed=0)
    model.compile("sgd", "mse")
    with pytest.raises(FloatingPointError, match=r"Layer 'dense' \(Dense\).*row 1 of x"):
        model.evaluate(np.array([[1.0, 1.0], [3e38, 3e38]]), np.ones((2, 1)))


# -- foreign input at every public entry point --------------------------------------------------------------

GOOD = ml.Sequential([ml.Dense(3, "relu", input_dim=2), ml.Dense(1)]).get_config()


def _config(change):
    config = copy.deepcopy(GOOD)
    change(config)
    return config


@pytest.mark.parametrize("config, error, path", [
    (None, TypeError, r"`config`: expected a dict"),
    ({}, ValueError, r"`config`: the field 'layers' is missing"),
    (_config(lambda c: c.update(layers={"a": 1})), TypeError, r"`config\['layers'\]`: expected a list"),
    (_config(lambda c: c["layers"].append(3)), TypeError, r"`config\['layers'\]\[2\]`: expected a dict"),
    (_config(lambda c: c["layers"][1].pop("class_name")), ValueError, r"`config\['layers'\]\[1\]`.*'class_name'"),
    (_config(lambda c: c["layers"][1].update(class_name=7)), TypeError, r"config\['layers'\]\[1\]\['class_name'\]"),
    (_config(lambda c: c["layers"][1].update(class_name="Conv2D")), ValueError, r"\['class_name'\].*Unknown layer"),
    (_config(lambda c: c["layers"][0].update(config=[3])), TypeError, r"config\['layers'\]\[0\]\['config'\]"),
    (_config(lambda c: c["layers"][0]["config"].update(unit=3)), ValueError, r"\[0\]\['config'\].*unknown.*'unit'"),
    (_config(lambda c: c["layers"][0]["config"].pop("units")), ValueError, r"\[0\]\['config'\].*missing.*'units'"),
    (_config(lambda c: c["layers"][0]["config"].update(units="3")), TypeError, r"config\['layers'\]\[0\].*`units`"),
    (_config(lambda c: c["layers"][0]["config"].update(use_bias="no")), TypeError, r"\[0\].*`use_bias`"),
    (_config(lambda c: c["layers"][0].update(trainable="no")), TypeError, r"\[0\]\['trainable'\]"),
    (_config(lambda c: c.update(seed="x")), TypeError, r"config\['seed'\]"),
    (_config(lambda c: c.update(dtype=3)), TypeError, r"config\['dtype'\]"),
])
def test_from_config_names_the_bad_field(config, error, path):
    with pytest.raises(error, match=path):
        ml.Sequential.from_config(config)


def test_from_config_round_trips_every_layer():
    model = ml.Sequential([ml.Flatten(input_shape=(2, 2)), ml.Dense(3, "relu", use_bias=False), ml.Dropout(0.1),
                           ml.BatchNormalization(), ml.Activation("tanh"), ml.Dense(1)], seed=3)
    model.layers[1].trainable = False
    config = model.get_config()
    assert ml.Sequential.from_config(config).get_config() == config


@pytest.mark.parametrize("labels, message", [
    ([0, 2**40], r"1099511627777 classes.*GiB.*largest label is 1099511627776"),
    (np.array([2**64 - 1], np.uint64), r"labels up to"),
    ([1e30], r"labels up to"),
    ([[0], [1, 2]], r"`y`"),
])
def test_one_hot_refuses_before_allocating(labels, message):
    with pytest.raises((ValueError, TypeError), match=message):
        one_hot(labels)


def test_one_hot_refuses_an_explicit_huge_num_classes():
    with pytest.raises(ValueError, match=r"GiB"):
        one_hot(np.zeros(10**6, int), num_classes=10**4)


@pytest.mark.filterwarnings("ignore:Stochastic Optimizer")
def test_estimator_predict_reports_overflow():
    from mlplab.estimators import MLPRegressor
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2)).astype(np.float32)  # float32 input: the estimator computes in float32
    estimator = MLPRegressor(hidden_layer_sizes=(3,), max_iter=3).fit(X, X[:, 0])
    assert estimator.model_.dtype == np.float32
    with pytest.raises(ValueError, match=r"`X`.*float32's range.*1e\+39"):
        estimator.predict(np.full((2, 2), 1e39))


def test_onnx_export_refuses_weights_beyond_float32(tmp_path):
    pytest.importorskip("onnx")
    model = ml.Sequential([ml.Dense(2, input_dim=2)], dtype="float64")
    model.set_weights([np.full((2, 2), 1e39), np.zeros(2)])
    with pytest.raises(ValueError, match=r"float32's range.*ONNX.*1e\+39"):
        model.export_onnx(tmp_path / "model.onnx")
    assert not (tmp_path / "model.onnx").exists()


# -- a failed call changes nothing: every public method of Sequential ---------------------------------------

def _state(model):
    optimizer = getattr(model, "optimizer", None)
    return {"weights": model.get_weights(), "config": model.get_config(), "built": model.built,
            "rng": copy.deepcopy(model.rng.bit_generator.state), "compiled": model.compiled,
            "optimizer": None if optimizer is None else (type(optimizer), optimizer.get_config(),
                                                        optimizer.get_state()),
            "loss": type(getattr(model, "loss", None)), "n_layers": len(model.layers)}


def _assert_same(before, after):
    assert before.keys() == after.keys()
    for key in before:
        if key == "weights":
            assert len(before[key]) == len(after[key])
            assert all(np.array_equal(a, b) for a, b in zip(before[key], after[key]))
        elif key == "optimizer" and before[key] is not None:
            kind, config, state = before[key]
            assert (kind, config) == after[key][:2]
            assert state.keys() == after[key][2].keys()
            assert all(np.array_equal(state[k], after[key][2][k]) for k in state)
        else:
            assert before[key] == after[key], key


X, Y = np.random.default_rng(1).normal(size=(12, 2)), np.arange(12) % 2

CALLS = {  # method: a call with a bad argument (the model as argument)
    "fit-x": lambda m: m.fit(np.full((12, 2), np.nan), Y, verbose=0),
    "fit-schedule-plateau": lambda m: m.fit(X, Y, validation_split=0.25, verbose=0,
                                            callbacks=[ml.ReduceLROnPlateau()]),  # (compiled with a schedule)
    "fit-callback": lambda m: m.fit(X, Y, verbose=0, callbacks=[ml.EarlyStopping(monitor="val_nope")]),
    "fit-epochs": lambda m: m.fit(X, Y, epochs=math.inf, verbose=0),
    "evaluate": lambda m: m.evaluate(X, np.full(12, 7)),
    "predict": lambda m: m.predict(np.full((2, 2), np.nan)),
    "predict-batch": lambda m: m.predict(X, batch_size=0),
    "compile-optimizer": lambda m: m.compile("nope", "mse"),
    "compile-loss": lambda m: m.compile("sgd", "nope"),
    "compile-metric": lambda m: m.compile("sgd", "mse", metrics=["accuracy", "nope"]),
    "compile-metrics": lambda m: m.compile("adam", "sparse_categorical_crossentropy", metrics="accuracy"),
    "compile_from_config": lambda m: m.compile_from_config({"loss": "mse"}),
    "set_weights-none": lambda m: m.set_weights(None),
    "set_weights-ragged": lambda m: m.set_weights([[[1.0, 2.0], [1.0]]]),
    "add": lambda m: m.add("dense"),
    "add-name": lambda m: m.add(ml.Dense(2, name="dense")),
    "add-initializer": lambda m: m.add(ml.Dense(2, kernel_initializer=lambda s, r, d: None)),
    "build": lambda m: m.build((2, 3)),
    "load_weights": lambda m: m.load_weights("/nonexistent/weights.st"),
    "save": lambda m: m.save("/nonexistent/folder/model.st"),
    "save_weights": lambda m: m.save_weights("/nonexistent/folder/weights.st"),
    "layer_outputs": lambda m: m.layer_outputs(np.full((2, 2), np.inf)),
    "check_input": lambda m: m.check_input([[1.0], [1.0, 2.0]]),
    "output_shapes": lambda m: m.output_shapes((2, 3)),
    "export_onnx": lambda m: m.export_onnx("/nonexistent/folder/model.onnx"),
    "summary": lambda m: m.summary(print_fn="print"),  # a TypeError naming print_fn
}


def _model(built):
    model = ml.Sequential([ml.Dense(3, "relu", input_dim=2 if built else None), ml.Dense(2, "softmax")], seed=0)
    model.compile(ml.Adam(0.01), "sparse_categorical_crossentropy")
    if built:
        model.fit(X, Y, epochs=2, batch_size=4, verbose=0)  # an optimizer with state
    return model


@pytest.mark.parametrize("built", [True, False], ids=["trained", "unbuilt"])
@pytest.mark.parametrize("call", CALLS)
def test_a_failed_call_changes_nothing(call, built):
    if call == "add-initializer" and not built:
        pytest.skip("an unbuilt model builds a new layer later (and checks it then)")
    model = _model(built)
    if call == "fit-schedule-plateau":  # ReduceLROnPlateau refuses a schedule in on_train_begin
        model.compile(ml.SGD(ml.StepDecay(0.1, 2)), "sparse_categorical_crossentropy")
    before = _state(model)
    with pytest.raises((ValueError, TypeError, OSError)):
        CALLS[call](model)
    _assert_same(before, _state(model))


def test_the_calls_cover_every_public_method():
    methods = {name for name, value in vars(ml.Sequential).items()
               if callable(value) and not name.startswith("_") and not isinstance(value, classmethod)}
    covered = {call.split("-")[0] for call in CALLS}
    no_bad_argument = {"forward", "backward", "parameters", "zero_grad", "regularization_loss", "get_weights",
                       "count_params", "count_trainable_params", "get_compile_config", "summary", "get_config",
                       "output_plan", "gradient_norms", "activation_stats"}
    assert methods - no_bad_argument <= covered, methods - no_bad_argument - covered



def _estimator_floats():
    from mlplab.estimators import MLPClassifier, MLPRegressor
    return [pytest.param(cls, name, id=f"{cls.__name__}-{name}") for cls in (MLPClassifier, MLPRegressor)
            for name, p in inspect.signature(cls).parameters.items() if type(p.default) is float]


@pytest.mark.parametrize("value", [math.inf, math.nan])
@pytest.mark.parametrize("cls, name", _estimator_floats())
def test_every_float_estimator_parameter_is_finite(cls, name, value):
    with pytest.raises(ValueError, match=rf"`{name}`.*(finite|in \[)"):
        cls(**{name: value}).check_params()
