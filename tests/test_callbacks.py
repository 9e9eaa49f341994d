"""Callbacks: EarlyStopping (patience, restore_best_weights), NaNGuard, LambdaCallback, ReduceLROnPlateau."""
import os

import numpy as np
import pytest

import mlplab as ml

# A one-weight linear model y = w·x, w starting at 0, trained on y = 2x while validated on y = x:
# w climbs 0 → 2 over the epochs, so val_loss falls until w passes 1 and rises after. The best epoch
# is in the middle and every epoch's weights differ.
X = np.linspace(-1, 1, 20).reshape(-1, 1)
X_VAL = np.linspace(-1, 1, 7).reshape(-1, 1)


def climbing_model(learning_rate=0.3):
    model = ml.Sequential([ml.Dense(1, use_bias=False, kernel_initializer="zeros", input_dim=1)], dtype="float64")
    model.compile(ml.SGD(learning_rate), "mse")
    return model


def fit_recording(model, callbacks, epochs, **kwargs):
    """Fit while a LambdaCallback (run before `callbacks`) records the weights at each epoch end."""
    recorded = []
    recorder = ml.LambdaCallback(on_epoch_end=lambda epoch, logs: recorded.append(model.get_weights()))
    history = model.fit(X, 2 * X, epochs=epochs, batch_size=None, validation_data=(X_VAL, X_VAL),
                        callbacks=[recorder, *callbacks], verbose=0, **kwargs)
    return history, recorded


def constant_loss_model():
    """learning_rate=0: the loss is the same every epoch, so it never improves after epoch 0."""
    model = ml.Sequential([ml.Dense(2, "tanh", input_dim=1), ml.Dense(1)], seed=0)
    model.compile(ml.SGD(learning_rate=0.0), "mse")
    return model


# -- EarlyStopping ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("patience", [0, 1, 3])
def test_early_stopping_stops_after_patience_epochs_without_improvement(patience):
    model = constant_loss_model()
    stopper = ml.EarlyStopping(monitor="loss", patience=patience)
    history = model.fit(X, X, epochs=20, verbose=0, callbacks=[stopper])
    # epoch 0 sets the best; epochs 1..patience do not improve. Keras stops at the first epoch where
    # `patience` epochs have gone by without improvement (at least one).
    expected_epochs = 1 + max(patience, 1)
    assert len(history.history["loss"]) == expected_epochs
    assert stopper.stopped_epoch == expected_epochs - 1 and stopper.best_epoch == 0


def test_early_stopping_waits_while_the_loss_improves():
    model = climbing_model()
    stopper = ml.EarlyStopping(monitor="loss", patience=0)
    history = model.fit(X, 2 * X, epochs=8, batch_size=None, verbose=0, callbacks=[stopper])
    assert len(history.history["loss"]) == 8 and stopper.stopped_epoch is None
    assert history.history["loss"] == sorted(history.history["loss"], reverse=True)


def test_early_stopping_min_delta_counts_small_gains_as_no_improvement():
    model = climbing_model(learning_rate=0.01)  # improves by less than 0.1 per epoch
    history = model.fit(X, 2 * X, epochs=10, batch_size=None, verbose=0,
                        callbacks=[ml.EarlyStopping(monitor="loss", min_delta=0.1, patience=1)])
    assert len(history.history["loss"]) == 2


def test_restore_best_weights_when_stopping_early():
    model = climbing_model()
    stopper = ml.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    history, recorded = fit_recording(model, [stopper], epochs=20)
    val_loss = history.history["val_loss"]
    best = int(np.argmin(val_loss))
    assert 0 < best < len(val_loss) - 1 and stopper.best_epoch == best
    assert len(val_loss) == best + 1 + 2 < 20  # stopped patience epochs after the best one
    assert np.array_equal(model.get_weights()[0], recorded[best][0])
    assert not np.array_equal(model.get_weights()[0], recorded[-1][0])


