"""Callbacks that write files during `fit`: ModelCheckpoint (model files) and CSVLogger (the history)."""
from __future__ import annotations

import csv
import math
import os

from mlplab.core.checks import check_bool, invalid
from mlplab.core.callbacks import Callback, monitor_mode, check_monitor


class ModelCheckpoint(Callback):
    """Save the model (mlplab.files format, with optimizer state) at the end of every epoch, or only
    when `monitor` improved (save_best_only=True). `path` may name the epoch: "ckpt-{epoch:03d}.safetensors".

    >>> best = ModelCheckpoint("best.safetensors", save_best_only=True)  # doctest: +SKIP
    >>> model.fit(x, y, validation_split=0.2, callbacks=[best])  # doctest: +SKIP
    """

    def __init__(self, path, monitor: str = "val_loss", save_best_only: bool = False, mode: str = "auto"):
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"Invalid type for argument `path`: expected a file path. Received: {path!r}.")
        self.path = os.fspath(path)
        self.monitor = monitor
        self.save_best_only = check_bool("save_best_only", save_best_only)
        self.mode = monitor_mode(monitor, mode)
        self.best = None
        self.saved: list[str] = []  # the files written, in order

    def on_train_begin(self, logs=None):
        if self.save_best_only:  # checking every epoch would fail only later: fail before training
            check_monitor(self, self.params.get("log_keys", []))
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            value = logs.get(self.monitor)
            if value is None or not math.isfinite(value):
                return
            if not (value < self.best if self.mode == "min" else value > self.best):
                return
            self.best = value
        try:
            path = self.path.format(epoch=epoch + 1, **logs)
        except (KeyError, IndexError, ValueError) as err:
            raise invalid("ModelCheckpoint(path)", "a path whose {fields} are epoch or logged values", self.path) \
                from err
        self.model.save(path)
        self.saved.append(path)


class CSVLogger(Callback):
    """Write one CSV row per epoch (epoch, loss, metrics, val_...) to `path`, flushed as it goes,
    so a long run can be watched (or plotted) while it trains. append=True continues an existing file."""

    def __init__(self, path, separator: str = ",", append: bool = False):
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"Invalid type for argument `path`: expected a file path. Received: {path!r}.")
        self.path, self.separator, self.append = os.fspath(path), separator, check_bool("append", append)
        self.file = self.writer = None
        self.keys = None

    def on_train_begin(self, logs=None):
        exists = self.append and os.path.exists(self.path) and os.path.getsize(self.path) > 0
        self.file = open(self.path, "a" if self.append else "w", newline="", encoding="utf-8")
        self.writer = csv.writer(self.file, delimiter=self.separator)
        self.keys = None if not exists else "existing"

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if self.keys is None or self.keys == "existing":
            write_header = self.keys is None
            self.keys = list(logs)
            if write_header:
                self.writer.writerow(["epoch"] + self.keys)
        self.writer.writerow([epoch + 1] + [repr(float(logs[k])) if k in logs else "" for k in self.keys])
        self.file.flush()

    def on_train_end(self, logs=None):
        if self.file is not None:
            self.file.close()
            self.file = None