def test_restore_best_weights_when_epochs_run_out_first():
    model = climbing_model()
    stopper = ml.EarlyStopping(monitor="val_loss", patience=100, restore_best_weights=True)
    history, recorded = fit_recording(model, [stopper], epochs=8)
    val_loss = history.history["val_loss"]
    best = int(np.argmin(val_loss))
    assert len(val_loss) == 8 and stopper.stopped_epoch is None and 0 < best < 7
    assert np.array_equal(model.get_weights()[0], recorded[best][0])
    assert model.evaluate(X_VAL, X_VAL)["loss"] == pytest.approx(val_loss[best], rel=1e-12)


def test_without_restore_best_weights_the_last_weights_stay():
    model = climbing_model()
    _, recorded = fit_recording(model, [ml.EarlyStopping(monitor="val_loss", patience=2)], epochs=20)
    assert np.array_equal(model.get_weights()[0], recorded[-1][0])


def test_early_stopping_mode_max_for_accuracy():
    assert ml.EarlyStopping(monitor="val_accuracy").mode == "max"
    assert ml.EarlyStopping(monitor="val_loss").mode == "min"
    with pytest.raises(ValueError, match="`mode`"):
        ml.EarlyStopping(mode="up")
    with pytest.raises(ValueError, match="`patience`"):
        ml.EarlyStopping(patience=-1)


@pytest.mark.parametrize("callback, fit_kwargs", [
    (ml.EarlyStopping(monitor="val_los"), dict(validation_split=0.25)),
    (ml.EarlyStopping(monitor="val_loss"), {}),  # no validation data, so no val_loss
    (ml.ReduceLROnPlateau(monitor="accuracy"), dict(validation_split=0.25)),  # no accuracy metric compiled
], ids=["typo", "no-validation", "no-metric"])
def test_unknown_monitor_raises_before_training_changes_anything(callback, fit_kwargs, model_snapshot):
    model = ml.Sequential([ml.Dense(3, "tanh", input_dim=1), ml.Dropout(0.5), ml.Dense(1)], seed=0)
    model.compile(ml.Adam(0.1), "mse")
    snapshot = model_snapshot(model, X)
    with pytest.raises(ValueError, match=r"monitor.*'loss'") as info:
        model.fit(X, 2 * X, epochs=3, callbacks=[callback], verbose=0, **fit_kwargs)
    assert repr(callback.monitor) in str(info.value)
    snapshot.assert_unchanged()
    assert model.optimizer.state == {}


# -- NaNGuard ------------------------------------------------------------------------------------------------

def diverging_fit(learning_rate, **kwargs):
    rng = np.random.default_rng(0)
    x = 100 * rng.normal(size=(64, 3))
    y = x @ np.array([1.0, 2.0, 3.0])
    model = ml.Sequential([ml.Dense(4, "relu", input_dim=3), ml.Dense(1)], seed=0)
    model.compile(ml.SGD(learning_rate), "mse")
    # Divergence overflows float32 on the way (NumPy's RuntimeWarnings); the guard is what is under test.
    with np.errstate(over="ignore", invalid="ignore"):
        return model, model.fit(x, y, epochs=5, verbose=0, **kwargs)


@pytest.mark.parametrize("learning_rate, batch_size", [(1.0, 16), (1e36, None)])
def test_nan_guard_stops_a_diverging_fit_with_a_helpful_error(learning_rate, batch_size):
    with pytest.raises(FloatingPointError) as info:
        diverging_fit(learning_rate, batch_size=batch_size)
    message = str(info.value)
    assert "epoch" in message and "batch" in message and "learning rate" in message
    assert f"{learning_rate:g}" in message


def test_nan_guard_restores_the_model_as_it_was_before_fit():
    seen = []
    model = None

    def remember(epoch, logs):
        seen.append(model.get_weights())

    with pytest.raises(FloatingPointError, match=r"epoch 2, batch 1.*restored to its state before fit"):
        # lr=1e36: epoch 1's loss is finite but its update overflows the weights to inf; epoch 2's loss is NaN.
        model = ml.Sequential([ml.Dense(1, input_dim=3)], seed=0)
        model.compile(ml.SGD(1e36), "mse")
        x = 100 * np.random.default_rng(0).normal(size=(64, 3))
        initial = model.get_weights()
        with np.errstate(over="ignore", invalid="ignore"):
            model.fit(x, x @ np.array([1.0, 2.0, 3.0]), epochs=3, batch_size=None, verbose=0,
                      callbacks=[ml.LambdaCallback(on_epoch_end=remember)])
    assert not all(np.isfinite(w).all() for w in seen[0])  # the overflow really happened in epoch 1
    for restored, before in zip(model.get_weights(), initial):
        assert np.isfinite(restored).all() and np.array_equal(restored, before)
    assert model.optimizer.iterations == 0 and model.optimizer.state == {}


def test_nan_guard_catches_an_overflow_in_the_very_last_update():
    model = ml.Sequential([ml.Dense(1, input_dim=3)], seed=0)
    model.compile(ml.SGD(1e36), "mse")
    x = 100 * np.random.default_rng(0).normal(size=(64, 3))
    initial = model.get_weights()
    with pytest.raises(FloatingPointError, match="last update"):
        model.fit(x, x @ np.array([1.0, 2.0, 3.0]), epochs=1, batch_size=None, verbose=0)
    for restored, before in zip(model.get_weights(), initial):
        assert np.array_equal(restored, before)


def test_nan_guard_false_lets_the_loss_become_nan():
    model, history = diverging_fit(1.0, batch_size=16, nan_guard=False)
    assert len(history.history["loss"]) == 5
    assert not np.isfinite(history.history["loss"][-1])


def test_an_explicit_nan_guard_is_not_doubled():
    with pytest.raises(FloatingPointError):
        diverging_fit(1.0, batch_size=16, callbacks=[ml.NaNGuard()])


# -- LambdaCallback -------------------------------------------------------------------------------------------------

def test_lambda_callback_hooks_are_called_with_the_right_epochs_and_batches():
    calls = []
    callback = ml.LambdaCallback(
        on_train_begin=lambda logs: calls.append(("train_begin",)),
        on_epoch_begin=lambda epoch, logs: calls.append(("epoch_begin", epoch)),
        on_batch_end=lambda batch, logs: calls.append(("batch_end", batch, np.isfinite(logs["loss"]))),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, sorted(logs))),
        on_train_end=lambda logs: calls.append(("train_end",)),
    )
    model = climbing_model()
    model.fit(X, 2 * X, epochs=2, batch_size=8, validation_split=0.2, callbacks=[callback], verbose=0)
    keys = ["loss", "val_loss"]
    per_epoch = lambda e: [("epoch_begin", e), ("batch_end", 0, True), ("batch_end", 1, True),
                           ("epoch_end", e, keys)]
    assert calls == [("train_begin",), *per_epoch(0), *per_epoch(1), ("train_end",)]


def test_lambda_callback_rejects_non_callables():
    with pytest.raises(TypeError, match="`on_epoch_end`"):
        ml.LambdaCallback(on_epoch_end=3)


def test_a_callback_can_stop_training():
    model = climbing_model()

    def stop_after_two(epoch, logs):
        model.stop_training = epoch == 1

    history = model.fit(X, 2 * X, epochs=10, callbacks=[ml.LambdaCallback(on_epoch_end=stop_after_two)], verbose=0)
    assert len(history.history["loss"]) == 2


# -- ReduceLROnPlateau ----------------------------------------------------------------------------------------------

def test_reduce_lr_on_plateau_multiplies_the_rate_after_patience_epochs():
    model = ml.Sequential([ml.Dense(2, "tanh", input_dim=1), ml.Dense(1)], seed=0)
    model.compile(ml.SGD(learning_rate=1e-6), "mse")  # the loss changes by far less than min_delta=1e-4
    reducer = ml.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2)
    history = model.fit(X, X, epochs=7, verbose=0, callbacks=[reducer])
    # epoch 0 is the best; epochs 1, 2 wait → reduce at the end of epoch 2; epochs 3, 4 → reduce; 5, 6 → reduce.
    assert model.optimizer.learning_rate == pytest.approx(1e-6 / 8, rel=1e-12, abs=0)
    assert history.history["learning_rate"] == pytest.approx([1e-6] * 3 + [5e-7] * 2 + [2.5e-7] * 2,
                                                             rel=1e-12, abs=0)


def test_reduce_lr_on_plateau_respects_min_lr_and_leaves_an_improving_run_alone():
    model = ml.Sequential([ml.Dense(2, "tanh", input_dim=1), ml.Dense(1)], seed=0)
    model.compile(ml.SGD(learning_rate=1e-12), "mse")
    model.fit(X, X, epochs=10, verbose=0,
              callbacks=[ml.ReduceLROnPlateau(monitor="loss", factor=0.1, patience=0, min_lr=1e-14)])
    assert model.optimizer.learning_rate == 1e-14
    improving = climbing_model()
    improving.fit(X, 2 * X, epochs=6, batch_size=None, verbose=0,
                  callbacks=[ml.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1)])
    assert improving.optimizer.learning_rate == 0.3


def test_reduce_lr_on_plateau_refuses_a_schedule():
    model = climbing_model()
    model.compile(ml.SGD(ml.StepDecay(0.1, step_size=5)), "mse")
    with pytest.raises(ValueError, match="schedule"):
        model.fit(X, X, epochs=2, verbose=0, callbacks=[ml.ReduceLROnPlateau(monitor="loss")])


@pytest.mark.parametrize("kwargs, name", [
    (dict(factor=1.0), "factor"), (dict(factor=0.0), "factor"), (dict(patience=-1), "patience"),
    (dict(cooldown=-1), "cooldown"), (dict(min_lr=-1.0), "min_lr"),
])
def test_reduce_lr_on_plateau_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        ml.ReduceLROnPlateau(**kwargs)


def test_reduce_lr_on_plateau_refuses_a_schedule_before_the_model_is_built(model_snapshot):
    model = ml.Sequential([ml.Dense(2, "tanh"), ml.Dense(1)], seed=0)
    model.compile(ml.SGD(ml.StepDecay(0.1, step_size=5)), "mse")
    rng_state = model.rng.bit_generator.state
    with pytest.raises(ValueError, match="schedule"):
        model.fit(X, X, epochs=2, verbose=0, callbacks=[ml.ReduceLROnPlateau(monitor="loss")])
    assert not model.built and model.rng.bit_generator.state == rng_state


# -- monitors, paths and files are checked before the first update ---------------------------------------

@pytest.mark.parametrize("make", [lambda: ml.EarlyStopping(monitor=None), lambda: ml.ReduceLROnPlateau(monitor=3),
                                  lambda: ml.ModelCheckpoint("m.safetensors", monitor=""),
                                  lambda: ml.EarlyStopping(monitor=["val_loss"])],
                         ids=["early-none", "plateau-int", "checkpoint-empty", "early-list"])
def test_a_monitor_that_is_not_a_name_is_refused_clearly(make):
    with pytest.raises(TypeError, match=r"argument `monitor` of \w+: expected the name of a logged value"):
        make()


def trained_climbing_model():
    model = climbing_model()
    model.fit(X, 2 * X, epochs=1, batch_size=None, verbose=0)
    return model


@pytest.mark.parametrize("name, expect", [
    ("ck-{epoc}.safetensors", r"field \{epoc\}"), ("ck-{val_loss}.safetensors", r"field \{val_loss\}"),
    ("ck-{loss:d}.safetensors", "Unknown format code"), ("ck-{0}.safetensors", r"field \{0\}"),
    ("ck-{}.safetensors", r"field \{\}"), ("ck-{epoch[0]}.safetensors", "not subscriptable"),
    ("ck-{epoch.safetensors", "expected '}'"), ("missing/ck-{epoch}.safetensors", "no folder"),
], ids=["typo", "not-logged", "bad-format", "positional", "empty", "index", "unclosed", "no-folder"])
def test_a_checkpoint_path_that_cannot_be_written_fails_before_the_first_update(tmp_path, model_snapshot, name,
                                                                                 expect):
    model = trained_climbing_model()
    snapshot = model_snapshot(model, X)
    checkpoint = ml.ModelCheckpoint(tmp_path / name)
    with pytest.raises(ValueError, match=r"ModelCheckpoint\(path\).*" + expect):
        model.fit(X, 2 * X, epochs=2, verbose=0, callbacks=[checkpoint])
    snapshot.assert_unchanged()
    assert list(tmp_path.iterdir()) == [] and checkpoint.saved == []


def test_a_checkpoint_of_every_epoch_needs_no_validation_data(tmp_path):
    model = trained_climbing_model()
    checkpoint = ml.ModelCheckpoint(tmp_path / "ck-{epoch}-{loss:.3f}.st")  # monitor="val_loss", never used
    history = model.fit(X, 2 * X, epochs=2, verbose=0, callbacks=[checkpoint])
    assert [os.path.basename(p) for p in checkpoint.saved] == [f"ck-{e + 1}-{loss:.3f}.st" for e, loss in
                                                                enumerate(history.history["loss"])]
    with pytest.raises(ValueError, match="monitor"):  # save_best_only does use it
        model.fit(X, 2 * X, epochs=1, verbose=0, callbacks=[ml.ModelCheckpoint(tmp_path / "b.st", save_best_only=True)])


def test_csv_logger_appends_under_a_matching_header(tmp_path):
    path = tmp_path / "log.csv"
    model = trained_climbing_model()
    model.fit(X, 2 * X, epochs=2, verbose=0, validation_data=(X_VAL, X_VAL), callbacks=[ml.CSVLogger(path)])
    model.fit(X, 2 * X, epochs=1, verbose=0, validation_data=(X_VAL, X_VAL),
              callbacks=[ml.CSVLogger(path, append=True)])
    rows = [line.split(",") for line in path.read_text().splitlines()]
    assert rows[0] == ["epoch", "loss", "val_loss"] and len(rows) == 4 and all(len(row) == 3 for row in rows)


@pytest.mark.parametrize("header", ["epoch,loss", "epoch,loss,val_loss,accuracy", "loss,val_loss,epoch",
                                    "epoch,loss,loss", "\xff\xfe"], ids=["fewer", "more", "order", "twice", "bytes"])
def test_csv_logger_refuses_to_append_under_another_header(tmp_path, model_snapshot, header):
    path = tmp_path / "log.csv"
    path.write_bytes(header.encode("latin-1") + b"\n1,0.5,0.25\n")
    before = path.read_bytes()
    model = trained_climbing_model()
    snapshot = model_snapshot(model, X)
    with pytest.raises(ValueError, match=r"CSVLogger.*log.csv"):
        model.fit(X, 2 * X, epochs=2, verbose=0, validation_data=(X_VAL, X_VAL),
                  callbacks=[ml.CSVLogger(path, append=True)])
    snapshot.assert_unchanged()
    assert path.read_bytes() == before


def test_csv_logger_in_a_missing_folder_fails_before_the_first_update(tmp_path, model_snapshot):
    model = trained_climbing_model()
    snapshot = model_snapshot(model, X)
    with pytest.raises(ValueError, match="no folder"):
        model.fit(X, 2 * X, epochs=2, verbose=0, callbacks=[ml.CSVLogger(tmp_path / "nowhere" / "log.csv")])
    snapshot.assert_unchanged()


def test_csv_logger_appends_with_a_learning_rate_column_from_reduce_lr_on_plateau(tmp_path):
    path = tmp_path / "log.csv"
    model = trained_climbing_model()
    for append in (False, True):
        model.fit(X, 2 * X, epochs=2, verbose=0, callbacks=[
            ml.ReduceLROnPlateau(monitor="loss", patience=5), ml.CSVLogger(path, append=append)])
    rows = [line.split(",") for line in path.read_text().splitlines()]
    assert rows[0] == ["epoch", "loss", "learning_rate"] and len(rows) == 5
